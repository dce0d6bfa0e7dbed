"""bench: runs end to end on the tiny model and writes self-describing JSON/markdown (no timing thresholds)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cancerllm.bench.efficiency import BenchConfig, run
from cancerllm.bench.stats import RssSampler, bootstrap_ci, ratio_ci, summarize
from cancerllm.cli import app
from cancerllm.config import load_config
from cancerllm.errors import ConfigError

ROW_KEYS = {"dtype", "threads", "task", "batch_size", "notes", "repeats", "warmup", "calls", "seconds", "latency_ms",
            "per_note_ms", "notes_per_s", "notes_per_s_ci95", "prompts", "prompt_tokens", "new_tokens",
            "prompt_tokens_per_s", "new_tokens_per_s", "generate_fraction", "peak_rss_mib", "notes_with_errors"}
SUMMARY_KEYS = {"n", "mean", "ci95", "p50", "p90", "min", "max"}


def _overrides(tmp_path, model_dir, *extra):
    return [f"model.path={model_dir}", f"out_root={tmp_path}", "n_notes=3", "n_boot=50", *extra]


def test_efficiency_writes_self_describing_json_and_markdown(tmp_path, tiny_model_dir):
    cfg = load_config(BenchConfig, "configs/bench/tiny.yaml", _overrides(tmp_path, tiny_model_dir))
    result = run(cfg)
    out = tmp_path / "tiny"
    saved = json.loads((out / "bench.json").read_text())
    assert {"config.yaml", "bench.json", "bench.md", "meta.json"} <= {p.name for p in out.iterdir()}
    # self-describing: hardware, versions, commit, threads, machine load, resolved config, definitions
    for key in ("hardware", "versions", "commit", "threads", "load_average", "config", "input", "definitions"):
        assert key in saved, key
    assert saved["config"]["batch_sizes"] == [1, 2] and saved["config"]["model"]["path"] == str(tiny_model_dir)
    assert saved["threads"]["intra_op"] == 1 and saved["versions"]["torch"]
    assert saved["input"]["notes"] == 3 and "synthetic" in saved["input"]["input"]
    # one row per dtype x task x batch size, every field filled
    rows = saved["inference"]
    assert [(r["task"], r["batch_size"]) for r in rows] == [("phenotype", 1), ("phenotype", 2), ("diagnosis", 1),
                                                            ("diagnosis", 2)]
    for r in rows:
        assert set(r) == ROW_KEYS
        assert set(r["latency_ms"]) == SUMMARY_KEYS and set(r["per_note_ms"]) == SUMMARY_KEYS
        # 3 notes in calls of 1 -> 3 calls, in calls of 2 -> 2 calls; one repeat
        assert r["calls"] == {1: 3, 2: 2}[r["batch_size"]]
        assert r["latency_ms"]["n"] == r["calls"] and r["prompts"] >= 3
        assert r["latency_ms"]["ci95"][0] <= r["latency_ms"]["mean"] <= r["latency_ms"]["ci95"][1]
        assert r["notes_per_s"] > 0 and r["prompt_tokens"] > 0 and r["peak_rss_mib"] > 0
    assert saved["loads"][0]["dtype"] == "fp32" and saved["loads"][0]["model"]["dtype"] == "float32"
    assert saved["training"] is None
    md = (out / "bench.md").read_text()
    assert md.count("| fp32 | phenotype |") == 2 and "1.00x" in md and "load average" in md
    assert result["summary"]["configurations"] == 4


def test_efficiency_cli_prints_table_and_last_line_json(tmp_path, tiny_model_dir):
    args = ["bench", "--config", "configs/bench/tiny.yaml", *_overrides(tmp_path, tiny_model_dir),
            "tasks=diagnosis", "batch_sizes=[2]", "name=cli"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert any(line.startswith("| fp32 | diagnosis | 2 |") for line in lines)
    summary = json.loads(lines[-1])
    assert summary["name"] == "cli" and summary["best"]["batch_size"] == 2


def test_efficiency_training_mode_reports_throughput(tmp_path, tiny_model_dir):
    cfg = load_config(BenchConfig, "configs/bench/tiny.yaml", _overrides(
        tmp_path, tiny_model_dir, "tasks=diagnosis", "batch_sizes=[1]", "n_notes=1", "train=true", "train_steps=2",
        "train_seq_len=32"))
    tr = run(cfg)["training"]
    assert "error" not in tr, tr
    assert tr["steps"] == 2 and tr["steps_per_s"] > 0 and tr["tokens_per_s"] > 0 and tr["peak_rss_mib"] > 0
    assert "LoRA training throughput" in (tmp_path / "tiny" / "bench.md").read_text()


def test_efficiency_config_problems_reported_together():
    with pytest.raises(ConfigError) as err:
        load_config(BenchConfig, overrides=["dtypes=int8"])
    assert "dtypes[0]: got 'int8', expected one of ['bf16', 'fp32', 'fp16']" in str(err.value)
    with pytest.raises(ConfigError) as err:  # cross-field checks run once every value has the right type
        load_config(BenchConfig, overrides=["batch_sizes=[0, 2]", "repeats=0", "name=a/b"])
    msg = str(err.value)
    assert "batch_sizes" in msg and "repeats: got 0" in msg and "name: got 'a/b'" in msg


def test_stats_intervals_bracket_the_estimate():
    vals = [1.0, 2.0, 3.0, 10.0]
    lo, hi = bootstrap_ci(vals, n_boot=300, seed=3)
    assert lo <= sum(vals) / 4 <= hi and lo < hi
    lo, hi = ratio_ci([1, 1, 1, 1], vals, n_boot=300)
    assert lo <= 4 / sum(vals) <= hi
    s = summarize(vals)
    assert s["p50"] == 2.5 and s["max"] == 10.0
    with RssSampler(interval_s=0.005) as rss:
        blob = bytearray(64 * 2**20)  # 64 MiB touched while sampling
        blob[::4096] = b"x" * len(blob[::4096])
    assert rss.peak_mib - rss.start_mib > 32
