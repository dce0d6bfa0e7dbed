"""T4 read from an organ the bladder report says the tumour invades: wordings of TCGA bladder reports."""

import pytest

from cancerllm.classify.organs import organ_t4
from cancerllm.knowledge.tnm import mask_tnm


@pytest.mark.parametrize(("text", "organ"), [
    (("DIRECT INVASION OF PROSTATIC STROMA: PRESENT. INVASION OF SEMINAL VESICLE: NOT PRESENT. INVASION OF PELVIC OR "
     "ABDOMINAL WALL: NOT PRESENT."), "prostatic stroma"),
    ("Urothelial carcinoma involving prostatic urethra with invasion into adjacent prostatic parenchyma.",
     "prostatic stroma"),
    (("Pathologic Staging (pTNM): Primary Tumor (pT): pT4a: Tumor invades prostatic stroma. Regional Lymph Nodes (pN): "
     "pN0."), "prostatic stroma"),
    (("THE TUMOR EXTENDS BEYOND THE BLADDER INTO THE FOLLOWING STRUCTURE (S) : URETHRA, PROSTATIC DUCTS WITH MICROSCOPIC "
     "INVOLVEMENT OF THE PROSTATIC STROMA."), "prostatic stroma"),
    ("pT4a: Tumor invades prostatic stoma or uterus or vagina.", "prostatic stroma"),  # the report's typo
    ("The tumor also extends into the wall of the uterus and cervix.", "uterus or vagina"),
    ("But infiltration of the pelvic wall and involvement of the cystectomy margin gave R1 status.",
     "pelvic or abdominal wall"),
])
def test_an_organ_the_tumour_invades_is_read_with_its_span(text, organ):
    for report in (text, mask_tnm(text)[0]):  # the code, written or masked, plays no part
        hit = organ_t4("BLCA", report)
        assert hit is not None and hit.organ == organ and report[hit.start:hit.end] == hit.text


@pytest.mark.parametrize("text", [
    "Prostatic stroma: not involved. Seminal vesicles: uninvolved by neoplasia.",
    "The tumor extends into the prostatic urethra; no invasion of the prostatic stroma.",  # urethra is not T4
    "Vaginal wall involvement by tumor is therefore not evident.",
    "Specimen: bladder, uterus, fallopian tubes and ovaries (resection).",  # named as a specimen part
    "INVASION OF PELVIC OR ABDOMINAL WALL: NOT PRESENT.",
    "Tumor invades through the muscularis propria into perivesical fat.",  # T3, not an organ
    "Abdominal wall skin scar: benign skin with scar.",
])
def test_organs_named_but_not_invaded_are_not_read(text):
    assert organ_t4("BLCA", text) is None


def test_only_the_bladder_reads_its_organs():
    text = "Direct invasion of prostatic stroma: present. Tumor invades the pelvic wall."
    assert organ_t4("BLCA", text) is not None
    assert [organ_t4(kind, text) for kind in ("PRAD", "COAD", "READ", None, "")] == [None] * 5
