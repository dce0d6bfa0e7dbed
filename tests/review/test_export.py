"""Corrections -> gold notes (what ``cancerllm sft`` reads) and agreement per type; the ``cancerllm review`` CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.data.io import read_notes
from cancerllm.errors import DataFormatError
from cancerllm.review.db import ReviewDB
from cancerllm.review.export import agreement, export_gold, gold_notes
from tests.review.conftest import NOTE, prediction


def _reviewed(path) -> ReviewDB:
    """u1 fully reviewed (accept, span edit, reject, assertion edit, one added, a label fixed); u2 untouched."""
    db = ReviewDB(path)
    rec = prediction().model_dump(mode="json")
    db.load("u1", NOTE, rec)
    db.load("u2", NOTE, prediction("u2").model_dump(mode="json"))
    ms = rec["mentions"]
    start = NOTE.index("pT2")
    db.record_mention("u1", "ana", "accept", 0, ms[0])
    db.record_mention("u1", "ana", "edit", 1, dict(ms[1], text="pT2", end=start + 3))
    db.record_mention("u1", "ana", "reject", 2, None)
    db.record_mention("u1", "bo", "edit", 3, dict(ms[3], assertion="possible"))
    left = NOTE.index("left")
    db.record_mention("u1", "bo", "add", None, {"type": "laterality", "text": "left", "start": left, "end": left + 4,
                                                "assertion": "present", "value": "left", "code": None,
                                                "inferred": False})
    db.record_label("u1", "bo", "edit", "m_stage", "M0")
    return db


def test_export_gold_notes_follow_the_corrections(tmp_path):
    notes, skipped = gold_notes(_reviewed(tmp_path / "r.sqlite"))
    assert skipped == {"no_corrections": 1}  # u2 was never reviewed: not gold
    (u1,) = notes
    assert [(m.type, m.text, m.assertion) for m in u1.mentions] == [
        ("cancer_diagnosis", "invasive ductal carcinoma", "present"), ("laterality", "left", "present"),
        ("stage_t", "pT2", "present"), ("metastasis_site", "distant metastasis", "possible")]
    # m_stage as corrected; t_stage (unreviewed) recomputed from the gold mentions, not copied from the model
    assert u1.labels == {"m_stage": "M0", "t_stage": "T2", "n_stage": None}
    assert u1.review["reviewers"] == ["ana", "bo"] and u1.review["finished"] is True


def test_export_skips_unfinished_reviews_unless_partial(tmp_path):
    db = ReviewDB(tmp_path / "r.sqlite")
    db.load("u1", NOTE, prediction().model_dump(mode="json"))
    db.record_mention("u1", "ana", "reject", 2, None)
    assert gold_notes(db) == ([], {"unreviewed_mentions": 1})
    (partial,), _ = gold_notes(db, include_partial=True)
    assert len(partial.mentions) == 3 and partial.review["finished"] is False
    with pytest.raises(DataFormatError, match="unreviewed_mentions"):
        export_gold(db.path, tmp_path / "gold.jsonl")


def test_agreement_counts_per_type_and_label(tmp_path):
    report = agreement(_reviewed(tmp_path / "r.sqlite"))
    t = report["types"]
    assert (t["cancer_diagnosis"]["accepted"], t["cancer_diagnosis"]["agreement"]) == (1, 1.0)
    assert (t["stage_t"]["edited"], t["stage_t"]["edited_fields"], t["stage_t"]["agreement"]) == (1, {"span": 1}, 0.0)
    assert t["metastasis_site"]["edited_fields"] == {"assertion": 1}
    assert (t["histology"]["rejected"], t["laterality"]["missed"]) == (1, 1)
    assert report["overall"]["accepted"] == 1 and report["overall"]["unreviewed"] == 4  # u2's four
    assert report["overall"]["agreement"] == 0.25
    assert report["labels"]["m_stage"]["edited"] == 1 and report["notes"] == 2


def test_review_cli_load_export_agreement_and_sft_reads_the_export(tmp_path):
    from cancerllm.data.io import write_jsonl

    notes = write_jsonl([{"id": "u1", "text": NOTE}], tmp_path / "notes.jsonl")
    preds = write_jsonl([prediction()], tmp_path / "predictions.jsonl")
    db = tmp_path / "r.sqlite"
    runner = CliRunner()
    res = runner.invoke(app, ["review", "load", "--db", str(db), "--notes", str(notes), "--predictions", str(preds)])
    assert res.exit_code == 0 and "loaded 1 note(s)" in res.output, res.output
    store = ReviewDB(db)
    for i in range(4):
        store.record_mention("u1", "ana", "accept", i, store.note("u1")["mentions"][i]["current"])
    out = tmp_path / "gold.jsonl"
    res = runner.invoke(app, ["review", "export", "--db", str(db), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["notes"] == 1
    (gold,) = read_notes(out)  # the reader sft uses: spans checked against the text
    assert len(gold.mentions) == 4
    res = runner.invoke(app, ["review", "agreement", "--db", str(db), "--out", str(tmp_path / "a.json")])
    assert res.exit_code == 0 and json.loads(res.output.strip().splitlines()[-1])["overall"]["agreement"] == 1.0
    assert "stage_t" in res.output and not any(w in res.output for w in ("invasive", "ductal carcinoma"))
    res = runner.invoke(app, ["review", "export", "--db", str(tmp_path / "empty.sqlite"), "--out", str(out)])
    assert res.exit_code == 2 and "error E200" in res.output
