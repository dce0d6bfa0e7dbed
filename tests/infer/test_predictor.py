"""Inference: one record per note, chunk coverage, batched == unbatched, broken input isolated, CLI output."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import GenerateArgs
from cancerllm.data.schema import Note
from cancerllm.infer.generate import generate
from cancerllm.infer.predictor import EMPTY_NOTE, Predictor

LONG = " ".join(f"Section {i}. Invasive ductal carcinoma, pT2 N0, margins negative." for i in range(40))


def _predictor(model, tok, **gen):
    args = GenerateArgs(max_new_tokens=8, batch_size=4, max_prompt_tokens=gen.pop("max_prompt_tokens", 800), **gen)
    return Predictor(model, tok, types=["stage_t", "stage_n", "stage_m"], gen=args)


def test_predictor_one_record_per_note_with_full_coverage(tiny_model, tiny_tokenizer):
    notes = [Note(id="short", text="pT2 N0 M0."), Note(id="long", text=LONG), Note(id="empty", text="")]
    preds = _predictor(tiny_model, tiny_tokenizer, max_prompt_tokens=700).predict(notes, "phenotype")
    assert [p.id for p in preds] == ["short", "long", "empty"]
    assert preds[2].raw == [] and preds[2].errors == [EMPTY_NOTE]  # reported, never sent to the model
    long = preds[1]
    # The long note is split into several chunks and every character is read (nothing silently cut).
    assert long.coverage["chunks"] > 1
    assert long.coverage["chars_seen"] == long.coverage["chars_total"] == len(LONG)
    for note, p in zip(notes, preds):
        for m in p.mentions:  # whatever a random model emits, kept mentions are grounded
            assert m.inferred or note.text[m.start:m.end] == m.text
        # random weights do not produce valid JSON: that must be reported, not hidden
        if p.raw and not p.mentions:
            assert p.errors


def test_predictor_qa_style_asks_one_question_per_type(tiny_model, tiny_tokenizer):
    pred = Predictor(tiny_model, tiny_tokenizer, style="qa.v1", types=["stage_t", "tumor_size"],
                     gen=GenerateArgs(max_new_tokens=4, max_prompt_tokens=800))
    out = pred.predict([Note(id="a", text="pT2 tumor 2.3 cm.")], "phenotype")
    assert len(out[0].raw) == 2  # one generation per entity type


def test_generate_batched_equals_unbatched(tiny_model, tiny_tokenizer):
    prompts = ["pT2 N0 M0.", "Invasive ductal carcinoma of the left breast, grade 2.", "HER2"]
    one = [generate(tiny_model, tiny_tokenizer, [p], max_new_tokens=6, batch_size=1)[0] for p in prompts]
    batched = generate(tiny_model, tiny_tokenizer, prompts, max_new_tokens=6, batch_size=3)
    assert batched == one


def test_diagnosis_record_validates_icd(tiny_model, tiny_tokenizer):
    preds = _predictor(tiny_model, tiny_tokenizer).predict([Note(id="d", text="Breast carcinoma.")], "diagnosis")
    p = preds[0]
    assert p.task == "diagnosis"
    if p.diagnosis is not None and p.diagnosis.icd10 is not None:
        from cancerllm.knowledge.icd import is_valid

        assert is_valid(p.diagnosis.icd10)
    else:
        assert p.errors  # nothing valid came out, and the record says so


def test_extract_cli_prints_records_and_isolates_a_broken_line(tiny_model_dir, tmp_path):
    notes = tmp_path / "notes.jsonl"
    notes.write_text(json.dumps({"id": "a", "text": "pT2 N0."}) + "\n" + '{"id": "b"}\n'
                     + json.dumps({"id": "c", "text": "Résumé: carcinome, pT3."}) + "\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["extract", str(notes), "--out", str(out), f"model.path={tiny_model_dir}",
                                   "generate.max_new_tokens=4", "types=[stage_t]"])
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in recs] == ["a", "c"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["notes"] == 2 and len(summary["input_errors"]) == 1
    assert "notes.jsonl:2" in summary["input_errors"][0] and "'text'" in summary["input_errors"][0]
    assert (out / "config.yaml").is_file() and (out / "meta.json").is_file()


def test_extract_cli_without_out_prints_json(tiny_model_dir, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("Invasive ductal carcinoma, pT2 N0.")
    res = CliRunner().invoke(app, ["extract", str(note), f"model.path={tiny_model_dir}", "generate.max_new_tokens=4"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout.strip().splitlines()[-1])  # stdout holds only the records
    assert rec["id"] == "note" and rec["task"] == "phenotype"


def test_extract_cli_bad_config_names_the_field(tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("x")
    res = CliRunner().invoke(app, ["extract", str(note), "k=2", "types=[size]"])
    assert res.exit_code == 2
    assert "k: got 2 retrieved examples but no --index" in res.output
    assert "types: got 'size'" in res.output


def test_predictor_lets_cancellation_through_without_retrying(tiny_model, tiny_tokenizer):
    # A server timeout stops generation; the Predictor must not retry note by note nor turn it into records.
    import pytest

    from cancerllm.infer.generate import GenerationCancelled

    calls = []

    class _Cancelled:
        def generate(self, *args, **kwargs):
            calls.append(1)
            raise GenerationCancelled("deadline passed")

    tiny_model.__class__ = type("CancelledLlama", (_Cancelled, type(tiny_model)), {})
    notes = [Note(id=str(i), text="pT2 N0 M0.") for i in range(3)]
    with pytest.raises(GenerationCancelled):
        _predictor(tiny_model, tiny_tokenizer).predict(notes, "phenotype")
    assert len(calls) == 1  # one batch, no per-note retries
