"""Extraction streams, resumes and isolates: nothing is lost after a kill, one bad note costs that note only.

The runs use the real CLI (or ``extract.run``) on the tiny random-weight model; the interruptions are real
(``KeyboardInterrupt`` raised between windows as Ctrl-C would, and SIGKILL of a child process), and the one
out-of-memory is injected in the model's ``generate`` because a real OOM cannot be produced in milliseconds.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import GenerateArgs, ModelArgs
from cancerllm.infer.extract import ExtractConfig, load_predictor, read_done_ids, run

GEN = ["generate.max_new_tokens=3", "generate.batch_size=2", "window=2", "types=[stage_t]"]


def _notes(path: Path, n: int, dup: bool = False) -> Path:
    lines = [json.dumps({"id": f"n{i}", "text": f"Report {i}. Invasive carcinoma, pT{i % 4 + 1} N0 M0."})
             for i in range(n)]
    if dup:  # an id repeated further down: both records must exist once, resumed or not
        lines.insert(n - 2, json.dumps({"id": "n1", "text": "Addendum: margins negative, pT2."}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]


def _key(rec: dict) -> str:
    return json.dumps(rec, sort_keys=True)


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


class _InterruptedAfter:
    """The real predictor, interrupted (as by Ctrl-C or a kill) when asked for its ``windows + 1``-th window."""

    def __init__(self, inner, windows: int):
        self.inner, self.windows, self.calls = inner, windows, 0

    def predict(self, notes, task, **kwargs):
        if self.calls == self.windows:
            raise KeyboardInterrupt
        self.calls += 1
        return self.inner.predict(notes, task, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_extract_limit_below_one_is_rejected_before_loading(tmp_path):
    notes = _notes(tmp_path / "n.jsonl", 3)
    for bad in ("-1", "0"):
        res = _cli("extract", str(notes), "--limit", bad, "model.path=/no/such/model")
        assert res.exit_code == 2, res.output
        assert f"limit: got {bad}, expected a number of notes >= 1" in res.output
        assert "/no/such/model" not in res.output  # refused before any loading
    res = _cli("extract", str(notes), "window=-1", "model.path=/no/such/model")
    assert res.exit_code == 2 and "window: got -1" in res.output


def test_extract_unwritable_out_fails_before_loading(tmp_path):
    notes = _notes(tmp_path / "n.jsonl", 3)
    res = _cli("extract", str(notes), "--out", "/dev/null/x", "model.path=/no/such/model")
    assert res.exit_code == 2, res.output
    assert "--out '/dev/null/x': cannot write the output folder" in res.output
    assert "/no/such/model" not in res.output


def test_extract_interrupted_run_resumes_to_the_same_records(tiny_model_dir, tmp_path, caplog):
    notes = _notes(tmp_path / "n.jsonl", 9, dup=True)
    full = tmp_path / "full"
    assert _cli("extract", str(notes), "--out", str(full), f"model.path={tiny_model_dir}", *GEN).exit_code == 0
    want = _records(full)
    assert len(want) == 10 and [r["id"] for r in want].count("n1") == 2
    assert all(len(r["raw"]) == 1 and not any("failed" in e for e in r["errors"]) for r in want)  # really generated

    part = tmp_path / "part"
    cfg = ExtractConfig(input=str(notes), out=str(part), model=ModelArgs(path=str(tiny_model_dir)),
                        generate=GenerateArgs(max_new_tokens=3, batch_size=2), window=2, types=["stage_t"])
    with pytest.raises(KeyboardInterrupt):
        run(cfg, predictor=_InterruptedAfter(load_predictor(cfg), windows=2))
    written = _records(part)
    assert [r["id"] for r in written] == ["n0", "n1", "n2", "n3"]  # streamed: the finished windows are on disk
    # A kill in the middle of a write leaves a line without its newline: it must be detected and redone.
    with open(part / "predictions.jsonl", "a", encoding="utf-8") as fh:
        fh.write(_key(want[4])[:25])
    with caplog.at_level(logging.WARNING, logger="cancerllm.infer.extract"):
        res = _cli("extract", str(notes), "--out", str(part), f"model.path={tiny_model_dir}", *GEN)
    assert res.exit_code == 0, res.output
    assert "last line was cut off" in caplog.text
    got = _records(part)
    assert sorted(map(_key, got)) == sorted(map(_key, want))  # identical set, no duplicates, none lost
    summary = json.loads((part / "summary.json").read_text())
    assert summary["resumed"] == 4 and summary["notes"] == 6 and summary["records"] == 10
    assert summary["duplicate_ids"] == 1

    # A third run finds everything done: nothing is predicted twice.
    assert _cli("extract", str(notes), "--out", str(part), f"model.path={tiny_model_dir}", *GEN).exit_code == 0
    assert sorted(map(_key, _records(part))) == sorted(map(_key, want))


def test_extract_changed_settings_move_old_records_aside(tiny_model_dir, tmp_path, caplog):
    notes = _notes(tmp_path / "n.jsonl", 3)
    out = tmp_path / "out"
    assert _cli("extract", str(notes), "--out", str(out), f"model.path={tiny_model_dir}", *GEN).exit_code == 0
    with caplog.at_level(logging.WARNING, logger="cancerllm.infer.extract"):
        res = _cli("extract", str(notes), "--out", str(out), f"model.path={tiny_model_dir}", *GEN,
                   "generate.max_new_tokens=5")
    assert res.exit_code == 0, res.output
    assert "moved to predictions.jsonl.prev" in caplog.text and "generate" in caplog.text
    assert len(_records(out)) == 3 and len((out / "predictions.jsonl.prev").read_text().splitlines()) == 3


def test_extract_empty_notes_are_reported_and_never_generated(tiny_model_dir, tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [{"id": "a", "text": "pT2 N0."}, {"id": "e1", "text": ""},
                                                      {"id": "e2", "text": " \n\t "}]) + "\n")
    out = tmp_path / "out"
    res = _cli("extract", str(path), "--out", str(out), f"model.path={tiny_model_dir}", *GEN)
    assert res.exit_code == 0, res.output
    recs = {r["id"]: r for r in _records(out)}
    assert set(recs) == {"a", "e1", "e2"}
    for rid in ("e1", "e2"):
        assert recs[rid]["raw"] == [] and any("empty note" in e for e in recs[rid]["errors"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["empty_notes"] == 2 and summary["generation"]["prompts"] == 1  # only note 'a' was generated


def test_extract_empty_or_unusable_input_exits_nonzero(tiny_model_dir, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    res = _cli("extract", str(empty), "--out", str(tmp_path / "o1"), "model.path=/no/such/model")
    assert res.exit_code == 2 and "holds no notes" in res.output
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b'[1]\n{"id": "x"}\n\xff\n')
    res = _cli("extract", str(broken), "--out", str(tmp_path / "o2"), "model.path=/no/such/model")
    assert res.exit_code == 2 and "holds no usable note: 3 record(s) rejected" in res.output
    summary = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert [re.search(r"broken\.jsonl:(\d+)", e).group(1) for e in summary["input_errors"]] == ["1", "2", "3"]


class _OOMOnLongInputs:
    """Mixin for the real tiny model: ``generate`` runs out of memory on batches longer than ``max_len`` tokens."""

    max_len = 0

    def generate(self, input_ids=None, **kwargs):
        import torch

        if input_ids.shape[1] > self.max_len:
            raise torch.OutOfMemoryError("out of memory (injected for a long batch)")
        return super().generate(input_ids=input_ids, **kwargs)


def test_extract_generation_failure_costs_only_its_note(tiny_model, tiny_tokenizer, tmp_path):
    from cancerllm.infer.predictor import Predictor

    long_text = " ".join(f"Section {i}: invasive carcinoma, pT2 N0." for i in range(12))
    path = tmp_path / "n.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in
                              [("a", "pT2 N0."), ("long", long_text), ("b", "pT3 N1."), ("c", "M0.")]) + "\n")
    gen = GenerateArgs(max_new_tokens=3, batch_size=4, max_prompt_tokens=1024)
    pred = Predictor(tiny_model, tiny_tokenizer, types=["stage_t"], gen=gen)
    short_len = len(tiny_tokenizer(pred._requests(0, _note("x", "pT3 N1."), "phenotype", 900, [])[0].prompt)[
        "input_ids"])
    tiny_model.__class__ = type("OOMLlama", (_OOMOnLongInputs, type(tiny_model)), {"max_len": short_len + 20})
    cfg = ExtractConfig(input=str(path), out=str(tmp_path / "out"), generate=gen, types=["stage_t"])
    summary = run(cfg, predictor=pred)
    recs = {r["id"]: r for r in _records(tmp_path / "out")}
    assert list(recs) == ["a", "long", "b", "c"] and summary["notes"] == 4
    assert any(e.startswith("generation failed: OutOfMemoryError") for e in recs["long"]["errors"])
    for rid in ("a", "b", "c"):  # the others were generated as usual
        assert len(recs[rid]["raw"]) == 1 and not any("generation failed" in e for e in recs[rid]["errors"])


def _note(i, text):
    from cancerllm.data.schema import Note

    return Note(id=i, text=text)


def test_extract_progress_reports_rate_and_eta(tiny_model_dir, tmp_path, caplog):
    notes = _notes(tmp_path / "n.jsonl", 4)
    with caplog.at_level(logging.INFO, logger="cancerllm.infer.extract"):
        res = _cli("extract", str(notes), "--out", str(tmp_path / "out"), f"model.path={tiny_model_dir}", *GEN)
    assert res.exit_code == 0, res.output
    done = [r.message for r in caplog.records if r.message.startswith("done:")]
    assert done and "4 notes written, 4/4 input records read" in done[0] and "notes/s" in done[0]
    first = [r.message for r in caplog.records if r.message.startswith("progress:")]
    assert first and first[0].startswith("progress: 2 notes written") and "ETA" in first[0]  # after window 1


def test_extract_read_done_ids_refuses_a_corrupt_middle_line(tmp_path):
    from cancerllm.errors import ResourceError

    path = tmp_path / "predictions.jsonl"
    path.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(ResourceError, match="predictions.jsonl:2: not a prediction record"):
        read_done_ids(path)
    path.write_text('{"id": "a"}\n{"id": "a"}\n{"id": "b", "ta')
    assert read_done_ids(path) == {"a": 2} and path.read_text() == '{"id": "a"}\n{"id": "a"}\n'


def test_extract_sigkill_mid_run_then_resume_gives_the_uninterrupted_records(tiny_model_dir, tmp_path):
    """A real ``kill -9`` of ``python -m cancerllm extract`` once its first records are on disk."""
    notes = _notes(tmp_path / "n.jsonl", 40)
    args = [str(notes), f"model.path={tiny_model_dir}", "generate.max_new_tokens=3", "generate.batch_size=1",
            "types=[stage_t]"]
    part = tmp_path / "part"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cancerllm", "extract", *args, "--out", str(part)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pred_file, deadline = part / "predictions.jsonl", time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if pred_file.is_file() and pred_file.read_bytes().count(b"\n") >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed: give it more notes"
    killed_at = pred_file.read_bytes().count(b"\n")
    assert 3 <= killed_at < 40
    assert _cli("extract", *args, "--out", str(part)).exit_code == 0
    full = tmp_path / "full"
    assert _cli("extract", *args, "--out", str(full)).exit_code == 0
    want = _records(full)
    assert sorted(map(_key, _records(part))) == sorted(map(_key, want))
    assert len(want) == 40 and all(len(r["raw"]) == 1 and not any("failed" in e for e in r["errors"]) for r in want)


def _tiny_run(tmp_path, tiny_model_dir, budget: int):
    """A real run folder: run.json + a LoRA adapter saved by PEFT on the tiny model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    run = tmp_path / "run"
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    model.save_pretrained(run / "adapter")
    (run / "run.json").write_text(json.dumps({"kind": "sft", "base_model": str(tiny_model_dir),
                                              "prompt_style": "json.v1", "types": ["stage_t"],
                                              "max_prompt_tokens": budget}))
    return run


def test_extract_uses_the_runs_prompt_budget_and_warns_on_override(tiny_model_dir, tmp_path, caplog):
    import logging

    from cancerllm.config import GenerateArgs, ModelArgs
    from cancerllm.infer.extract import ExtractConfig, load_predictor

    run = _tiny_run(tmp_path, tiny_model_dir, budget=200)
    model = ModelArgs(device="cpu")
    with caplog.at_level(logging.WARNING, logger="cancerllm"):
        p = load_predictor(ExtractConfig(input="-", run=str(run), model=model))
    assert p.gen.max_prompt_tokens == 200  # the budget the run was trained with, not a default
    assert not [r for r in caplog.records if "overrides" in r.getMessage()]
    with caplog.at_level(logging.WARNING, logger="cancerllm"):
        p = load_predictor(ExtractConfig(input="-", run=str(run), model=model,
                                         generate=GenerateArgs(max_prompt_tokens=300)))
    assert p.gen.max_prompt_tokens == 300
    assert any("overrides the 200 tokens" in r.getMessage() for r in caplog.records)
    p = load_predictor(ExtractConfig(input="-", model=ModelArgs(path=str(tiny_model_dir), device="cpu")))
    assert p.gen.max_prompt_tokens == 1024  # no run: the documented default


def test_extract_method_scoring_reads_stated_stages_scores_the_rest_and_resumes(tmp_path, tiny_model_dir):
    notes = tmp_path / "n.jsonl"
    texts = {"staged": "Invasive carcinoma, 2.3 cm. Pathologic stage: pT2 pN1a.",
             "bare": "Invasive carcinoma, 2.3 cm, margins clear.", "empty": " "}
    notes.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in texts.items()))
    out = tmp_path / "out"
    args = ["extract", str(notes), "--out", str(out), "--method", "scoring", f"model.path={tiny_model_dir}",
            "model.dtype=fp32", "generate.max_prompt_tokens=512"]
    res = _cli(*args)
    assert res.exit_code == 0, res.output
    recs = {r["id"]: r for r in _records(out)}
    assert set(recs) == set(texts)
    staged = recs["staged"]
    src = staged["meta"]["label_sources"]
    assert staged["labels"] == {"t_stage": "T2", "n_stage": "N1", "m_stage": "M0"}
    assert src["m_stage"]["source"] == "rule"
    for f in ("t_stage", "n_stage"):  # read from the report, pointing at the words
        assert src[f]["source"] == "evidence"
        assert texts["staged"][src[f]["start"]:src[f]["end"]] == src[f]["text"]
    assert sorted(m["value"] for m in staged["mentions"]) == ["N1", "T2"]
    bare = recs["bare"]["meta"]["label_sources"]
    assert {v["source"] for v in bare.values()} == {"inferred"}  # nothing stated: every field scored
    for f, v in bare.items():
        assert recs["bare"]["labels"][f] == max(v["distribution"], key=v["distribution"].get)
        assert sum(v["distribution"].values()) == pytest.approx(1.0, abs=1e-3)
    assert recs["empty"]["errors"] and not recs["empty"]["labels"]  # an empty note costs that note only
    before = (out / "predictions.jsonl").read_text()
    assert _cli(*args).exit_code == 0  # a rerun resumes: nothing redone, nothing duplicated
    assert (out / "predictions.jsonl").read_text() == before
    res = _cli("extract", str(notes), "--method", "scoring", "--task", "trial", f"model.path={tiny_model_dir}")
    assert res.exit_code == 2 and "--method: got 'scoring'" in res.output
    assert any("method: scoring labels T/N/M" in p for p in ExtractConfig(method="scoring", task="diagnosis").validate())
