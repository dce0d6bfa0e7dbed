"""Stated stage groups that mean M1 for the primary: read with their span; negated, hedged, glossary, field and
locally advanced stages left unread."""

import pytest

from cancerllm.knowledge.stage_group import stage_group_m1


@pytest.mark.parametrize(("text", "cancer_type", "quoted", "group"), [
    ("Clinical Diagnosis & History: year old female with stage IV breast carcinoma, debulking surgery.", "BRCA",
     "stage IV", "IV"),
    ("Clinical Diagnosis & History: History of synchronous stage IV colon cancer.", "COAD", "stage IV", "IV"),
    ("Lymphovascular invasion: Present. Pathologic stage: IV. Margin status: Negative.", "BRCA", "stage: IV", "IV"),
    ("TUMOR INVADES INTO THE VISCERAL PLEURA ([TNM] . STAGE IV). - ARTERIAL INVASION IDENTIFIED.", "LUAD",
     "STAGE IV", "IV"),
    ("Final TNM: [TNM]. stage: IV. MACROSCOPIC.", "PAAD", "stage: IV", "IV"),
    ("FIGO stage IVB endometrioid adenocarcinoma.", "UCEC", "stage IVB", "IVB"),
    ("These findings correspond to AJCC pathologic Stage IVC.", "HNSC", "Stage IVC", "IVC"),
    ("Patient with stage 4 melanoma, resection of a subcutaneous nodule.", "SKCM", "stage 4", "IV"),
])
def test_a_stage_group_meaning_m1_is_read_with_its_span(text, cancer_type, quoted, group):
    h = stage_group_m1(text, cancer_type)
    assert h is not None and text[h.start:h.end] == quoted and h.group == group


@pytest.mark.parametrize(("text", "cancer_type"), [
    ("STAGE IV STATUS. No stage IV disease pathologically.", "LUAD"),                       # negated, and a field
    ("STAGE IV STATUS. Stage IV status is undetermined.", "LUAD"),                          # a field, undetermined
    ("EGFR and ALK reflex testing criteria: Stage IV disease (histologically proven).", "LUAD"),  # a criterion
    ("Stage IVA: The cancer has spread more extensively within the chest.", "LUAD"),        # a glossary entry
    ("Type of Procurement: surgery Grade: 2. T Stage: 4 N Stage: 0 M Stage: 0.", "BRCA"),   # T and N fields
    ("Background liver: cirrhotic liver (stage 4 fibrosis).", "COAD"),                      # a fibrosis stage
    ("Compatible with clinical history of hepatitis C (grade 1 of 4, stage 4 of 4).", "COAD"),  # fibrosis again
    ("Liver, segment 6: SPECIAL STAIN: Trichrome (positive (stage IV)).", "COAD"),          # fibrosis again
    ("Background liver: chronic hepatitis, stage 4/4.", "PAAD"),                            # fibrosis again
    ("These findings correspond to AJCC Pathologic Stage IVA (pT4a, pN2c).", "HNSC"),       # IVA is M0 here
    ("FIGO stage IVA: tumour invades the bladder mucosa.", "CESC"),                         # IVA is M0 here
    ("Pathologic stage: IV (pT4b pN0).", "BLCA"),                                           # T4b is stage IV too
    ("Pathologic stage: IV.", "KIRC"),                                                      # T4 is stage IV too
    ("Pathologic stage: IV.", None),                                                        # no primary, no table
    ("Pathologic stage: IIIB.", "BRCA"),                                                    # not stage IV
])
def test_negated_hedged_glossary_field_and_locally_advanced_stages_are_not_read(text, cancer_type):
    assert stage_group_m1(text, cancer_type) is None
