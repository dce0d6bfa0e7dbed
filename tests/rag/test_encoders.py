"""Pooling math against hand computations, and the HF encoder presets on tiny random models."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cancerllm.rag.encoders import HFEncoder, model_fingerprint, pool


def test_encoders_pool_hand_computed():
    h = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 1, 0]])
    assert pool(h, mask, "cls").tolist() == [[1.0, 2.0]]
    assert pool(h, mask, "mean").tolist() == [[3.0, 4.0]]
    # SGPT weights 1,2,3 over the three real tokens: (1*1 + 2*3 + 3*5) / 6 = 22/6, (1*2 + 2*4 + 3*6) / 6 = 28/6
    assert torch.allclose(pool(h, mask, "weightedmean"), torch.tensor([[22 / 6, 28 / 6]]))


def test_encoders_weightedmean_left_padding_matches_right_padding():
    real = torch.randn(1, 3, 4)
    right = torch.cat([real, torch.randn(1, 2, 4)], dim=1)
    left = torch.cat([torch.randn(1, 2, 4), real], dim=1)
    out_r = pool(right, torch.tensor([[1, 1, 1, 0, 0]]), "weightedmean")
    out_l = pool(left, torch.tensor([[0, 0, 1, 1, 1]]), "weightedmean")
    assert torch.allclose(out_r, out_l, atol=1e-6)


def test_encoders_pool_rejects_unknown_mode():
    with pytest.raises(ValueError, match="expected one of"):
        pool(torch.zeros(1, 1, 1), torch.ones(1, 1), "max")


def test_encoders_mean_pooling_matches_model_output(bert_dir):
    from transformers import AutoModel, AutoTokenizer

    enc = HFEncoder(bert_dir, pooling="mean", normalize=False)
    texts = ["pT2 N0 carcinoma", "lung adenocarcinoma of the right upper lobe, EGFR"]
    got = enc.encode(texts)
    tok, model = AutoTokenizer.from_pretrained(bert_dir), AutoModel.from_pretrained(bert_dir).eval()
    for i, t in enumerate(texts):  # unpadded, one at a time: plain mean over all tokens
        with torch.no_grad():
            hidden = model(**tok(t, return_tensors="pt")).last_hidden_state[0]
        np.testing.assert_allclose(got[i], hidden.mean(0).numpy(), atol=1e-5)


def test_encoders_medcpt_uses_separate_query_encoder(bert_dir, bert_dir_b):
    enc = HFEncoder(bert_dir, query_path=bert_dir_b, pooling="cls", max_length=64, query_max_length=8)
    same_doc = HFEncoder(bert_dir_b, pooling="cls")
    text = ["breast carcinoma ER positive"]
    np.testing.assert_allclose(enc.encode(text, role="query"), same_doc.encode(text), atol=1e-5)
    assert not np.allclose(enc.encode(text, role="query"), enc.encode(text, role="doc"))
    assert enc.config()["query_max_length"] == 8


def test_encoders_sgpt_decoder_normalized(tiny_model_dir):
    enc = HFEncoder(tiny_model_dir, pooling="weightedmean", normalize=True)
    vecs = enc.encode(["pT2 N0", "Lung adenocarcinoma, right upper lobe", "x"])
    assert vecs.shape == (3, 64)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # Batched (padded) and single encodings agree: padding is masked out of the weighted mean.
    np.testing.assert_allclose(vecs[1], enc.encode(["Lung adenocarcinoma, right upper lobe"])[0], atol=1e-4)


def test_encoders_fingerprint_tracks_config(bert_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bert_dir, copy)
    assert model_fingerprint(copy) == model_fingerprint(bert_dir)
    cfg = (copy / "config.json").read_text().replace('"hidden_act": "gelu"', '"hidden_act": "relu"')
    (copy / "config.json").write_text(cfg)
    assert model_fingerprint(copy) != model_fingerprint(bert_dir)


def test_encoders_missing_folder_is_resource_error(tmp_path):
    from cancerllm.errors import ResourceError

    with pytest.raises(ResourceError, match="no config.json"):
        HFEncoder(tmp_path / "nope")
