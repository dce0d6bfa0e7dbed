"""Chia criteria -> trial Note: mentions, relations, groups, assertions, criterion chunks; old files still load."""

from __future__ import annotations

import json

import pytest

from cancerllm.data.corpora.chia import criterion_chunks, criterion_lines, load_chia, note_from_record
from cancerllm.data.corpora.convert import convert
from cancerllm.data.io import read_notes, write_jsonl
from cancerllm.data.paths import has_dataset
from cancerllm.data.schema import Mention, Note, Prediction
from cancerllm.errors import ConfigError, DataFormatError

needs_chia = pytest.mark.skipif(not has_dataset("chia"), reason="shared chia data absent")

TEXT = "Patients suspected to have vitamin B12 deficiency\nNo prior chemotherapy within 6 months\n"
REC = {"id": "NCT0_inc", "trial_id": "NCT0", "section": "inclusion", "split": "test", "text": TEXT,
       "criteria": [[0, 49], [50, 87]], "license": "CC-BY-4.0",
       "mentions": [{"type": "Mood", "start": 9, "end": 18, "text": "suspected", "ann_id": "T1"},
                    {"type": "Condition", "start": 27, "end": 49, "text": "vitamin B12 deficiency", "ann_id": "T2"},
                    {"type": "Negation", "start": 50, "end": 52, "text": "No", "ann_id": "T3"},
                    {"type": "Drug", "start": 59, "end": 71, "text": "chemotherapy", "ann_id": "T4",
                     "fragments": [[59, 71]], "fragments_text": "chemotherapy"},
                    {"type": "Temporal", "start": 72, "end": 87, "text": "within 6 months", "ann_id": "T5"}],
       "relations": [{"type": "Has_mood", "head": 1, "tail": 0, "ann_id": "R1"},
                     {"type": "Has_negation", "head": 3, "tail": 2, "ann_id": "R2"},
                     {"type": "Has_temporal", "head": 3, "tail": 4, "ann_id": "R3"}],
       "groups": [{"type": "OR", "members": [1, 3]}], "other_spans": [{"type": "Non-query-able"}]}


def test_record_becomes_trial_note_with_links_and_assertions():
    note = note_from_record(REC)
    note.check_spans()
    assert note.kind == "trial" and note.split == "test" and note.trial_id == "NCT0" and note.section == "inclusion"
    assert [(m.type, m.assertion) for m in note.mentions] == [
        ("Mood", "present"), ("Condition", "possible"), ("Negation", "present"), ("Drug", "negated"),
        ("Temporal", "present")]
    assert [(r.type, r.head, r.tail) for r in note.relations] == [("Has_mood", 1, 0), ("Has_negation", 3, 2),
                                                                   ("Has_temporal", 3, 4)]
    assert note.relations[0].ann_id == "R1"  # extra brat id kept
    assert [(g.type, g.members) for g in note.groups] == [("OR", [1, 3])]
    assert note.fragments == {"3": [[59, 71]]} and note.criteria == [[0, 49], [50, 87]]
    assert not hasattr(note, "other_spans")  # annotator flags are not entities


def test_round_trip_and_old_records_unchanged(tmp_path):
    note = note_from_record(REC)
    path = write_jsonl([note, Note(id="path1", text="pT2 N0", mentions=[Mention(type="stage_t", text="pT2",
                                                                                start=0, end=3)])], tmp_path / "x.jsonl")
    back = read_notes(path)
    assert back[0].model_dump() == note.model_dump()
    old = json.loads(path.read_text().splitlines()[1])
    # A record without links is written exactly as before the trial schema existed: no new keys.
    assert "relations" not in old and "groups" not in old
    assert "relations" not in Prediction(id="p", task="phenotype").model_dump(mode="json")


def test_bad_links_are_reported_by_field_without_text():
    bad = {**REC, "relations": [{"type": "Has_value", "head": 1, "tail": 9}]}
    with pytest.raises(DataFormatError, match="relations\\[0\\]: head/tail must index the 5 mentions") as err:
        note_from_record(bad)
    assert "vitamin" not in str(err.value)
    with pytest.raises(DataFormatError, match="expected one of \\['Has_value'"):
        note_from_record({**REC, "relations": [{"type": "Cures", "head": 1, "tail": 0}]})
    with pytest.raises(DataFormatError, match="mentions\\[1\\]: span \\[27, 40\\)"):
        note_from_record({**REC, "mentions": [REC["mentions"][0], {**REC["mentions"][1], "end": 40}],
                          "relations": [], "groups": []})
    with pytest.raises(ValueError, match="groups\\[0\\]: a member index is outside the 0 mentions"):
        Note(id="x", text="a", groups=[{"type": "OR", "members": [0, 1]}])


def test_criterion_chunks_keep_exact_offsets_and_whole_lines():
    text = "Age >= 18\n\nNo prior chemotherapy within 6 months of enrolment\nECOG 0-1\n"
    lines = criterion_lines(text)
    assert [text[s:e] for s, e in lines] == ["Age >= 18", "No prior chemotherapy within 6 months of enrolment",
                                             "ECOG 0-1"]
    words = lambda s: len(s.split())
    chunks = criterion_chunks(text, None, max_tokens=4, count=words)
    assert all(text[c.start:c.end] == c.text for c in chunks)
    assert all(words(c.text) <= 4 for c in chunks)
    # The long line is split; short lines are never cut.
    assert chunks[0].text == "Age >= 18" and chunks[-1].text == "ECOG 0-1"
    assert len(chunks) > 3 and "".join(c.text for c in chunks[1:-1]) == text[lines[1][0]:lines[1][1]]
    assert criterion_chunks(text, None, max_tokens=100, count=words)[0].text == text.strip()


@needs_chia
def test_convert_test_split_matches_the_data_readme(tmp_path):
    path, n = convert("chia", "test", tmp_path / "test.jsonl")
    notes = read_notes(path)
    assert n == len(notes) == 218
    assert sum(len(x.mentions) for x in notes) == 3858
    assert sum(len(x.relations) for x in notes) == 1853 and sum(len(x.groups) for x in notes) == 482
    with pytest.raises(ConfigError, match="expected one of \\['train', 'dev', 'test', 'all'\\] for chia"):
        load_chia("holdout")
