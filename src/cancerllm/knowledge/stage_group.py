"""An overall stage group a report states that implies distant metastasis: "stage IV breast carcinoma".

For most primaries AJCC defines stage IV as "any T, any N, M1", so a report that says the patient has stage IV
disease documents M1 even when it never writes "pM1" (the clinical history of a debulking for "stage IV breast
carcinoma", "Pathologic stage: IV" under a synoptic checklist). Which stage groups imply M1 depends on the primary:
for the head and neck and the thyroid only IVC does (IVA/IVB are locally advanced), for the uterus, the cervix, the
liver and the bile ducts only IVB; for the kidney, bladder, prostate, soft tissue, adrenal cortex, mesothelioma and
uveal melanoma stage IV also holds M0 tumours (T4 or N1), and the stomach's registry labels mix the 6th edition
(where stage IV includes M0) with the 7th, so those primaries are never read.

Left unread: a negated or hedged mention ("No stage IV disease pathologically", "Stage IV status is undetermined",
"reflex testing criteria: Stage IV disease"), a glossary entry (a colon right after the stage: "Stage IVA: The cancer
has spread ..."), a T, N or M field ("T Stage: 4") and a liver fibrosis stage ("stage 4 fibrosis", "hepatitis C (grade 1 of 4, stage 4
of 4)", "Trichrome (stage IV)").

On TCGA train+dev (1,648 reports with an M label, 104 M1) it fires in 8 reports, all registry M1.

Example:
    >>> t = "Clinical Diagnosis & History: year old female with stage IV breast carcinoma, debulking surgery."
    >>> h = stage_group_m1(t, "BRCA")
    >>> (t[h.start:h.end], h.group)
    ('stage IV', 'IV')
    >>> stage_group_m1("AJCC Pathologic Stage IVA (pT4a, pN2c).", "HNSC") is None
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["StageGroup", "stage_group_m1"]

# The stage groups that mean M1, by TCGA project (AJCC 7th edition; FIGO for the cervix, uterus and ovary).
_ANY_IV = frozenset({"IV", "IVA", "IVB", "IVC"})
_M1_GROUPS: dict[str, frozenset[str]] = {
    **{p: _ANY_IV for p in ("BRCA", "COAD", "READ", "LUAD", "LUSC", "PAAD", "SKCM", "ESCA", "OV")},
    **{p: frozenset({"IVB"}) for p in ("UCEC", "UCS", "CESC", "LIHC", "CHOL")},
    **{p: frozenset({"IVC"}) for p in ("HNSC", "THCA")},
}
_STAGE = re.compile(r"\bstage(?:\s+group(?:ing)?)?\s*[:\-]?\s*(IV|4)(?:\s?([ABC]))?\b", re.IGNORECASE)
_FIELD_BEFORE = re.compile(r"\b[pcy]?[TNM]\s*$")  # "T Stage: 4"
_AFTER = re.compile(r"\s*(?::|status\b|fibrosis\b|cirrhosis\b|of\s+(?:4|IV)\b|/\s*(?:4|IV)\b)", re.IGNORECASE)
# Other scales a pathology report stages: liver fibrosis ("grade 1 of 4, stage 4 of 4", "Trichrome (stage IV)").
_OTHER_SCALE = re.compile(r"\b(?:fibrosis|trichrome|hepatitis|cirrho\w*|steatohepatitis|grade\s+\d\s+of)\b",
                          re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:no|not|without|negative|undetermined|cannot|unknown|if|whether|criteria|suspected"
                    r"|possible|rule\s+out)\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?:\.\s|;|\n)")


@dataclass(frozen=True)
class StageGroup:
    """A stated stage group implying M1: ``text[start:end]`` is the phrase ("stage IV", "Stage: IVB")."""

    start: int
    end: int
    group: str


def stage_group_m1(text: str, cancer_type: str | None) -> StageGroup | None:
    """The first stated stage group that implies M1 for ``cancer_type``'s primary, or None."""
    groups = _M1_GROUPS.get(cancer_type or "")
    if not groups:
        return None
    for m in _STAGE.finditer(text):
        group = "IV" + (m.group(2) or "").upper()
        if group not in groups or _FIELD_BEFORE.search(text[max(0, m.start() - 4):m.start()]):
            continue
        if _AFTER.match(text, m.end()):
            continue
        # The sentence so far: a negation or hedge anywhere in it cancels the mention, and so does another scale.
        ends = list(_SENTENCE_END.finditer(text, max(0, m.start() - 120), m.start()))
        left = text[ends[-1].end() if ends else max(0, m.start() - 120):m.start()]
        if _HEDGE.search(left) or _OTHER_SCALE.search(left):
            continue
        return StageGroup(start=m.start(), end=m.end(), group=group)
    return None
