"""``cancerllm batch`` on a local Ray cluster gives exactly ``cancerllm extract``'s records, loses and duplicates
nothing when an actor dies mid-run, and resumes from a partial output by id. (Parquet input, the move-aside of
records made with other settings and the writer's dedup are checked without Ray in test_units.py.)

Real components throughout: a 2-CPU Ray cluster started in this process, the tiny random-weight model with a PEFT
adapter saved as a run folder (as the extract tests do), the real CLI for the single-process reference. The actor
death is real: the test hook ``CANCERLLM_TEST_CRASH_ONCE`` makes one actor ``os._exit`` with a finished batch in
hand, as a kill -9 would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ray
import yaml
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.scale.batch import CRASH_HOOK_ENV
from cancerllm.scale.sink import read_records, shard_files

GEN = ["generate.max_new_tokens=3", "generate.batch_size=2", "window=2"]


def _key(rec: dict) -> str:
    return json.dumps(rec, sort_keys=True)


def _line(i: int) -> str:
    return json.dumps({"id": f"n{i}", "text": f"Report {i}. Invasive carcinoma, pT{i % 4 + 1} N0 M0, grade {i % 3}."})


@pytest.fixture(scope="module")
def cluster():
    """One local 2-CPU cluster for the module (starting Ray costs seconds; each test's actors are its own)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_model_dir):
    """A real run folder: run.json + a LoRA adapter saved by PEFT on the tiny model (as tests/infer does)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    run = tmp_path_factory.mktemp("run")
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(run / "adapter")
    (run / "run.json").write_text(json.dumps({"kind": "sft", "base_model": str(tiny_model_dir),
                                              "prompt_style": "json.v1", "types": ["stage_t"],
                                              "max_prompt_tokens": 600}))
    return run


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_run):
    """A sharded input folder (2 JSONL shards, one with a bad line and an empty note, and a .txt note) and the
    records the single-process `cancerllm extract` writes for it."""
    root = tmp_path_factory.mktemp("ref")
    notes = root / "notes"
    notes.mkdir()
    (notes / "part-0.jsonl").write_text("\n".join([_line(0), _line(1), "{not json", _line(2),
                                                   json.dumps({"id": "empty", "text": " "})]) + "\n")
    (notes / "part-1.jsonl").write_text("\n".join(_line(i) for i in range(3, 8)) + "\n")
    (notes / "late.txt").write_text("Addendum: lymph nodes negative, pN0; margins clear.")
    res = CliRunner().invoke(app, ["extract", str(notes), "--out", str(root / "extract"), "--run", str(tiny_run),
                                   *GEN])
    assert res.exit_code == 0, res.output
    want = [json.loads(x) for x in (root / "extract" / "predictions.jsonl").read_text().splitlines()]
    assert len(want) == 10 and all(len(r["raw"]) == 1 for r in want if r["id"] != "empty")  # really generated
    return notes, want


def _batch(notes: Path, out: Path, run: Path, *extra: str):
    res = CliRunner().invoke(app, ["batch", str(notes), "--out", str(out), "--run", str(run), *GEN, *extra])
    assert res.exit_code == 0, res.output
    return json.loads((out / "summary.json").read_text())


def test_batch_two_actors_one_killed_mid_run_give_the_extract_records(cluster, reference, tiny_run, tmp_path,
                                                                       monkeypatch):
    """The pool's records equal the single-process ones, although one of its two actors dies mid-run (its window
    is retried on the restarted actor; the writer drops nothing and writes nothing twice)."""
    import pyarrow.parquet as pq

    notes, want = reference
    dup = tmp_path / "in"  # the reference input plus an exact repeat of one note: written once (keyed by id)
    dup.mkdir()
    for f in notes.iterdir():
        (dup / f.name).write_text(f.read_text())
    (dup / "part-2.jsonl").write_text(_line(3) + "\n")
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_HOOK_ENV, str(marker))
    out = tmp_path / "out"
    summary = _batch(dup, out, tiny_run, "--workers", "2", "shard_records=4", "--parquet")
    assert marker.exists(), "no actor died: the hook did not fire"
    got = read_records(out)
    assert sorted(map(_key, got)) == sorted(map(_key, want))  # same ids, same content, each once
    assert summary["notes"] == 10 and summary["records"] == 10 and summary["duplicate_ids"] == 1
    assert summary["empty_notes"] == 1 and summary["notes_per_s_per_worker"] > 0
    assert len(summary["input_errors"]) == 1 and "part-0.jsonl:3" in summary["input_errors"][0]
    assert len(shard_files(out)) == 3  # 10 records at 4 per shard
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["workers"] == 2 and cfg["run"] == str(tiny_run) and cfg["generate"]["max_new_tokens"] == 3
    rows = [r for f in sorted(out.glob("predictions-*.parquet")) for r in pq.read_table(f).to_pylist()]
    assert sorted(_key(json.loads(r["record"])) for r in rows) == sorted(map(_key, want))
    assert all(json.loads(r["record"])["id"] == r["id"] for r in rows)


def test_batch_resumes_a_partial_output_by_id(cluster, reference, tiny_run, tmp_path):
    from cancerllm.config import load_config
    from cancerllm.scale.batch import BatchConfig, _prepare_out

    notes, want = reference
    out = tmp_path / "out"
    args = [f"input={notes}", f"out={out}", f"run={tiny_run}", *GEN]
    _prepare_out(load_config(BatchConfig, overrides=args))  # the resume state an interrupted run leaves
    # As after a kill: 4 records on disk, then half a line cut by the kill mid-write.
    lines = [json.dumps(r, ensure_ascii=False) for r in want]
    (out / "predictions-00000.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:20])
    summary = _batch(notes, out, tiny_run)
    assert summary["resumed"] == 4 and summary["notes"] == 6 and summary["records"] == 10
    assert sorted(map(_key, read_records(out))) == sorted(map(_key, want))  # none lost, none twice
    assert len(shard_files(out)) == 2  # the resumed run started a new shard, the old one was only truncated
