"""Distant metastasis a pathology report documents: "Omentum, biopsy: metastatic cholangiocarcinoma".

AJCC's pathologic M1 is microscopic proof of tumour in a distant organ, so a report that shows carcinoma in the
liver, a rib or the omentum *is* pM1 evidence even when it never writes "pM1". TCGA's registry M label is rarely
stated in the report (pM1 in 24 of 104 M1 train+dev reports), but the metastasis often is. This module finds such
phrases: a metastasis word, neither negated ("no evidence of metastatic carcinoma") nor uncertain ("suspicious of"), with a distant organ near it, where
"distant" depends on the primary (the lung and pleura are not distant for a lung primary, nor the omentum for an
ovarian one; direct extension into a neighbouring organ is a T category, so organs that are often invaded
contiguously, e.g. spleen or diaphragm, are left out). Nodal metastases are N, not M: a lymph-node word near the
phrase excludes it.

On TCGA train+dev (1,648 reports with an M label, 104 M1) it fires in 19 reports, 17 of them M1 (precision 0.89,
recall of M1 0.16); the two others are a bone biopsy of renal carcinoma registered M0 and a report that retracts an
adrenal metastasis in a later sentence.

Example:
    >>> t = "C: Omentum, biopsy: Metastatic cholangiocarcinoma. Lymph nodes: no evidence of metastatic carcinoma."
    >>> [(h.organ, t[h.start:h.end]) for h in find_distant_metastases(t, "CHOL")]
    [('omentum', 'Omentum, biopsy: Metastatic')]
    >>> find_distant_metastases("Lung, left lower lobe: metastatic adenocarcinoma.", "LUAD")
    []
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DistantMetastasis", "find_distant_metastases"]

_ORGANS = {
    "liver": "liver", "hepatic": "liver", "brain": "brain", "cerebral": "brain", "cerebellar": "brain",
    "bone": "bone", "rib": "bone", "vertebra": "bone", "vertebral": "bone", "adrenal": "adrenal",
    "omentum": "omentum", "omental": "omentum", "peritoneum": "peritoneum", "peritoneal": "peritoneum",
    "ovary": "ovary", "ovarian": "ovary", "lung": "lung", "pulmonary": "lung", "pleura": "pleura",
    "pleural": "pleura",
}
_ORGAN = re.compile(r"\b(" + "|".join(_ORGANS) + r")\b", re.IGNORECASE)
# Organs that are the primary's own organ or its regional spread, by TCGA project.
_NOT_DISTANT = {
    "LUAD": {"lung", "pleura"}, "LUSC": {"lung", "pleura"}, "MESO": {"lung", "pleura", "peritoneum"},
    "LIHC": {"liver"}, "CHOL": {"liver"}, "OV": {"ovary", "omentum", "peritoneum"}, "UCEC": {"ovary"},
    "UCS": {"ovary"}, "GBM": {"brain"}, "LGG": {"brain"}, "SARC": {"bone"}, "ACC": {"adrenal"},
    "PCPG": {"adrenal"},
}
_METASTASIS = re.compile(r"\bmetasta(?:tic|sis|ses|size[sd]?)\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:no|not|negative\s+for|free\s+of|without|absence\s+of|absent|uninvolved)\b",
                       re.IGNORECASE)
# "numerous nodules suspicious of tumour metastasis": a possibility is not microscopic proof.
_UNCERTAIN = re.compile(r"\b(?:suspicious|suspected|possible|possibly|probable|probably|cannot\s+be\s+(?:excluded|ruled\s+out)"
                        r"|rule\s+out|r/o|concerning|equivocal|questionable|may\s+represent)\b", re.IGNORECASE)
_NODAL = re.compile(r"lymph|\bnodes?\b|\bnodal\b|\bLN\b", re.IGNORECASE)
# "Distant metastasis: cannot be assessed", "MX": a synoptic field about M, not a finding.
_FIELD = re.compile(r"distant\s+metasta|\bM\s*X\b|cannot\s+be|not\s+(?:applicable|assessed)", re.IGNORECASE)
_BEFORE, _AFTER, _NEG_WINDOW, _NODAL_BEFORE, _NODAL_AFTER = 90, 70, 50, 30, 40


@dataclass(frozen=True)
class DistantMetastasis:
    """A documented distant metastasis: ``text[start:end]`` runs from the organ word to the metastasis word (or
    back), so the span shows both."""

    start: int
    end: int
    organ: str


def find_distant_metastases(text: str, cancer_type: str | None = None) -> list[DistantMetastasis]:
    """Metastasis words, neither negated nor uncertain, with a distant organ (for ``cancer_type``'s primary) within a
    short window."""
    own = _NOT_DISTANT.get(cancer_type or "", set())
    hits = []
    for m in _METASTASIS.finditer(text):
        # Reading backwards: a negation just before ("no evidence of metastatic carcinoma") cancels the phrase.
        left = text[max(0, m.start() - _NEG_WINDOW):m.start()]
        if _NEGATION.search(left) or _UNCERTAIN.search(left):
            continue
        if _FIELD.search(text[max(0, m.start() - 20):m.end() + 40]):
            continue
        lo = max(0, m.start() - _BEFORE)
        window = text[lo:m.end() + _AFTER]
        organs = [o for o in _ORGAN.finditer(window) if _ORGANS[o.group(1).lower()] not in own]
        if not organs:
            continue
        # The organ nearest the metastasis word is the one the phrase is about.
        o = min(organs, key=lambda o: min(abs(lo + o.start() - m.end()), abs(lo + o.end() - m.start())))
        start, end = min(lo + o.start(), m.start()), max(lo + o.end(), m.end())
        # "metastatic carcinoma in 2 of 9 lymph nodes" / "lymph node, liver hilum: metastatic": nodal, N not M.
        after = text[end:end + _NODAL_AFTER].split(". ")[0]  # up to the end of the sentence
        if _NODAL.search(text[max(0, start - _NODAL_BEFORE):end] + after):
            continue
        hits.append(DistantMetastasis(start=start, end=end, organ=_ORGANS[o.group(1).lower()]))
    return hits
