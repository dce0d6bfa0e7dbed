"""The phenotype schema: entity types, assertion values and how they map to the reference paper.

Every extracted value is a :class:`~cancerllm.data.schema.Mention` of one of these types, grounded in the note by a
character span and carrying an assertion. The paper (CancerLLM, arXiv 2406.10459) extracts 8 types whose exact
names were not published; its lay summary names the families site, size, grade, stage and receptor status.
``PAPER_FAMILY`` records which of our finer types falls in which family so scores can be rolled up.

Assertion semantics, each with a real-looking sentence:

* ``present``     "Invasive ductal carcinoma, grade 2."
* ``negated``     "Negative for lymphovascular invasion." / "No evidence of distant metastasis."
* ``possible``    "Findings suspicious for recurrence; metastasis cannot be excluded."
* ``historical``  "History of treated melanoma (2009), s/p wide local excision."
* ``family``      "Mother had breast cancer at 45."

Only ``present`` mentions of the current cancer feed document labels (``t_stage``, ``n_stage``, ``m_stage``): in
"History of pT1a melanoma. Lung adenocarcinoma, pT3 N0." the T label is T3. Value formats, the cue words of each
assertion and the Note JSONL format are documented for users in ``docs/schema.md``.

Example:
    >>> ENTITY_TYPES["stage_t"].family
    'stage'
    >>> sorted(PAPER_FAMILY)[:3]
    ['biomarker', 'cancer_diagnosis', 'grade']
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ASSERTIONS",
    "BIOMARKERS",
    "ENTITY_TYPES",
    "PAPER_FAMILY",
    "TREATMENT_CATEGORIES",
    "EntityType",
    "type_problems",
]

ASSERTIONS = ("present", "negated", "possible", "historical", "family")


@dataclass(frozen=True)
class EntityType:
    """One phenotype type: its name (the ``Mention.type`` string), a one-line definition, surface examples, the
    paper family it rolls up to, and how its normalised ``Mention.value`` is written."""

    name: str
    definition: str
    examples: tuple[str, ...]
    family: str
    """The reference paper's phenotype family (site, size, grade, stage, receptor status) or 'other'."""
    value_format: str = "the normalised value"


ENTITY_TYPES: dict[str, EntityType] = {t.name: t for t in [
    EntityType("cancer_diagnosis", "A named malignancy (the diagnosis itself).",
               ("invasive ductal carcinoma of the breast", "lung adenocarcinoma", "glioblastoma"), "diagnosis",
               "cancer type code such as BRCA, LUAD when known"),
    EntityType("primary_site", "Anatomic site of the primary tumour.", ("right upper lobe", "sigmoid colon"), "site",
               "site text, ICD-O-3 topography in code when known"),
    EntityType("laterality", "Side of a paired organ.", ("left", "right", "bilateral"), "site",
               "left | right | bilateral"),
    EntityType("histology", "Histologic type of the tumour.", ("adenocarcinoma", "squamous cell carcinoma"), "grade",
               "histology text"),
    EntityType("grade", "Histologic grade or score.", ("grade 2", "G3", "Gleason 4+3=7", "Nottingham grade 1"), "grade",
               "G1 | G2 | G3 | G4 or 'Gleason X+Y=Z'"),
    EntityType("stage_t", "Primary tumour (T) category.", ("pT2", "ypT3", "T1c"), "stage", "T0..T4 with substage"),
    EntityType("stage_n", "Regional lymph node (N) category.", ("pN1a", "N0", "cN2"), "stage", "N0..N3 with substage"),
    EntityType("stage_m", "Distant metastasis (M) category.", ("M0", "pM1", "cM1b"), "stage", "M0 | M1 with substage"),
    EntityType("stage_group", "Overall AJCC/FIGO stage group.", ("stage IIA", "FIGO IIIC"), "stage",
               "Stage 0..IV with substage"),
    EntityType("tumor_size", "Greatest dimension of the tumour.", ("2.3 cm", "18 mm"), "size",
               "size in cm, e.g. '2.3 cm'"),
    EntityType("biomarker", "A biomarker with its result.", ("ER positive", "HER2 3+", "PD-L1 TPS 60%", "EGFR L858R"),
               "receptor status", "'NAME: result', e.g. 'ER: positive'"),
    EntityType("metastasis_site", "Site of distant or nodal spread.", ("liver", "bone", "axillary lymph nodes"),
               "site", "site text"),
    EntityType("treatment", "A cancer treatment given, planned or historical.",
               ("lumpectomy", "carboplatin/paclitaxel", "adjuvant radiation", "pembrolizumab", "tamoxifen"),
               "other", "'category: agent', category one of TREATMENT_CATEGORIES"),
    EntityType("outcome", "Response or outcome measure.", ("PFS 11.2 months", "partial response", "OS 24 months"),
               "other", "'MEASURE: value', e.g. 'PFS: 11.2 months'"),
]}

PAPER_FAMILY = {name: t.family for name, t in ENTITY_TYPES.items()}

TREATMENT_CATEGORIES = ("surgery", "chemotherapy", "radiation", "immunotherapy", "targeted", "hormonal")
"""The ``category`` of a treatment value ``'category: agent'`` (e.g. ``'targeted: trastuzumab'``)."""

BIOMARKERS = ("ER", "PR", "HER2", "Ki-67", "PD-L1", "EGFR", "KRAS", "ALK", "BRAF", "MSI", "PSA", "CEA", "CA-125")
"""Biomarker names used in values ``'NAME: result'`` (``'ER: positive'``, ``'PD-L1: TPS 60%'``, ``'MSI: high'``)."""


def type_problems(types: list[str] | None, field: str = "types") -> list[str]:
    """Config problems for entity type names not in the schema (empty list when all are known).

    >>> type_problems(["stage_t", "size"])[0][:22]
    "types: got 'size', exp"
    """
    return [f"{field}: got {t!r}, expected any of {sorted(ENTITY_TYPES)}" for t in types or [] if t not in ENTITY_TYPES]
