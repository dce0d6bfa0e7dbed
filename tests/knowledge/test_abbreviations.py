"""Tests for the oncology abbreviation table and context-sensitive expansion."""

from __future__ import annotations

import pytest

from cancerllm.data.synth import synthesize
from cancerllm.errors import ResourceError
from cancerllm.knowledge.abbreviations import ABBREVIATIONS, expand, load_table, senses


def test_abbreviations_table_is_large_and_well_formed():
    assert len(ABBREVIATIONS) >= 80
    for abbr, options in ABBREVIATIONS.items():
        assert abbr and options and all(o.text for o in options)
        if len(options) > 1:  # every ambiguous sense beyond the default must be reachable by a hint
            assert all(o.hints for o in options[1:]), abbr
    for key in ("OS", "PFS", "s/p", "r/o", "HER2", "PD-L1", "ER", "PR", "MS"):
        assert key in ABBREVIATIONS


@pytest.mark.parametrize("abbr,context,expected", [
    ("OS", "Median OS 24 months, PFS 11 months.", "overall survival"),
    ("OS", "Lesion of the distal femur; OS suspected, osteoid matrix on x-ray.", "osteosarcoma"),
    ("OS", "Visual acuity 20/40 OS, intraocular pressure normal.", "left eye"),
    ("PR", "ER+/PR-, HER2 1+ by IHC.", "progesterone receptor"),
    ("PR", "Best response PR per RECIST after 4 cycles.", "partial response"),
    ("MS", "Relapsing MS on ocrelizumab, new demyelinating lesions.", "multiple sclerosis"),
    ("MS", "MS 4 mg IV every 4 hours as needed for pain.", "morphine sulfate"),
    ("CR", "Creatinine: CR 1.3 mg/dL, BUN 22.", "creatinine"),
    ("BM", "BM biopsy shows 10% cellularity.", "bone marrow"),
    ("BM", "Three BM on MRI, plan SRS.", "brain metastases"),
])
def test_abbreviations_expand_chooses_sense_by_context(abbr, context, expected):
    assert expand(abbr, context) == expected


def test_abbreviations_default_sense_and_unknown():
    assert expand("OS") == "overall survival"
    assert expand("OS", "no hint words here") == "overall survival"
    assert expand("s/p", "s/p lumpectomy") == "status post"
    assert expand("NOT-AN-ABBR", "anything") is None


def test_abbreviations_case_insensitive_fallback_only_when_unique():
    assert expand("her2") == "human epidermal growth factor receptor 2"
    assert [s.text for s in senses("pfs")] == ["progression-free survival"]
    assert senses("zzz") == []


def test_abbreviations_load_table_reports_bad_rows():
    table = load_table("# comment\nX1\tfirst\t\tgeneral\nX1\tsecond\thint\tgeneral\n")
    assert [s.text for s in table["X1"]] == ["first", "second"]
    with pytest.raises(ResourceError, match="line 2: got 2 tab-separated fields"):
        load_table("OK\tfine\t\tgeneral\nBAD\tonly two\n")


def test_abbreviations_generator_surfaces_expand_to_gold_values():
    # The generator writes "IDC", "HCC", "PR" (response)...: their gold value must be what expand() gives.
    checked = 0
    for note in synthesize(300, seed=9):
        for m in note.mentions:
            if m.type == "histology" and m.text in ABBREVIATIONS:
                assert expand(m.text) == m.value
                checked += 1
            if m.type == "outcome" and m.text in ("CR", "PR", "SD", "PD"):
                sentence = note.text[max(0, m.start - 20):m.end + 20]
                assert m.value == f"response: {expand(m.text, sentence)}"
                checked += 1
    assert checked > 10
