"""find_tnm / read_value: explicit TNM statements in OCR'd pathology text, exact spans, values from one token."""

from __future__ import annotations

import pytest

from cancerllm.errors import ConfigError
from cancerllm.knowledge.tnm import find_tnm, gold_class, read_match, read_value
from cancerllm.knowledge.values import coarse_stage, normalize_value


def _surface(text: str) -> list[tuple[str, str, str]]:
    return [(t, text[s:e], v) for t, s, e, v in find_tnm(text)]


@pytest.mark.parametrize("text, expected", [
    ("pT2a pN1a pM1b", [("stage_t", "pT2a", "T2"), ("stage_n", "pN1a", "N1"), ("stage_m", "pM1b", "M1")]),
    ("ypT3 ypN0", [("stage_t", "ypT3", "T3"), ("stage_n", "ypN0", "N0")]),
    ("Pathologic stage T2 N0 M0.", [("stage_t", "T2", "T2"), ("stage_n", "N0", "N0"), ("stage_m", "M0", "M0")]),
    ("AJCC STAGE: T2N2MX.", [("stage_t", "T2", "T2"), ("stage_n", "N2", "N2"), ("stage_m", "MX", "MX")]),
    ("Final: pT2N1M0.", [("stage_t", "pT2", "T2"), ("stage_n", "N1", "N1"), ("stage_m", "M0", "M0")]),
    ("pT1b pN0 (sn)", [("stage_t", "pT1b", "T1"), ("stage_n", "pN0", "N0")]),
    ("pNX: not assessed", [("stage_n", "pNX", "NX")]),
    ("pTis", [("stage_t", "pTis", "Tis")]),
    ("pT1mi pN1mi", [("stage_t", "pT1mi", "T1"), ("stage_n", "pN1mi", "N1")]),
])
def test_tnm_finds_standard_forms(text, expected):
    assert _surface(text) == expected


@pytest.mark.parametrize("text, expected", [
    # OCR reads the digit zero as the letter O, and 1 as l / I, in packed and spaced forms.
    ("PATHOLOGIC STAGE: pT2a NO MX.", [("stage_t", "pT2a", "T2"), ("stage_n", "NO", "N0"),
                                      ("stage_m", "MX", "MX")]),
    ("pTNM: pT1c, pNo(sn), Mx.", [("stage_t", "pT1c", "T1"), ("stage_n", "pNo", "N0"), ("stage_m", "Mx", "MX")]),
    ("G III, pT4b(mult)N3aL1V0R0.", [("stage_t", "pT4b", "T4"), ("stage_n", "N3a", "N3")]),
    ("NOS, G III, pT1Nla(sn)LOVORO.", [("stage_t", "pT1", "T1"), ("stage_n", "Nla", "N1")]),
    ("[AJCCpT1cNxMx]", [("stage_t", "pT1c", "T1"), ("stage_n", "Nx", "NX"), ("stage_m", "Mx", "MX")]),
    ("Pathological staging (pTN): pT 2 N 0.", [("stage_t", "pT 2", "T2"), ("stage_n", "N 0", "N0")]),
    ("PTNM STAGE: PT2c,NO.", [("stage_t", "PT2c", "T2"), ("stage_n", "NO", "N0")]),
    ("staging (pTNM): pT3a. pNO. Number of nodes", [("stage_t", "pT3a", "T3"), ("stage_n", "pNO", "N0")]),
    ("TUMOR STAGE: pTla, pNO, pMX.", [("stage_t", "pTla", "T1"), ("stage_n", "pNO", "N0"),
                                      ("stage_m", "pMX", "MX")]),
])
def test_tnm_handles_ocr_variants(text, expected):
    assert _surface(text) == expected


@pytest.mark.parametrize("text", [
    "Axial T2-weighted and T1 weighted MRI images show a mass.",
    "pT without a category; the pN category is pending.",
    "TSH 2.1, free T4 normal, T3 uptake low.",
    "Compression fracture of T12 and L1 vertebrae.",
    "Ten peribronchial (N1) lymph nodes and 3 N2 lymph nodes are negative.",
    "Cassettes N4-N6 and block N1 submitted. Slab M30.",
    "NO TUMOR SEEN. TO BE CORRELATED. NOT EVIDENT. MOST SECTIONS.",
    "REARRANGEMENT IS NOT EVIDENT.",
    "SEE SYNOPTIC REPORT.",
    "Perineural invasion ([PNI]) present. PNI: yes.",
    "T1- mg, T2- mg. N1-191mg, N2- mg.",
    "CD4 T cells; M2 macrophages; N-terminal.",
])
def test_tnm_rejects_non_staging(text):
    assert find_tnm(text) == []


def test_tnm_drops_template_legends_but_keeps_selection():
    # A printed option list is not the answer; the selected value before it is.
    text = ("Pathologic Stage (TNM): pT2 pN1. Regional Lymph Nodes (pN). pNX: Cannot be assessed. "
            "pN0: No regional lymph node metastasis. pN1: Metastasis in 1 node. pM1: Distant metastasis.")
    assert _surface(text) == [("stage_t", "pT2", "T2"), ("stage_n", "pN1", "N1")]


def test_tnm_spans_are_exact_and_unicode_safe():
    text = "Diagnóstico — PATHOLÓGIC STAGE: pT3 N1 M0 ✓"
    found = find_tnm(text)
    assert [text[s:e] for _, s, e, _ in found] == ["pT3", "N1", "M0"]


def test_tnm_gold_class_maps_to_label_space():
    assert [gold_class(v) for v in ("T1", "T4", "TX", "Tis", "T0", "N0", "N3", "NX", "M0", "M1", "MX", None)] == \
        ["T1", "T4", None, None, None, "N0", "N3", None, "M0", "M1", None, None]


@pytest.mark.parametrize("text, expected", [
    # OCR capital P prefix, l read for 1, Q and O read for 0: the forms that used to survive the hard split.
    ("Final: PT4 pNQ.", [("stage_t", "PT4", "T4"), ("stage_n", "pNQ", "N0")]),
    ("TUMOR: pTla pNla", [("stage_t", "pTla", "T1"), ("stage_n", "pNla", "N1")]),
    ("pT2, pNO, pMO", [("stage_t", "pT2", "T2"), ("stage_n", "pNO", "N0"), ("stage_m", "pMO", "M0")]),
])
def test_tnm_finds_ocr_prefix_and_digit_variants(text, expected):
    assert _surface(text) == expected


def test_tnm_match_carries_prefix_axis_and_class():
    # The baseline prefers pathologic tokens and the TCGA loader skips clinical ones: both read these fields.
    found = find_tnm("ypT3a cN1 PT4 (pTNM): N 0")
    assert [(m.prefix, m.axis, m.cls, m.pathologic) for m in found] == [
        ("yp", "T", "T3", True), ("c", "N", "N1", False), ("P", "T", "T4", True), ("", "N", "N0", False)]
    assert found[0] == ("stage_t", 0, 5, "T3")  # still the 4-tuple older callers unpack


@pytest.mark.parametrize("kind, span, expected", [
    # The value comes from the token the guard accepts, never from a lower-case "t 3" / "n 2" elsewhere in the span.
    ("stage_t", "at 3 o'clock, pT2", "T2"),
    ("stage_n", "in 2 of 14 nodes (pN1)", "N1"),
    ("stage_m", "from 1 site, cM0", "M0"),
    ("stage_n", "NOT", None),
    ("stage_t", "Stage T", None),
    ("stage_t", "pt2a", "T2"),  # a whole span that is one lower-case token is still a token
])
def test_tnm_read_value_comes_from_the_guarded_token(kind, span, expected):
    assert coarse_stage(kind, span) == expected
    assert normalize_value(kind, span) == expected


def test_tnm_read_value_uses_the_note_for_ocr_zero():
    # "NO" alone is the English word; after "pT2a" in the note it is the OCR'd N0 the note states.
    note = "NO TUMOR SEEN IN MARGINS. STAGE: pT2a NO MX."
    assert read_value("NO", "stage_n") is None
    assert read_value("NO", "stage_n", context=note, offset=note.index("NO MX")) == "N0"
    assert read_value("NO", "stage_n", context=note, offset=0) is None
    assert read_match("pT2a NO", "N", context=note, offset=note.index("pT2a")).start == 5


def test_tnm_read_value_rejects_unknown_category():
    with pytest.raises(ConfigError, match="TNM category: got 'G'"):
        read_value("pT2", "G")
