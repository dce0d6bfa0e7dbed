"""Resume after a torn checkpoint (issue 17 item 5): kill -9 while checkpoint-N is being written, then resume.

The Trainer writes a checkpoint's weights, optimizer, scheduler and RNG state first and ``trainer_state.json`` last,
so a kill mid-write leaves a folder without (or with half of) ``trainer_state.json``. Resuming must pick the newest
*complete* checkpoint, say which one and which it skipped, and never crash on the torn one.
"""

from __future__ import annotations

import json
import logging

import pytest
import torch
from safetensors.torch import load_file

from cancerllm.config import load_config
from cancerllm.train.common import resume_checkpoint
from cancerllm.train.pretrain import PretrainConfig, run

FAST = ["data.max_seq_len=32", "data.max_dev_examples=4", "train.precision=fp32", "model.dtype=fp32",
        "train.logging_steps=1", "train.eval_steps=0", "train.lr=1e-2", "train.max_steps=4", "train.save_steps=2",
        "train.save_total_limit=3", "lora.dropout=0.1"]


def _cfg(tiny_model_dir, tiny_corpus, out, *extra):
    return load_config(PretrainConfig, "configs/pretrain/tiny.yaml",
                       [f"model.path={tiny_model_dir}", f"data.train={tiny_corpus}", f"out={out}", *FAST, *extra])


def _adapter(out):
    return load_file(str(out / "adapter" / "adapter_model.safetensors"))


def test_resume_skips_a_torn_checkpoint_and_continues_from_the_last_complete(tiny_model_dir, tiny_corpus, tmp_path,
                                                                             caplog):
    out = tmp_path / "run"
    full = run(_cfg(tiny_model_dir, tiny_corpus, out))
    expected = _adapter(out)
    # As if killed while writing checkpoint-4: weights and optimizer are there, trainer_state.json is not.
    (out / "checkpoints" / "checkpoint-4" / "trainer_state.json").unlink()
    with caplog.at_level(logging.INFO, logger="cancerllm.train"):
        resumed = run(_cfg(tiny_model_dir, tiny_corpus, out, "train.resume=true"))
    assert "skipping incomplete checkpoint checkpoint-4: no trainer_state.json" in caplog.text
    assert "resuming from" in caplog.text and "checkpoint-2" in caplog.text
    assert resumed.metrics["resumed_from_step"] == 2 and resumed.metrics["steps"] == 4
    got = _adapter(out)  # and the resumed run ends where the uninterrupted one did
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], rtol=1e-5, atol=1e-6, msg=k)
    assert resumed.metrics["train_loss_last"] == pytest.approx(full.metrics["train_loss_last"], rel=1e-5)
    # The new checkpoint-4 is complete again; the torn one was set aside, not mixed into it.
    assert json.loads((out / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4
    assert (out / "checkpoints" / "torn" / "checkpoint-4").is_dir()


def _checkpoint(folder, step, *, state=True, optimizer=True):
    d = folder / f"checkpoint-{step}"
    d.mkdir(parents=True)
    (d / "adapter_model.safetensors").write_bytes(b"x" * 8)
    (d / "scheduler.pt").write_bytes(b"x" * 8)
    if optimizer:
        (d / "optimizer.pt").write_bytes(b"x" * 8)
    if state is True:
        (d / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    elif state:
        (d / "trainer_state.json").write_text(state)
    return d


def test_resume_checkpoint_needs_state_weights_and_optimizer(tmp_path, caplog):
    ckpts = tmp_path / "checkpoints"
    good = _checkpoint(ckpts, 2)
    _checkpoint(ckpts, 4, optimizer=False)
    _checkpoint(ckpts, 6, state='{"global_step": 6, "log_hi')  # cut short mid-write
    _checkpoint(ckpts, 8, state=False)
    with caplog.at_level(logging.INFO, logger="cancerllm.train"):
        assert resume_checkpoint(tmp_path, resume=True) == str(good)
    for step, why in ((8, "no trainer_state.json"), (6, "trainer_state.json is not valid JSON"),
                      (4, "no optimizer.pt")):
        assert f"skipping incomplete checkpoint checkpoint-{step}: {why}" in caplog.text


def test_resume_with_only_torn_checkpoints_starts_from_scratch(tmp_path, caplog):
    _checkpoint(tmp_path / "checkpoints", 2, state=False)
    with caplog.at_level(logging.WARNING, logger="cancerllm.train"):
        assert resume_checkpoint(tmp_path, resume=True) is None
    assert "no complete checkpoint" in caplog.text and "starting from scratch" in caplog.text
