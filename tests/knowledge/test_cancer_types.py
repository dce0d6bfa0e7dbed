"""Diagnosis terms -> TCGA project: spans slice the text, the table covers every project, features are stable."""

from hypothesis import given
from hypothesis import strategies as st

from cancerllm.knowledge.cancer_types import OPENING_CHARS, TYPE_TERMS, find_type_terms, term_vector
from cancerllm.knowledge.icd import TCGA_PROJECTS


def test_every_tcga_project_has_a_term_and_only_once():
    projects = [p for p, _ in TYPE_TERMS]
    assert len(projects) == len(set(projects))
    assert set(projects) == set(TCGA_PROJECTS) - {"LAML"}  # LAML (leukaemia) has no pathology report


def test_specific_histologies_are_found_with_spans():
    text = ("FINAL DIAGNOSIS: Left kidney, radical nephrectomy: renal cell carcinoma, chromophobe type.\n"
            "Uterus: leiomyosarcoma. History of malignant mesothelioma.")
    hits = {h.project: h for h in find_type_terms(text)}
    assert {"KICH", "SARC", "MESO"} <= set(hits)
    assert "KIRC" not in hits  # "renal cell carcinoma" alone is not clear cell
    for h in hits.values():
        assert text[h.start:h.end] == h.text


def test_opening_block_only_counts_the_report_opening():
    late = "x" * OPENING_CHARS + " glioblastoma"
    early = "glioblastoma " + "x" * OPENING_CHARS
    i = [p for p, _ in TYPE_TERMS].index("GBM")
    n = len(TYPE_TERMS)
    assert term_vector(late)[i] == 1.0 and term_vector(late)[n + i] == 0.0
    assert term_vector(early)[i] == 1.0 and term_vector(early)[n + i] == 1.0


@given(st.text(max_size=300))
def test_spans_always_slice_the_text(text):
    for h in find_type_terms(text):
        assert text[h.start:h.end] == h.text
    assert len(term_vector(text)) == 2 * len(TYPE_TERMS)
