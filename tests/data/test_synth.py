"""Tests for the synthetic note generator: spans, assertions vs cue words, coverage, plausibility, determinism, CLI."""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from pathlib import Path

import pytest
import simple_icd_10_cm as icd
from typer.testing import CliRunner

from cancerllm.data.io import read_notes
from cancerllm.data.synth import split_of, synthesize, write_synth
from cancerllm.data.synth.case import make_case
from cancerllm.data.synth.vocab import (
    FAKE_DOCTORS,
    FAKE_GIVEN,
    FAKE_SURNAMES,
    FAMILY_CUES,
    HISTORICAL_CUES,
    NEGATION_CUES,
    NOTE_KINDS,
    POSSIBLE_CUES,
)
from cancerllm.errors import ConfigError
from cancerllm.knowledge.phenotypes import ASSERTIONS, ENTITY_TYPES
from cancerllm.knowledge.values import normalize_value

# A sentence ends at . ; ! ? followed by whitespace, or at a line break ("2.3 cm" does not end one).
_BOUNDARY = re.compile(r"[.;!?](?=\s)|\n")
_STAGE_TYPES = {"stage_t": "t_stage", "stage_n": "n_stage", "stage_m": "m_stage"}


@pytest.fixture(scope="module")
def notes():
    # One shared corpus: typos and long notes switched on, so every check also covers those paths.
    return synthesize(500, seed=11, typo_rate=0.03, long_rate=0.2)


def _sentence(text: str, start: int, end: int) -> tuple[str, str]:
    """(sentence text before the mention, whole sentence), lowercased."""
    begin = 0
    for m in _BOUNDARY.finditer(text, 0, start):
        begin = m.end()
    stop = _BOUNDARY.search(text, end)
    return text[begin:start].lower(), text[begin:stop.start() if stop else len(text)].lower()


def _has_cue(cues: tuple[str, ...], text: str) -> bool:
    return any(re.search(rf"(?<![a-z]){re.escape(c)}(?![a-z])", text) for c in cues)


def test_synth_every_span_equals_its_text(notes):
    assert len(notes) == 500
    for note in notes:
        note.check_spans()
        for m in note.mentions:
            assert note.text[m.start:m.end] == m.text
            assert m.type in ENTITY_TYPES and m.value
        starts = [m.start for m in note.mentions]
        assert starts == sorted(starts)
        # Gold mentions never overlap, so they convert to BIO tags without loss.
        assert all(a.end <= b.start for a, b in zip(note.mentions, note.mentions[1:], strict=False))


def test_synth_negated_mentions_follow_a_negation_cue(notes):
    negated = [(n, m) for n in notes for m in n.mentions if m.assertion == "negated"]
    assert len(negated) > 50
    for note, m in negated:
        before, _ = _sentence(note.text, m.start, m.end)
        assert _has_cue(NEGATION_CUES, before), (note.id, m.type)


@pytest.mark.parametrize("assertion,cues,where", [
    ("possible", POSSIBLE_CUES, "sentence"), ("historical", HISTORICAL_CUES, "sentence"),
    ("family", FAMILY_CUES, "before")])
def test_synth_assertions_match_their_cue_words(notes, assertion, cues, where):
    found = [(n, m) for n in notes for m in n.mentions if m.assertion == assertion]
    assert len(found) > 20
    for note, m in found:
        before, sentence = _sentence(note.text, m.start, m.end)
        assert _has_cue(cues, before if where == "before" else sentence), (note.id, m.type)


def test_synth_present_mentions_share_no_sentence_with_any_cue(notes):
    all_cues = NEGATION_CUES + POSSIBLE_CUES + HISTORICAL_CUES + FAMILY_CUES
    for note in notes:
        for m in note.mentions:
            if m.assertion == "present":
                _, sentence = _sentence(note.text, m.start, m.end)
                assert not _has_cue(all_cues, sentence), (note.id, m.type)


def test_synth_labels_are_the_present_stage_only(notes):
    leaked_candidates = 0
    for note in notes:
        for etype, key in _STAGE_TYPES.items():
            present = {m.value for m in note.mentions if m.type == etype and m.assertion == "present"}
            assert len(present) <= 1, (note.id, etype)  # one current stage per axis per note
            assert note.labels[key] == (present.pop() if present else None)
        others = [m for m in note.mentions if m.type in _STAGE_TYPES and m.assertion != "present"]
        if others and note.labels["t_stage"] != "T1":
            leaked_candidates += 1  # a historical "pT1a" sits in a note whose label is not T1
    assert leaked_candidates > 5
    assert {n.labels["t_stage"] for n in notes} >= {"T1", "T2", "T3", "T4", None}
    assert {n.labels["n_stage"] for n in notes} >= {"N0", "N1", "N2", "N3"}
    assert {n.labels["m_stage"] for n in notes} >= {"M0", "M1"}


def test_synth_distributions_cover_the_schema(notes):
    types = Counter(m.type for n in notes for m in n.mentions)
    assertions = Counter(m.assertion for n in notes for m in n.mentions)
    assert set(types) == set(ENTITY_TYPES)
    assert set(assertions) == set(ASSERTIONS)
    assert min(types.values()) >= 20
    cancers = Counter(n.cancer_type for n in notes)
    assert len(cancers) >= 17 and min(cancers.values()) >= 5
    assert set(Counter(n.kind for n in notes)) == set(NOTE_KINDS)
    treatments = {m.value.split(":")[0] for n in notes for m in n.mentions if m.type == "treatment"}
    assert treatments >= {"surgery", "chemotherapy", "radiation", "immunotherapy", "targeted", "hormonal"}


def test_synth_diagnosis_codes_are_valid_icd10cm(notes):
    for note in notes:
        assert note.diagnosis is not None and note.diagnosis.cancer_type == note.cancer_type
        assert icd.is_valid_item(note.diagnosis.icd10), note.diagnosis.icd10
    breast = next(n for n in notes if n.cancer_type == "BRCA")
    assert breast.diagnosis.icd10.startswith("C50") and "breast" in breast.diagnosis.text


def test_synth_biomarkers_and_grades_are_plausible_for_the_cancer(notes):
    allowed = {"HER2": {"BRCA", "STAD", "ESCA"}, "PSA": {"PRAD"}, "EGFR": {"LUAD"}, "ALK": {"LUAD"},
               "KRAS": {"LUAD", "COAD", "READ", "PAAD"}, "MSI": {"COAD", "READ", "STAD", "UCEC"},
               "CEA": {"COAD", "READ", "PAAD"}, "CA-125": {"OV"}}
    for note in notes:
        for m in note.mentions:
            if m.assertion != "present":
                continue
            if m.type == "biomarker":
                name = m.value.split(":")[0]
                assert note.cancer_type in allowed.get(name, {note.cancer_type}), (note.cancer_type, m.value)
                if "TPS" in m.value:
                    assert note.cancer_type in ("LUAD", "LUSC")
            if m.type == "grade" and "Gleason" in m.value:
                assert note.cancer_type == "PRAD"
        if note.cancer_type in ("GBM", "DLBC"):
            assert not any(m.type in _STAGE_TYPES and m.assertion == "present" for m in note.mentions)


def test_synth_targeted_treatments_need_their_biomarker():
    gates = {"trastuzumab": ("HER2", "positive"), "osimertinib": ("EGFR", "mutated"),
             "alectinib": ("ALK", "rearranged"), "cetuximab": ("KRAS", "wild-type")}
    seen = 0
    for i in range(3000):
        case = make_case(random.Random(i), i)
        for tx in case.past_tx + case.current_tx:
            gate = gates.get(tx.agent)
            if gate and gate[0] in case.markers:  # cetuximab in head and neck cancer has no KRAS gate
                seen += 1
                assert case.markers[gate[0]][0] == gate[1], (case.cancer.code, tx.agent, case.markers)
        if case.m == 1:
            assert case.mets
        else:
            assert not case.mets
    assert seen > 10


def test_synth_values_agree_with_the_shared_normaliser(notes):
    checked = 0
    for note in notes:
        for m in note.mentions:
            single_size = m.type == "tumor_size" and " x " not in m.text
            if m.type in _STAGE_TYPES or m.type == "laterality" or single_size:
                assert normalize_value(m.type, m.text) == m.value, (m.type, m.text, m.value)
                checked += 1
    assert checked > 500


def test_synth_surface_variety(notes):
    corpus = "\n".join(n.text for n in notes)
    mention_texts = {m.text for n in notes for m in n.mentions}
    assert re.search(r"\b[cp]?T[1-4][a-c]?N[0-3][ab]?M[01]", corpus)  # packed pT2aN1M0
    assert re.search(r"\bT[1-4][a-c]? N[0-3][ab]? c?M[01]\b", corpus)  # separate T2 N0 M0
    for surface in ("ER+", "PR-", "HER2 3+"):
        assert surface in mention_texts
    assert any(t.startswith("PD-L1 TPS") for t in mention_texts)
    assert {"PFS", "OS"} <= {t.split()[0] for t in mention_texts}
    for cue in ("s/p", "r/o", "No evidence of", "cannot be excluded"):
        assert cue in corpus
    sizes = [m.text for n in notes for m in n.mentions if m.type == "tumor_size"]
    assert any(s.endswith(" mm") for s in sizes) and any(s.endswith(" cm") for s in sizes)
    assert re.search(r"^(FINAL DIAGNOSIS|Final Diagnosis|== FINAL DIAGNOSIS ==)", corpus, re.MULTILINE)


def test_synth_same_seed_same_bytes(tmp_path: Path):
    a = write_synth(40, seed=5, out=tmp_path / "a.jsonl", typo_rate=0.05, long_rate=0.3)
    b = write_synth(40, seed=5, out=tmp_path / "b.jsonl", typo_rate=0.05, long_rate=0.3)
    assert a.read_bytes() == b.read_bytes()
    c = write_synth(40, seed=6, out=tmp_path / "c.jsonl", typo_rate=0.05, long_rate=0.3)
    assert c.read_bytes() != a.read_bytes()


def test_synth_typos_only_touch_plain_words():
    clean = synthesize(60, seed=2, typo_rate=0.0)
    noisy = synthesize(60, seed=2, typo_rate=0.2)
    changed = 0
    for a, b in zip(clean, noisy, strict=True):
        key = [(m.type, m.text, m.value, m.assertion) for m in a.mentions]
        assert key == [(m.type, m.text, m.value, m.assertion) for m in b.mentions]
        assert [p["text"] for p in a.phi] == [p["text"] for p in b.phi]
        changed += a.text != b.text
    assert changed > 50


def test_synth_long_rate_controls_note_length():
    assert all(len(n.text) > 8000 for n in synthesize(15, seed=3, long_rate=1.0))
    assert all(len(n.text) < 6000 for n in synthesize(15, seed=3, long_rate=0.0))


def test_synth_patients_and_splits_are_consistent():
    notes = synthesize(400, seed=4)
    by_patient: dict[str, list] = {}
    for n in notes:
        assert re.fullmatch(r"synth-\d{6}", n.id) and re.fullmatch(r"FAKE-PT-\d{5}", n.patient_id)
        assert n.split == split_of(n.patient_id)
        by_patient.setdefault(n.patient_id, []).append(n)
    pairs = [v for v in by_patient.values() if len(v) == 2]
    assert len(pairs) > 20 and all(len(v) <= 2 for v in by_patient.values())
    for a, b in pairs:
        assert a.kind != b.kind and a.diagnosis == b.diagnosis and a.split == b.split
    splits = Counter(split_of(f"FAKE-PT-{i:05d}") for i in range(5000))
    assert 0.76 < splits["train"] / 5000 < 0.84 and 0.07 < splits["dev"] / 5000 < 0.13


def test_synth_fake_identifiers_are_obviously_fake(notes):
    with_phi = [n for n in notes if n.phi]
    assert 0.2 * len(notes) < len(with_phi) < 0.7 * len(notes)
    for note in with_phi:
        for p in note.phi:
            assert note.text[p["start"]:p["end"]] == p["text"]
            if p["type"] == "mrn":
                assert p["text"].startswith("FAKE-")
            if p["type"] == "name":
                assert p["text"] in FAKE_DOCTORS or p["text"].split(",")[0] in FAKE_SURNAMES
        names = [p["text"] for p in note.phi if p["type"] == "name" and "," in p["text"]]
        assert all(x.split(", ")[1] in FAKE_GIVEN for x in names)
    assert not any("FAKE-" in n.text and "MRN" in n.text for n in notes if not n.phi)


@pytest.mark.parametrize("kwargs,flag", [({"n": 0}, "--n"), ({"typo_rate": 1.5}, "--typo-rate"),
                                         ({"long_rate": -0.1}, "--long-rate")])
def test_synth_invalid_arguments_raise_config_error(kwargs, flag):
    args = {"n": 5, "seed": 0, **kwargs}
    with pytest.raises(ConfigError) as err:
        synthesize(**args)
    assert flag in str(err.value) and "expected" in str(err.value)


def test_synth_cli_writes_readable_jsonl(tmp_path: Path):
    from cancerllm.cli import app

    out = tmp_path / "sub" / "synth.jsonl"
    result = CliRunner().invoke(app, ["data", "synth", "--n", "50", "--seed", "1", "--out", str(out),
                                      "--typo-rate", "0.01"])
    assert result.exit_code == 0, result.output
    notes = read_notes(out)
    assert len(notes) == 50 and all(n.mentions and n.diagnosis for n in notes)
    bad = CliRunner().invoke(app, ["data", "synth", "--n", "0", "--out", str(tmp_path / "x.jsonl")])
    assert bad.exit_code == 2 and "--n" in bad.output


def test_synth_thousand_notes_in_a_few_seconds():
    start = time.perf_counter()
    notes = synthesize(1000, seed=0)
    assert len(notes) == 1000
    assert time.perf_counter() - start < 15  # about 1 s here; generous for a shared 2-core machine
