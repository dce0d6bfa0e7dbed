"""Pretraining recipe: packing, corpus reading, the CLI run folder, and the training invariants (STYLE §11)."""

from __future__ import annotations

import json
import math
import re
import shutil

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import load_config
from cancerllm.errors import ConfigError, ResourceError
from cancerllm.train.pretrain import PretrainConfig, pack, read_texts, run

# Tiny and deterministic: fp32 everywhere (bf16 rounding would blur the equivalence checks), no dropout.
FAST = ["data.max_seq_len=32", "data.max_dev_examples=4", "train.precision=fp32", "model.dtype=fp32",
        "train.logging_steps=1", "train.eval_steps=0", "train.lr=1e-2"]


def _cfg(tiny_model_dir, tiny_corpus, out, *extra):
    return load_config(PretrainConfig, "configs/pretrain/tiny.yaml",
                       [f"model.path={tiny_model_dir}", f"data.train={tiny_corpus}", f"out={out}", *FAST, *extra])


def _adapter(out):
    return load_file(str(out / "adapter" / "adapter_model.safetensors"))


def test_pretrain_pack_puts_eos_between_documents_and_counts_the_tail():
    blocks, dropped = pack([[5, 6, 7], [8], [9, 10]], eos_id=0, block=4)
    assert blocks == [[5, 6, 7, 0], [8, 0, 9, 10]] and dropped == 0
    blocks, dropped = pack([[1, 2, 3, 4, 5]], eos_id=0, block=2)
    assert blocks == [[1, 2], [3, 4]] and dropped == 1


def test_pretrain_read_texts_skips_and_names_a_bad_record_keeps_the_rest(tmp_path, caplog):
    import logging

    f = tmp_path / "c.jsonl"
    f.write_text('{"text": "pT2 N0"}\n{"body": "no text field"}\n[1]\n{"text": "pT3 N1"}\n')
    with caplog.at_level(logging.WARNING):
        assert read_texts(str(f), "train", 0, 0)[0] == ["pT2 N0", "pT3 N1"]
    messages = [r.getMessage() for r in caplog.records]
    assert any(re.search(r"c.jsonl:2.*field 'text'", m) for m in messages)
    assert any("c.jsonl:3" in m for m in messages) and any("2 bad record(s)" in m for m in messages)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("Invasive ductal carcinoma.")
    (tmp_path / "d" / "b.JSON").write_text('{"text": "Clear cell renal cell carcinoma."}\n')
    assert read_texts(str(tmp_path / "d"), "train", 0, 0)[0] == ["Invasive ductal carcinoma.",
                                                                  "Clear cell renal cell carcinoma."]
    with pytest.raises(ResourceError, match="holds no text"):
        read_texts(str(_only_bad(tmp_path)), "train", 0, 0)


def _only_bad(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"body": 1}\n')
    return f


def test_pretrain_block_longer_than_corpus_is_a_config_error(tiny_model_dir, tmp_path):
    f = tmp_path / "one.txt"
    f.write_text("pT2")
    cfg = _cfg(tiny_model_dir, f, tmp_path / "run", "data.max_seq_len=64")
    with pytest.raises(ConfigError, match="max_seq_len=64"):
        run(cfg)


def test_pretrain_cli_writes_a_complete_run_folder(tiny_model_dir, tiny_corpus, tmp_path):
    out = tmp_path / "pt"
    result = CliRunner().invoke(app, ["pretrain", "--config", "configs/pretrain/tiny.yaml",
                                      f"model.path={tiny_model_dir}", f"data.train={tiny_corpus}", f"out={out}",
                                      *FAST, "train.max_steps=3", "train.save_steps=2"])
    assert result.exit_code == 0, result.output
    for name in ("adapter/adapter_model.safetensors", "tokenizer/tokenizer.json", "config.yaml", "meta.json",
                 "metrics.json", "run.json"):
        assert (out / name).exists(), name
    assert list(out.glob("checkpoints/checkpoint-*/optimizer.pt"))  # resumable: optimizer state saved
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3 and math.isfinite(metrics["train_loss_last"]) and math.isfinite(metrics["dev_loss"])
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["dev_loss"]))
    assert json.loads((out / "run.json").read_text())["kind"] == "pretrain"
    assert json.loads((out / "meta.json").read_text())["data"][str(tiny_corpus)]  # data hash recorded
    # LoRA B matrices start at zero: any non-zero B proves the adapter was trained and saved.
    lora_b = [t for k, t in _adapter(out).items() if "lora_B" in k]
    assert lora_b and all(t.abs().sum() > 0 for t in lora_b)
    assert not any("lm_head" in k for k in _adapter(out))


def test_pretrain_bad_override_exits_2_with_the_field(tmp_path):
    result = CliRunner().invoke(app, ["pretrain", "train.lr=fast", f"out={tmp_path}"])
    assert result.exit_code == 2 and "train.lr" in result.output


def test_pretrain_grad_accum_equivalence(tiny_model_dir, tiny_corpus, tmp_path):
    """batch 4 x accum 1 and batch 2 x accum 2 see the same blocks per step and must reach the same weights."""
    common = ["train.max_steps=3", "lora.dropout=0", "train.save_steps=100"]
    ra = run(_cfg(tiny_model_dir, tiny_corpus, tmp_path / "a", *common, "train.batch_size=4", "train.grad_accum=1"))
    rb = run(_cfg(tiny_model_dir, tiny_corpus, tmp_path / "b", *common, "train.batch_size=2", "train.grad_accum=2"))
    # Adam hides a constant gradient scale, so also compare the logged losses (a mis-normalised sum would double).
    for (sa, la), (sb, lb) in zip(ra.metrics["train_loss_curve"], rb.metrics["train_loss_curve"], strict=True):
        assert sa == sb and la == pytest.approx(lb, rel=1e-4)
    a, b = _adapter(tmp_path / "a"), _adapter(tmp_path / "b")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


def test_pretrain_resume_equals_uninterrupted(tiny_model_dir, tiny_corpus, tmp_path):
    """Crash after checkpoint 2 of 4, resume: same final adapter as the run that never stopped (dropout on)."""
    out = tmp_path / "run"
    common = ["train.max_steps=4", "train.save_steps=2", "train.save_total_limit=3", "lora.dropout=0.1"]
    full = run(_cfg(tiny_model_dir, tiny_corpus, out, *common))
    expected = _adapter(out)
    shutil.rmtree(out / "adapter")
    shutil.rmtree(out / "checkpoints" / "checkpoint-4")  # as if killed between step 2 and step 4
    resumed = run(_cfg(tiny_model_dir, tiny_corpus, out, *common, "train.resume=true"))
    assert resumed.metrics["resumed_from_step"] == 2 and resumed.metrics["steps"] == 4
    got = _adapter(out)
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], rtol=1e-5, atol=1e-6, msg=k)
    assert resumed.metrics["train_loss_last"] == pytest.approx(full.metrics["train_loss_last"], rel=1e-5)
