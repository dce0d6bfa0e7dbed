"""NOTE_NLP rows: one per mention, term_exists from the assertion, offsets, snippets only when asked, CSV/Parquet."""

from __future__ import annotations

import csv
import datetime as dt

import pyarrow.parquet as pq
import pytest

from cancerllm.data.schema import Mention
from cancerllm.interop.omop import COLUMNS, note_id_int, note_nlp_rows, write_note_nlp
from cancerllm.interop.records import ExportRecord, LabelSource
from tests.interop._shared import NOTE, SENTINEL, mention, note_mentions

WHEN = dt.datetime(2026, 11, 30, 12, 0, 0)


def _rows(**kw):
    rec = ExportRecord(id="n1", text=NOTE, mentions=note_mentions(), labels={"m_stage": "M0"},
                       sources={"m_stage": LabelSource("inferred", 0.87)}, systems=["cancerllm extract json.v1"])
    return rec, note_nlp_rows([rec], nlp_datetime=WHEN, **kw)


def test_omop_one_row_per_mention_with_offsets_and_term_exists():
    rec, rows = _rows()
    assert len(rows) == len(rec.mentions) + 1  # + the inferred M label
    assert [r["note_nlp_id"] for r in rows] == list(range(1, len(rows) + 1))
    for m, row in zip(rec.mentions, rows, strict=False):
        s, e = map(int, row["offset"].split("-"))
        assert NOTE[s:e] == m.text == row["lexical_variant"]
        assert row["term_exists"] == {"present": "Y", "negated": "N", "family": "N"}[m.assertion]
        assert f"assertion={m.assertion}" in row["term_modifiers"] and f"type={m.type}" in row["term_modifiers"]
        assert row["note_id"] == note_id_int("n1") and row["note_nlp_concept_id"] == 0
        assert row["nlp_date"] == WHEN.date() and "cancerllm extract json.v1" in row["nlp_system"]
    her2 = rows[4]
    assert her2["term_exists"] == "N" and "Negation=true" in her2["term_modifiers"]
    assert "Subject=family" in rows[9]["term_modifiers"]
    inferred = rows[-1]
    assert inferred["offset"] == "" and inferred["lexical_variant"] == "M0" and inferred["term_exists"] == "Y"
    assert "inferred=true" in inferred["term_modifiers"] and "probability=0.87" in inferred["term_modifiers"]


@pytest.mark.parametrize("assertion, exists, temporal", [
    ("present", "Y", "present"), ("historical", "Y", "past"), ("negated", "N", "present"),
    ("possible", "N", "present"), ("family", "N", "present"),
])
def test_omop_term_exists_and_temporal_follow_the_assertion(assertion, exists, temporal):
    rec = ExportRecord(id="9", mentions=[mention("pT2", "pT2", "stage_t", value="T2", assertion=assertion)])
    (row,) = note_nlp_rows([rec], nlp_datetime=WHEN)
    assert (row["term_exists"], row["term_temporal"], row["note_id"]) == (exists, temporal, 9)


def test_omop_snippet_only_when_asked():
    _, rows = _rows()
    assert all(r["snippet"] == "" for r in rows)
    assert not any(SENTINEL in str(v) for r in rows for v in r.values())
    _, with_text = _rows(include_text=True)
    assert all(r["lexical_variant"] in r["snippet"] for r in with_text if r["offset"])
    assert all(len(r["snippet"]) <= 250 for r in with_text)


def test_omop_inferred_mention_has_no_offset():
    rec = ExportRecord(id="n", mentions=[Mention(type="stage_m", text="M1", value="M1", inferred=True)])
    (row,) = note_nlp_rows([rec], nlp_datetime=WHEN)
    assert row["offset"] == "" and "inferred=true" in row["term_modifiers"]


def test_omop_csv_and_parquet_hold_the_same_table(tmp_path):
    rec, rows = _rows()
    write_note_nlp(rows, tmp_path / "nn.csv", [rec])
    write_note_nlp(rows, tmp_path / "nn.parquet", [rec])
    with open(tmp_path / "nn.csv", encoding="utf-8", newline="") as fh:
        from_csv = list(csv.DictReader(fh))
    table = pq.read_table(tmp_path / "nn.parquet").to_pylist()
    assert list(from_csv[0]) == list(COLUMNS) == pq.read_schema(tmp_path / "nn.parquet").names
    assert len(from_csv) == len(table) == len(rows)
    for c, p in zip(from_csv, table, strict=True):
        assert c["offset"] == p["offset"] and c["term_modifiers"] == p["term_modifiers"]
        assert int(c["note_id"]) == p["note_id"] and p["nlp_date"] == WHEN.date()
    with open(tmp_path / "nn.csv.note_ids.csv", encoding="utf-8") as fh:  # the string id can be joined back
        assert list(csv.reader(fh))[1] == [str(note_id_int("n1")), "n1"]
