"""Distant metastases a report documents: organ + metastasis word, not negated, not nodal, distant for the primary."""

import pytest

from cancerllm.knowledge.metastasis import find_distant_metastases


@pytest.mark.parametrize(("text", "cancer_type", "organ"), [
    ("1. LEFT SHOULDER, BIOPSY OF BONE LESION: METASTATIC CLEAR CELL CARCINOMA, CONSISTENT WITH RENAL ORIGIN.",
     "KIRC", "bone"),
    ("B. Liver, segment 6, wedge resection: metastatic adenocarcinoma, consistent with colonic primary.", "COAD",
     "liver"),
    ("Metastatic renal cell carcinoma in adrenal gland (1.1 x 0.9 cm).", "KIRC", "adrenal"),
])
def test_a_documented_distant_metastasis_is_found_with_a_span_covering_organ_and_phrase(text, cancer_type, organ):
    hits = find_distant_metastases(text, cancer_type)
    assert [h.organ for h in hits] == [organ]
    quoted = text[hits[0].start:hits[0].end].lower()
    assert "metasta" in quoted and (organ in quoted or "rib" in quoted)


@pytest.mark.parametrize(("text", "cancer_type"), [
    ("Liver, biopsy: no evidence of metastatic carcinoma.", "COAD"),                    # negated
    ("Liver, wedge: negative for metastatic disease.", "PAAD"),                         # negated
    ("Lymph node, liver hilum: metastatic adenocarcinoma (1/1).", "CHOL"),              # nodal: N, not M
    ("Metastatic carcinoma in 2 of 14 lymph nodes; lung parenchyma unremarkable.", "BRCA"),  # nodal
    ("Right lower lobe lung, wedge: metastatic adenocarcinoma.", "LUAD"),               # the lung primary's own organ
    ("Omentum: metastatic serous carcinoma.", "OV"),                                    # regional for ovary (FIGO III)
    ("Distant metastasis: cannot be assessed. Adrenal gland: unremarkable.", "KIRC"),  # a synoptic field
    ("Omentum, however, numerous nodules suspicious of tumour metastasis.", "COAD"),   # a possibility, not proof
    ("Cases which show probable metastatic renal cell carcinoma to the lung.", "KIRC"),  # a possibility
    ("Liver parenchyma with steatosis. No tumor.", "COAD"),                             # no metastasis word
])
def test_negated_uncertain_nodal_regional_and_synoptic_phrases_are_not_distant_metastases(text, cancer_type):
    assert find_distant_metastases(text, cancer_type) == []
