"""The code tables of the exports: mCODE profile URLs, LOINC/SNOMED CT codes, our extension URLs.

A data module (no logic). Every code here was checked against the published mCODE STU3 (FHIR R4) pages and
their examples, 2026-11-30:

* TNM profiles: ``mcode-tnm-primary-tumor-category`` (Observation.code LOINC 21905-5 clinical, 21899-0
  pathologic), ``mcode-tnm-regional-nodes-category`` (21906-3 / 21900-6), ``mcode-tnm-distant-metastases-category``
  (21907-1 / 21901-4), ``mcode-tnm-stage-group`` (21908-9 / 21902-2).
* ``mcode-tumor-marker-test`` examples: ER 85337-4, PR 85339-0, HER2 48676-1, answers LOINC LA6576-8 Positive and
  LA6577-6 Negative. PSA 2857-1, CEA 2039-6 and CA-125 10334-1 are the LOINC serum/plasma tests. Ki-67, PD-L1,
  MSI, EGFR, KRAS, ALK and BRAF have no single LOINC test we can name without the assay, so their Observation
  code is text only (still a TumorMarkerTest; a receiver can map the text).
* ``mcode-primary-cancer-condition`` with the ``mcode-histology-morphology-behavior`` extension and the
  ``mcode-laterality-qualifier`` extension on ``bodySite`` (SNOMED CT 7771000 left, 24028007 right, 51440002
  bilateral).

Our own extensions are logical URNs (FHIR ``Extension.url`` may be "a logical name or a URL"): no web page
defines them; ``docs/schema.md`` does.
"""

from __future__ import annotations

__all__ = [
    "ASSERTION_EXT", "BIOMARKER_LOINC", "CONDITION_CATEGORY", "DOC_TYPE_LOINC", "HISTOLOGY_EXT", "ICD10CM",
    "INFERRED_EXT", "LATERALITY_EXT", "LATERALITY_SNOMED", "LOINC", "MCODE", "NOTE_ID_SYSTEM", "OBSERVATION_CATEGORY",
    "PROFILES", "RESULT_LOINC", "SHA256_SYSTEM", "SNOMED", "SPAN_EXT", "TNM_LOINC",
]

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
PROFILES = {
    "condition": MCODE + "mcode-primary-cancer-condition",
    "stage_t": MCODE + "mcode-tnm-primary-tumor-category",
    "stage_n": MCODE + "mcode-tnm-regional-nodes-category",
    "stage_m": MCODE + "mcode-tnm-distant-metastases-category",
    "stage_group": MCODE + "mcode-tnm-stage-group",
    "biomarker": MCODE + "mcode-tumor-marker-test",
}
HISTOLOGY_EXT = MCODE + "mcode-histology-morphology-behavior"
LATERALITY_EXT = MCODE + "mcode-laterality-qualifier"
LATERALITY_SNOMED = {"left": ("7771000", "Left"), "right": ("24028007", "Right"),
                     "bilateral": ("51440002", "Right and left")}

# (entity type, "clinical" | "pathologic") -> (LOINC code, display). A "c" prefix (cT2) is clinical; everything
# else (pT2, ypT2, a bare T2 in a pathology report) is pathologic, the common case of our notes.
TNM_LOINC = {
    ("stage_t", "pathologic"): ("21899-0", "Primary tumor.pathology Cancer"),
    ("stage_n", "pathologic"): ("21900-6", "Regional lymph nodes.pathology Cancer"),
    ("stage_m", "pathologic"): ("21901-4", "Distant metastases.pathology Cancer"),
    ("stage_group", "pathologic"): ("21902-2", "Stage group.pathology Cancer"),
    ("stage_t", "clinical"): ("21905-5", "Primary tumor.clinical [Class] Cancer"),
    ("stage_n", "clinical"): ("21906-3", "Regional lymph nodes.clinical [Class] Cancer"),
    ("stage_m", "clinical"): ("21907-1", "Distant metastases.clinical [Class] Cancer"),
    ("stage_group", "clinical"): ("21908-9", "Stage group.clinical Cancer"),
}

# Biomarker name (knowledge.phenotypes.BIOMARKERS) -> LOINC test; names absent here get a text-only code.
BIOMARKER_LOINC = {
    "ER": ("85337-4", "Estrogen receptor Ag [Presence] in Breast cancer specimen by Immune stain"),
    "PR": ("85339-0", "Progesterone receptor Ag [Presence] in Breast cancer specimen by Immune stain"),
    "HER2": ("48676-1", "HER2 [Interpretation] in Tissue"),
    "PSA": ("2857-1", "Prostate specific Ag [Mass/volume] in Serum or Plasma"),
    "CEA": ("2039-6", "Carcinoembryonic Ag [Mass/volume] in Serum or Plasma"),
    "CA-125": ("10334-1", "Cancer Ag 125 [Units/volume] in Serum or Plasma"),
}
RESULT_LOINC = {"positive": ("LA6576-8", "Positive"), "negative": ("LA6577-6", "Negative")}

# Note kind -> LOINC document type (DocumentReference.type); other kinds get no type.
DOC_TYPE_LOINC = {
    "pathology": ("11526-1", "Pathology study"),
    "progress": ("11506-3", "Progress note"),
    "discharge": ("18842-5", "Discharge summary"),
    "radiology": ("18748-4", "Diagnostic imaging study"),
}

# Our extensions and identifier systems.
SPAN_EXT = "urn:cancerllm:fhir:evidence-span"
"""Complex: ``start``/``end`` (valueInteger, code-point offsets into the note, end exclusive) and ``type``
(valueCode, the mention type). One per quoted mention behind the resource."""
INFERRED_EXT = "urn:cancerllm:fhir:inferred"
"""Complex: ``source`` (valueString: classify / extract / diagnose) and, when known, ``probability``
(valueDecimal). Present only on a resource no quoted mention supports."""
ASSERTION_EXT = "urn:cancerllm:fhir:assertion"
"""valueCode: the assertion of the mentions behind the resource (always ``present`` in a Bundle: see fhir.py)."""
NOTE_ID_SYSTEM = "urn:cancerllm:note-id"
SHA256_SYSTEM = "urn:cancerllm:sha256"
