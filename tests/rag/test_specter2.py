"""SPECTER2's bottleneck adapter applied with plain transformers: hand-computed layer output, refusals."""

from __future__ import annotations

import json

import pytest
import torch

from cancerllm.rag.specter2 import SUPPORTED_CONFIG, apply_bottleneck_adapter


def write_adapter(folder, hidden=32, bottleneck=2, layers=2, seed=0, zero_up=False, config=None):
    """An adapter folder shaped like allenai/specter2 (adapter_config.json + pytorch_adapter.bin)."""
    g = torch.Generator().manual_seed(seed)
    weights = {}
    for i in range(layers):
        pre = f"bert.encoder.layer.{i}.output.adapters.[PRX]."
        weights[pre + "adapter_down.0.weight"] = torch.randn(bottleneck, hidden, generator=g)
        weights[pre + "adapter_down.0.bias"] = torch.randn(bottleneck, generator=g)
        up = torch.zeros(hidden, bottleneck) if zero_up else torch.randn(hidden, bottleneck, generator=g)
        weights[pre + "adapter_up.weight"] = up
        weights[pre + "adapter_up.bias"] = torch.zeros(hidden) if zero_up else torch.randn(hidden, generator=g)
    weights["heads.[PRX].0.weight"] = torch.randn(3, hidden, generator=g)  # ignored: not an adapter tensor
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(weights, folder / "pytorch_adapter.bin")
    cfg = {"config": {**SUPPORTED_CONFIG, "reduction_factor": hidden // bottleneck, **(config or {})},
           "hidden_size": hidden, "model_class": "BertAdapterModel", "name": "[PRX]"}
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    return weights


def _model(bert_dir):
    from transformers import AutoModel

    return AutoModel.from_pretrained(bert_dir).eval()


def test_specter2_layer_output_hand_computed(bert_dir, tmp_path):
    w = write_adapter(tmp_path / "adapter")
    model = _model(bert_dir)
    out = model.encoder.layer[0].output
    x, inter = torch.randn(1, 5, 32), torch.randn(1, 5, 64)
    with torch.no_grad():
        base = out(inter, x)
        apply_bottleneck_adapter(model, tmp_path / "adapter")
        got = out(inter, x)
        h = out.dense(inter) + x  # dropout is identity in eval
        pre = "bert.encoder.layer.0.output.adapters.[PRX]."
        down = torch.relu(out.LayerNorm(h) @ w[pre + "adapter_down.0.weight"].T + w[pre + "adapter_down.0.bias"])
        want = out.LayerNorm(h + down @ w[pre + "adapter_up.weight"].T + w[pre + "adapter_up.bias"])
    assert torch.allclose(got, want, atol=1e-5)
    assert not torch.allclose(got, base, atol=1e-3)


def test_specter2_zero_adapter_is_identity(bert_dir, tmp_path):
    write_adapter(tmp_path / "adapter", zero_up=True)
    model, plain = _model(bert_dir), _model(bert_dir)
    assert apply_bottleneck_adapter(model, tmp_path / "adapter") == 2
    ids = torch.tensor([[2, 10, 11, 12, 3]])
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).last_hidden_state, plain(input_ids=ids).last_hidden_state,
                              atol=1e-5)


def test_specter2_refuses_other_adapter_shapes(bert_dir, tmp_path):
    from cancerllm.errors import ConfigError, ResourceError

    write_adapter(tmp_path / "houlsby", config={"mh_adapter": True})
    with pytest.raises(ConfigError, match="mh_adapter: got True"):
        apply_bottleneck_adapter(_model(bert_dir), tmp_path / "houlsby")
    write_adapter(tmp_path / "deep", layers=3)
    with pytest.raises(ResourceError, match=r"adapter has layers \[0, 1, 2\], the model has 2"):
        apply_bottleneck_adapter(_model(bert_dir), tmp_path / "deep")
    with pytest.raises(ResourceError, match="no adapter_config.json"):
        apply_bottleneck_adapter(_model(bert_dir), tmp_path)


def test_specter2_preset_changes_embeddings(bert_dir, tmp_path):
    import numpy as np

    from cancerllm.rag.retrievers import RetrievalArgs, make_specter2

    write_adapter(tmp_path / "adapter")
    text = ["ER positive breast carcinoma"]
    with_adapter = make_specter2(RetrievalArgs(model_path=str(bert_dir), adapter_path=str(tmp_path / "adapter")))
    base_only = make_specter2(RetrievalArgs(model_path=str(bert_dir), adapter_path="none"))
    a, b = with_adapter.encoder.encode(text), base_only.encoder.encode(text)
    assert not np.allclose(a, b, atol=1e-3)
    assert with_adapter.encoder_config()["adapter_fingerprint"] and "adapter_path" not in base_only.encoder_config()
    from cancerllm.errors import ConfigError

    with pytest.raises(ConfigError, match="no proximity adapter found"):
        _ = make_specter2(RetrievalArgs(model_path=str(bert_dir))).encoder
