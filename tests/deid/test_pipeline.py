"""The documented pipeline runs: ``cancerllm deid notes.jsonl --out clean.jsonl`` then ``pretrain`` and ``sft`` with
``data.train=clean.jsonl`` (tiny random-weight model, a few steps)."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

pytest.importorskip("presidio_analyzer", reason="the deid extra: pip install -e '.[deid]'")

from cancerllm.cli import app
from cancerllm.data.io import write_jsonl
from cancerllm.data.synth.phi import synth_phi_notes

FAST = ["train.precision=fp32", "model.dtype=fp32", "data.max_seq_len=1024", "data.max_examples=4",
        "data.max_dev_examples=2"]


def test_deid_then_pretrain_and_sft(tiny_model_dir, tmp_path):
    notes = synth_phi_notes(8, seed=4)
    src = write_jsonl(notes, tmp_path / "notes.jsonl")
    runner = CliRunner()
    res = runner.invoke(app, ["deid", str(src), "--out", str(tmp_path / "clean.jsonl"), "--seed", "4"])
    assert res.exit_code == 0, res.output
    clean = (tmp_path / "clean.jsonl").read_text()
    assert not any(p["text"] in clean for n in notes for p in n.phi if p["type"] in ("NAME", "MRN", "SSN"))
    res = runner.invoke(app, ["pretrain", "--config", "configs/pretrain/tiny.yaml", f"model.path={tiny_model_dir}",
                              f"data.train={tmp_path / 'clean.jsonl'}", f"out={tmp_path / 'pt'}",
                              "data.max_seq_len=32", "train.max_steps=1", "train.precision=fp32", "model.dtype=fp32"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["sft", "--config", "configs/sft/tiny.yaml", f"model.path={tiny_model_dir}",
                              f"data.train={tmp_path / 'clean.jsonl'}", f"out={tmp_path / 'sft'}", "lora.r=4",
                              "train.max_steps=1", "train.batch_size=2", *FAST])
    assert res.exit_code == 0, res.output
    assert math.isfinite(json.loads((tmp_path / "sft" / "metrics.json").read_text())["train_loss_last"])
