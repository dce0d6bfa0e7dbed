"""The review database: versioned migrations, persistence across reopen, conflicts, and an audit trail without text."""

from __future__ import annotations

import json
import sqlite3

import pytest

from cancerllm.errors import ResourceError
from cancerllm.review.corrections import ReviewProblem
from cancerllm.review.db import MIGRATIONS, ReviewDB, migrate


def _windows(text: str, n: int = 12) -> set[str]:
    # 12 characters: longer than any schema word the trail holds legitimately ("metastasis_site" shares 10)
    return {text[i:i + n] for i in range(len(text) - n + 1)}


def test_db_migrate_is_idempotent_and_recorded(tmp_path):
    path = tmp_path / "r.sqlite"
    assert migrate(path) == [v for v, _ in MIGRATIONS]
    assert migrate(path) == [] and migrate(path) == []
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT version FROM schema_version").fetchall()
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert rows == [(MIGRATIONS[-1][0],)]
    assert {"notes", "predictions", "mentions", "labels", "corrections", "schema_version"} <= tables


def test_db_refuses_a_newer_schema_and_a_file_that_is_not_sqlite(tmp_path):
    path = tmp_path / "r.sqlite"
    migrate(path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'later')")
    with pytest.raises(ResourceError, match="schema version 99 is newer"):
        ReviewDB(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all, just bytes" * 10)
    with pytest.raises(ResourceError, match="junk.sqlite"):
        ReviewDB(junk)


def test_db_corrections_survive_reopening_the_file(tmp_path, note_text, record):
    path = tmp_path / "r.sqlite"
    db = ReviewDB(path)
    db.load("u1", note_text, record.model_dump(mode="json"))
    start = note_text.index("pT2")
    fixed = dict(record.mentions[1].model_dump(), text="pT2", end=start + 3)
    db.record_mention("u1", "ana", "edit", 1, fixed)
    db.record_mention("u1", "ana", "reject", 2, None)
    db.record_label("u1", "ben", "edit", "m_stage", "M0")
    del db

    again = ReviewDB(path).note("u1")  # a new instance, as after a server restart
    assert again["text"] == note_text
    assert [m["status"] for m in again["mentions"]] == ["unreviewed", "edited", "rejected", "unreviewed"]
    assert again["mentions"][1]["current"]["text"] == "pT2" and again["mentions"][1]["model"]["text"] == "pT2 N0"
    assert {lab["name"]: (lab["value"], lab["status"]) for lab in again["labels"]}["m_stage"] == ("M0", "edited")
    assert [(c["reviewer"], c["action"], c["target"]) for c in again["corrections"]] == \
        [("ana", "edit", "mention"), ("ana", "reject", "mention"), ("ben", "edit", "label")]
    assert all(c["at"].endswith("+00:00") for c in again["corrections"])


def test_db_audit_trail_carries_no_note_text_unless_turned_on(tmp_path, note_text, record):
    for audit_text in (False, True):
        db = ReviewDB(tmp_path / f"r{audit_text}.sqlite", audit_text=audit_text)
        db.load("u1", note_text, record.model_dump(mode="json"))
        db.record_mention("u1", "ana", "accept", 0, record.mentions[0].model_dump())
        db.record_mention("u1", "ana", "edit", 3, dict(record.mentions[3].model_dump(), value="distant metastasis"))
        with sqlite3.connect(db.path) as conn:
            trail = json.dumps(conn.execute("SELECT * FROM corrections").fetchall(), ensure_ascii=False)
        leaked = {w for w in _windows(note_text) if w in trail}
        if audit_text:
            assert "invasive ductal carcinoma" in trail  # the user asked for it
        else:
            assert not leaked, "the audit trail quotes the note"
            before = db.corrections("u1")[1]["before"]
            assert before["start"] == record.mentions[3].start and "text" not in before and "value" not in before


def test_db_load_again_conflicts_unless_replace(tmp_path, note_text, record):
    db = ReviewDB(tmp_path / "r.sqlite")
    payload = record.model_dump(mode="json")
    db.load("u1", note_text, payload)
    db.load("u1", note_text, payload)  # same text, nothing corrected yet: the prediction is simply replaced
    with pytest.raises(ReviewProblem) as err:
        db.load("u1", note_text + " more", payload)
    assert err.value.status == 409 and err.value.problems[0]["field"] == "note.id"
    db.record_mention("u1", "ana", "reject", 2, None)
    with pytest.raises(ReviewProblem, match="1 correction"):
        db.load("u1", note_text, payload)
    db.load("u1", note_text, payload, replace=True)
    assert db.corrections("u1") == [] and db.note_ids() == ["u1"]


def test_db_a_later_migration_upgrades_an_existing_file_and_keeps_its_rows(tmp_path, monkeypatch, note_text, record):
    import cancerllm.review.db as dbmod

    path = tmp_path / "r.sqlite"
    ReviewDB(path).load("u1", note_text, record.model_dump(mode="json"))
    monkeypatch.setattr(dbmod, "MIGRATIONS", [*MIGRATIONS, (2, "ALTER TABLE notes ADD COLUMN source TEXT;")])
    assert migrate(path) == [2] and migrate(path) == []
    db = ReviewDB(path)
    assert db.version() == 2 and db.note("u1")["text"] == note_text
    with sqlite3.connect(path) as conn:
        assert "source" in [r[1] for r in conn.execute("PRAGMA table_info(notes)")]
