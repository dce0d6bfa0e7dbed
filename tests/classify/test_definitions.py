"""The T category a report writes out in words beside its (masked) stage code: wordings of TCGA synoptic reports."""

import pytest

from cancerllm.classify.definitions import definition_t, find_definitions
from cancerllm.knowledge.tnm import mask_tnm


def _read(text: str) -> list[str]:
    masked = mask_tnm(text)[0]
    found = find_definitions(masked)
    assert all(masked[d.start:d.end] == d.text for d in found)  # every definition points at its words
    return [d.text for d in found]


def test_a_definition_is_the_words_after_the_masked_code_up_to_the_next_field():
    assert _read("Primary Tumor (pT): pT2: Tumor more than 2 cm, but not more than 4 cm, limited to thyroid. Regional "
                 "Lymph Nodes (pN): pN0: No regional lymph node metastasis.") == [
        "Tumor more than 2 cm, but not more than 4 cm, limited to thyroid"]
    # A PDF line-break period inside it does not end it; the capital of the next field does.
    assert _read("PRIMARY TUMOR: pT2 - Tumor more than 2.0 but not more. than 5.0 cm in greatest dimension. REGIONAL "
                 "LYMPH NODES (pN): pN1a") == ["Tumor more than 2.0 but not more. than 5.0 cm in greatest dimension"]
    assert _read("Tumor Staging (AJCC 7th Edition): pT4a (Tumor penetrates to the surface of the visceral peritoneum). "
                 "Lymph Node Stage (AJCC 7th Edition): pN1b (Metastasis in 2-3 regional lymph nodes).") == [
        "Tumor penetrates to the surface of the visceral peritoneum"]
    assert _read("pT3b: Invasion of perivesicle soft tissue, macroscopic. pN0 pMX") == [
        "Invasion of perivesicle soft tissue, macroscopic"]
    # Not a definition: a code in running text, an N line, a report without codes.
    assert _read("Adenocarcinoma, G3, pT3 L1 V0 R0. pN0 (0/14).") == []
    assert _read("pN1: Metastasis in 1 to 3 axillary lymph nodes. pM0") == []
    assert _read("Tumor greater than 7 cm in greatest dimension.") == []


@pytest.mark.parametrize(("cancer_type", "definition", "t"), [
    ("THCA", "Tumor more than 2 cm, but not more than 4 cm, limited to thyroid", 2),
    ("THCA", "Tumor more than 4 cm limited to thyroid or any tumor with minimal extrathyroidal extension", 3),
    ("BRCA", "Tumor >20 mm but <50 mm in greatest dimension", 2),
    ("BRCA", "TUMOR MORE THAN 0.5 CM BUT NOT MORE THAN 1.0 CM IN GREATEST DIMENSION", 1),
    ("BRCA", "tumor size more than 2cm not. more than 5 cm, Venous Invasion: Absent", 2),  # "not." is still "not"
    ("BRCA", "Tumor >10 mm but less than or equal to 20 mm in greatest dimension", 1),
    ("LUAD", "Tumor greater than 2 cm, but 3 cm or less in greatest dimension,. surrounded by lung", 1),
    ("LUAD", "Tumor greater than 5 cm, but 7 cm or less in greatest dimension", 2),
    # T3 by its size; the alternatives after "or tumor of any size" name T4 structures and do not count
    ("LUAD", ("Tumor > 7 cm in greatest dimension; or Tumor of any size that directly invades any of the following: "
              "chest wall, diaphragm, mediastinal pleura"), 3),
    ("HNSC", "Tumor of lip or oral cavity 2 cm or. less in greatest dimension", 1),
    ("KIRP", "Tumor more than 4 cm but not more than 7 cm in greatest dimension, limited to the kidney", 1),
    ("ACC", "Tumor greater than 5 cm, no extra-adrenal. invasion", 2),
    ("PAAD", "Tumor limited to the pancreas, more than 2 cm in greatest dimension", 2),
    ("STAD", "Tumor invades muscularis propria", 2),
    ("BLCA", "Invasion of perivesicle soft tissue, macroscopic", 3),
    ("COAD", "Tumor penetrates to the surface of the visceral peritoneum", 4),
    ("KIRC", "Tumor grossly extends into the renal vein(s) or vena cava below the diaphragm", 3),
    # nothing to read: a size for a site staged by depth, a size without a bound, no structure, a prostate floor alone
    ("COAD", "Tumor more than 2 cm", 0),
    ("BRCA", "carcinoma 3.0 cm", 0),
    ("UVM", "Tumor size category 3 without ciliary body involvement", 0),
    ("PRAD", "Tumor identified", 0),
    (None, "Tumor invades muscularis propria", 0),
])
def test_a_definition_gives_the_category_its_bounds_or_structure_mean_for_the_cancer_type(cancer_type, definition, t):
    assert definition_t(cancer_type, definition) == t
