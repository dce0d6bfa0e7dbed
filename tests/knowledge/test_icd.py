"""ICD-10-CM validation, repair and the packaged TCGA project table."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from cancerllm.errors import DataFormatError
from cancerllm.knowledge import icd

# All 33 TCGA projects (GDC), LAML included although TCGA-Reports has no LAML report.
ALL_TCGA = {"ACC", "BLCA", "BRCA", "CESC", "CHOL", "COAD", "DLBC", "ESCA", "GBM", "HNSC", "KICH", "KIRC", "KIRP",
            "LAML", "LGG", "LIHC", "LUAD", "LUSC", "MESO", "OV", "PAAD", "PCPG", "PRAD", "READ", "SARC", "SKCM",
            "STAD", "TGCT", "THCA", "THYM", "UCEC", "UCS", "UVM"}


def test_icd_is_valid_accepts_categories_subcategories_and_leaves():
    assert all(icd.is_valid(c) for c in ("C61", "C50.9", "C509", "C50.919", "c34.10", " C20 "))
    assert not any(icd.is_valid(c) for c in ("C61.9", "C00-C14", "C50.9x", "X99.9Z", "", None, "breast"))


def test_icd_normalize_and_describe():
    assert icd.normalize("c50919") == "C50.919"
    assert icd.describe("C34.10") == "Malignant neoplasm of upper lobe, unspecified bronchus or lung"
    with pytest.raises(DataFormatError, match="nearest_valid"):
        icd.normalize("C61.9")


@pytest.mark.parametrize("raw, expected", [
    ("C50.919x", "C50.919"), ("C50.9199", "C50.919"), ("C61.9", "C61"), ("C34.10", "C34.10"),
    ("icd10: c5O.9", "C50.9"), ("Diagnosis code C20.", "C20"), ("", None), ("no code here", None), (None, None),
])
def test_icd_nearest_valid_repairs_to_ancestor(raw, expected):
    assert icd.nearest_valid(raw) == expected


def test_icd_table_covers_all_projects_with_valid_codes():
    assert set(icd.TCGA_PROJECTS) == ALL_TCGA
    for p in icd.TCGA_PROJECTS.values():
        assert icd.is_valid(p.icd10), p.code
        assert p.icd10 == icd.normalize(p.icd10), p.code  # stored in canonical form
        assert p.name == p.name.lower() and p.name.strip(), p.code


def test_icd_csv_has_documented_columns_and_no_duplicates():
    text = resources.files("cancerllm").joinpath("resources", "tcga_icd10.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["project", "name", "icd10", "notes"]
    assert len({r["project"] for r in rows}) == len(rows) == 33
    assert all(r["notes"] for r in rows)


@pytest.mark.parametrize("project, raw, histology, expected", [
    ("SKCM", "C44.5", "8720/3", ("C43.5", "melanoma_skin")),
    ("SKCM", "C44.701", "8721/3", ("C43.7", "melanoma_skin")),
    ("SKCM", "C77.3", None, ("C43.9", "melanoma_other")),
    ("SKCM", None, None, ("C43.9", "melanoma_other")),
    ("DLBC", "C83.3", None, ("C83.3", "kept")),
    ("DLBC", "C71.7", "Primary DLBCL of the CNS", ("C83.39", "dlbcl")),
    ("DLBC", "C77.3", None, ("C83.34", "dlbcl")),
    ("READ", "C19", None, ("C20", "rectum")),
    ("READ", "C20", None, ("C20", "kept")),
    ("MESO", "C34.90", "9052/3", ("C45.0", "mesothelioma")),
    ("THYM", "C38.1", None, ("C37", "thymus")),
    ("PRAD", "C61.9", None, ("C61", "repaired")),
    ("CHOL", None, None, ("C22.1", "default")),
    ("LAML", None, None, ("C92.00", "default")),
    ("LUAD", "C34.1", None, ("C34.1", "kept")),
    ("UVM", "C69.30", "8770/3", ("C69.30", "kept")),
    ("SARC", "C48.0", None, ("C48.0", "kept")),
])
def test_icd_normalize_tcga_rules(project, raw, histology, expected):
    code, rule = icd.normalize_tcga(project, raw, histology)
    assert (code, rule) == expected
    assert icd.is_valid(code)


def test_icd_diagnosis_for_unknown_project_names_allowed_values():
    with pytest.raises(DataFormatError, match="expected one of .*'BRCA'"):
        icd.diagnosis_for("BREAST")
    d = icd.diagnosis_for("BRCA", "C50.9", "8500/3")
    assert (d.text, d.icd10, d.cancer_type) == ("breast invasive carcinoma", "C50.9", "BRCA")


def test_icd_nearest_valid_ignores_words():
    # Letters read as digits only next to a real digit: "COLON" is not C01, "ICD10" is not D10.
    assert icd.nearest_valid("COLON CANCER") is None
    assert icd.nearest_valid("ICD10 code unknown") is None
