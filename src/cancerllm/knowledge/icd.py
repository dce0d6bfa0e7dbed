"""ICD-10-CM validation and the TCGA project -> ICD-10-CM diagnosis table.

Codes are checked against the ICD-10-CM table packaged in ``simple-icd-10-cm`` (categories such as ``C61``,
subcategories such as ``C50.9`` and billable leaves such as ``C50.919`` are all valid; chapters and blocks such
as ``C00-C14`` are not). :func:`nearest_valid` repairs a malformed model output to its closest valid ancestor.

TCGA's ``icd_10`` field mostly copies the ICD-O-3 *topography* of the tumour or of the specimen: a melanoma
lymph-node metastasis is recorded as ``C77.3``, a skin primary as ``C44.5`` (a non-melanoma skin cancer code in
ICD-10-CM). :func:`normalize_tcga` turns such values into the ICD-10-CM code of the diagnosis, by project and
histology, and says which rule fired; every rule is listed in ``resources/tcga_icd10.csv`` notes.

Example:
    >>> is_valid("C509"), normalize("c509"), is_valid("C00-C14")
    (True, 'C50.9', False)
    >>> nearest_valid("C50.919x"), nearest_valid("C61.9"), nearest_valid("no code")
    ('C50.919', 'C61', None)
    >>> d = diagnosis_for("SKCM", "C44.5", "8720/3")
    >>> d.text, d.icd10, d.cancer_type
    ('skin cutaneous melanoma', 'C43.5', 'SKCM')
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from cancerllm.data.schema import Diagnosis
from cancerllm.errors import DataFormatError

__all__ = [
    "TCGA_PROJECTS",
    "ProjectInfo",
    "describe",
    "diagnosis_for",
    "is_valid",
    "nearest_valid",
    "normalize",
    "normalize_tcga",
]

# A code-like token: a letter, two category characters (at least one a real digit, see below), an optional tail.
_CODE_LIKE = re.compile(r"(?<![A-Z0-9])[A-Z][0-9OIL][0-9A-Z](?:\.?[0-9A-Z]{1,4})?")


def _clean(code: str) -> str:
    return code.strip().upper().replace(" ", "")


def _cm() -> Any:
    """``simple_icd_10_cm``, imported on first use. Why: its tables take ~180 MiB of RSS and ~2 s to import, which
    extraction, scoring and the server pay for nothing until an ICD code is actually checked (issue 13, 1 GB)."""
    import simple_icd_10_cm

    return simple_icd_10_cm


def is_valid(code: str | None) -> bool:
    """True for an ICD-10-CM category, subcategory or billable code, written with or without the dot.

    Example:
        >>> [is_valid(c) for c in ("C61", "C34.10", "C3410", "C61.9", "", None)]
        [True, True, True, False, False, False]
    """
    if not code or not isinstance(code, str):
        return False
    c = _clean(code)
    cm = _cm()
    return cm.is_valid_item(c) and not cm.is_chapter_or_block(c)


def normalize(code: str) -> str:
    """Return the canonical dotted upper-case form of a valid code.

    Raises:
        DataFormatError: the code is not in ICD-10-CM (use :func:`nearest_valid` to repair it).

    Example:
        >>> normalize(" c50919 ")
        'C50.919'
    """
    if not is_valid(code):
        raise DataFormatError(f"got ICD-10-CM code {code!r}, which is not in the ICD-10-CM table "
                              "(simple-icd-10-cm); expected e.g. 'C50.9'; repair it with nearest_valid()",
                              field="icd10")
    cm = _cm()
    return cm.add_dot(cm.remove_dot(_clean(code)))


def describe(code: str) -> str:
    """The official ICD-10-CM description of a valid code.

    Example:
        >>> describe("C20")
        'Malignant neoplasm of rectum'
    """
    return _cm().get_description(normalize(code))


def nearest_valid(code: str | None) -> str | None:
    """Repair a code-like string: the longest valid prefix of the first code found, or None.

    Handles a trailing placeholder or extra character ("C50.919x" -> "C50.919"), an invalid extra level
    ("C61.9" -> "C61"), OCR letters in the numeric part ("C5O.9" -> "C50.9") and surrounding words
    ("ICD-10: C34.1").

    Example:
        >>> nearest_valid("ICD-10-CM: C5O.9"), nearest_valid("C34.10")
        ('C50.9', 'C34.10')
    """
    if not code:
        return None
    for m in _CODE_LIKE.finditer(code.strip().upper()):
        cand = m.group(0).replace(".", "")
        if not any(ch.isdigit() for ch in cand[1:3]):
            continue  # "COLON" must not become C01 (base of tongue)
        # OCR / typing confusions only in the two digit positions of the category (C5O -> C50).
        cand = cand[0] + cand[1:3].replace("O", "0").replace("I", "1").replace("L", "1") + cand[3:]
        # Why longest-prefix: ICD-10-CM is a prefix tree, so dropping characters walks up to an ancestor.
        for n in range(len(cand), 2, -1):
            if is_valid(cand[:n]):
                return normalize(cand[:n])
    return None


@dataclass(frozen=True)
class ProjectInfo:
    """One TCGA project: ``name`` is the lower-case cancer name used as diagnosis text."""

    code: str
    name: str
    icd10: str
    notes: str


def _load_projects() -> dict[str, ProjectInfo]:
    text = resources.files("cancerllm").joinpath("resources", "tcga_icd10.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return {r["project"]: ProjectInfo(r["project"], r["name"], r["icd10"], r["notes"]) for r in rows}


TCGA_PROJECTS: dict[str, ProjectInfo] = _load_projects()

# Lymph-node region (ICD-O-3 C77.d) -> DLBCL by region (ICD-10-CM C83.3x).
_DLBCL_NODES = {"C77.0": "C83.31", "C77.1": "C83.32", "C77.2": "C83.33", "C77.3": "C83.34",
                "C77.4": "C83.35", "C77.5": "C83.36", "C77.8": "C83.38", "C77.9": "C83.30"}


def _morph(histology: str | None) -> int | None:
    """ICD-O-3 morphology number (8720 from '8720/3'), or None for text / missing histology."""
    m = re.match(r"\s*(\d{4})", histology or "")
    return int(m.group(1)) if m else None


def normalize_tcga(project: str, icd10_raw: str | None = None, histology: str | None = None) -> tuple[str, str]:
    """ICD-10-CM code of a TCGA case's diagnosis and the rule used.

    Rules, first match wins: ``melanoma_skin`` (SKCM or melanoma morphology 8720-8790 on a skin code C44.d ->
    C43.d), ``melanoma_other`` (SKCM, any other site -> C43.9), ``dlbcl`` (DLBC: C83.3x kept, node region C77.d
    -> C83.3x, other sites -> C83.39 extranodal), ``mesothelioma`` (MESO or morphology 9050-9055 -> C45.x kept,
    else C45.0), ``rectum`` (READ -> C20), ``thymus`` (THYM -> C37), ``kept`` (valid code), ``repaired``
    (invalid code -> nearest valid ancestor), ``default`` (missing -> project default). A rule whose result
    equals the recorded code is reported as ``kept``.

    Example:
        >>> normalize_tcga("DLBC", "C77.3"), normalize_tcga("READ", "C19"), normalize_tcga("PRAD", "C61.9")
        (('C83.34', 'dlbcl'), ('C20', 'rectum'), ('C61', 'repaired'))
    """
    code, rule = _normalize_tcga(project, icd10_raw, histology)
    if icd10_raw and is_valid(icd10_raw) and code == normalize(icd10_raw):
        rule = "kept"  # a project rule that confirms the recorded code (READ C20) is not a change
    return code, rule


def _normalize_tcga(project: str, icd10_raw: str | None = None, histology: str | None = None) -> tuple[str, str]:
    """Rules in first-match order (see :func:`normalize_tcga`)."""
    info = TCGA_PROJECTS.get(project)
    if info is None:
        raise DataFormatError(f"got TCGA project {project!r}; expected one of {sorted(TCGA_PROJECTS)}",
                              field="cancer_type")
    raw = _clean(icd10_raw) if icd10_raw else ""
    raw = normalize(raw) if is_valid(raw) else raw
    morph = _morph(histology)
    text = (histology or "").lower()
    melanoma = project == "SKCM" or (morph is not None and 8720 <= morph <= 8790) or "melanoma" in text
    skin = re.fullmatch(r"C44\.?(\d).*", raw)
    if melanoma and project != "UVM" and skin:
        return f"C43.{skin.group(1)}", "melanoma_skin"
    if project == "SKCM":
        return (raw if raw.startswith("C43") and is_valid(raw) else "C43.9"), "melanoma_other"
    if project == "DLBC":
        if raw.startswith("C83.3") and is_valid(raw):
            return raw, "kept"
        return _DLBCL_NODES.get(raw[:5], "C83.39" if raw else info.icd10), "dlbcl"
    if project == "MESO" or (morph is not None and 9050 <= morph <= 9055):
        return (raw if raw.startswith("C45") and is_valid(raw) else "C45.0"), "mesothelioma"
    if project == "READ":
        return "C20", "rectum"
    if project == "THYM":
        return "C37", "thymus"
    if raw and is_valid(raw):
        return raw, "kept"
    fixed = nearest_valid(raw)
    if fixed is not None:
        return fixed, "repaired"
    return info.icd10, "default"


def diagnosis_for(project: str, icd10_raw: str | None = None, histology: str | None = None) -> Diagnosis:
    """The gold :class:`Diagnosis` of a TCGA case: lower-case project cancer name + normalised ICD-10-CM code.

    Args:
        project: TCGA project code without the ``TCGA-`` prefix (``BRCA``, ``LUAD``...).
        icd10_raw: TCGA's recorded ``icd_10`` value, if any.
        histology: ICD-O-3 morphology (``8720/3``) or histology text, if any.

    Raises:
        DataFormatError: unknown project.

    Example:
        >>> diagnosis_for("LUAD", "C34.1")
        Diagnosis(text='lung adenocarcinoma', icd10='C34.1', cancer_type='LUAD')
    """
    code, _rule = normalize_tcga(project, icd10_raw, histology)
    return Diagnosis(text=TCGA_PROJECTS[project].name, icd10=code, cancer_type=project)
