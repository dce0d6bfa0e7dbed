"""Biomarker-gated drugs: which biomarker result a targeted or endocrine therapy requires.

Written from the indications of the FDA labels (Indications and Usage section, and the companion-diagnostic list),
not from the synthetic generator: trastuzumab is given for HER2-overexpressing (IHC 3+) or HER2-amplified cancer,
cetuximab and panitumumab for RAS wild-type colorectal cancer, osimertinib for EGFR-mutated NSCLC, an aromatase
inhibitor for hormone-receptor (ER and/or PR) positive breast cancer. A drug with several gated indications lists
each (pembrolizumab: MSI-high / dMMR tumours, or PD-L1 expressing NSCLC).

Some requirements hold for some cancers only (``scope``): pembrolizumab needs PD-L1 expression in NSCLC, head and
neck, cervical, gastric / oesophageal and triple-negative breast cancer, not in melanoma or kidney cancer; nivolumab
needs MSI-high / dMMR only in colorectal cancer (its gastric, melanoma, lung and kidney labels need no biomarker).
A scoped requirement applies only when the note's cancer is known to be in scope.

A biomarker satisfies a requirement only when its *result* does: "HER2 negative", "HER2 2+" (equivocal, needs ISH),
"ER 0%" or "KRAS G12D" never indicate the drug that needs the opposite, so a negative result is never a tail.

Example:
    >>> [(r.marker, r.need) for r in requirements("targeted: trastuzumab")]
    [('HER2', 'positive')]
    >>> indicates("targeted: cetuximab", "KRAS: wild-type"), indicates("targeted: cetuximab", "KRAS: G12D")
    (True, False)
    >>> indicates("hormonal: letrozole", "PR: 80%"), indicates("targeted: trastuzumab", "HER2: 2+")
    (True, False)
    >>> indicates("pembrolizumab", "PD-L1: TPS 50%", cancer="NSCLC"), indicates("pembrolizumab", "PD-L1: CPS 10",
    ...                                                                          cancer="melanoma SKCM")
    (True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["GATED_DRUGS", "Requirement", "indicates", "requirements", "satisfies"]

_I = re.IGNORECASE


@dataclass(frozen=True)
class Requirement:
    """One biomarker result a drug's label requires: ``marker`` (a :data:`~cancerllm.knowledge.phenotypes.BIOMARKERS`
    name) and ``need`` (positive | mutated | rearranged | wild-type | G12C | V600 | high)."""

    marker: str
    need: str
    scope: str | None = None
    """A regex over the note's cancer (diagnosis texts and codes) that must match; None = any cancer."""


_HER2 = (Requirement("HER2", "positive"),)
_HR = (Requirement("ER", "positive"), Requirement("PR", "positive"))  # hormone-receptor positive = ER and/or PR
_EGFR = (Requirement("EGFR", "mutated"),)
_ALK = (Requirement("ALK", "rearranged"),)
_RAS_WT = (Requirement("KRAS", "wild-type"),)
_G12C = (Requirement("KRAS", "G12C"),)
_V600 = (Requirement("BRAF", "V600"),)
_MSI = (Requirement("MSI", "high"), Requirement("MMR", "high"))  # MSI-high or mismatch-repair deficient
_CRC = r"colo|rect|\bCRC\b|COAD|READ"
_PDL1_PEMBRO = (r"lung|NSCLC|LUAD|LUSC|head\s+and\s+neck|HNSC|oropharyn|laryn|oral|cervi|CESC|gastric|stomach|STAD"
                r"|o?esophag|ESCA|triple[- ]negative|TNBC")

GATED_DRUGS: dict[str, tuple[Requirement, ...]] = {
    # HER2-directed (breast, gastric / GEJ): IHC 3+ or ISH amplified.
    "trastuzumab": _HER2, "pertuzumab": _HER2, "ado-trastuzumab emtansine": _HER2, "t-dm1": _HER2,
    "lapatinib": _HER2, "neratinib": _HER2, "tucatinib": _HER2, "margetuximab": _HER2,
    # Endocrine therapy and CDK4/6 inhibitors (HR-positive breast cancer).
    "tamoxifen": _HR, "letrozole": _HR, "anastrozole": _HR, "exemestane": _HR, "fulvestrant": _HR,
    "aromatase inhibitor": _HR, "palbociclib": _HR, "ribociclib": _HR, "abemaciclib": _HR,
    # EGFR tyrosine-kinase inhibitors (EGFR-mutated NSCLC).
    "osimertinib": _EGFR, "erlotinib": _EGFR, "gefitinib": _EGFR, "afatinib": _EGFR, "dacomitinib": _EGFR,
    "amivantamab": _EGFR,
    # ALK inhibitors (ALK-positive NSCLC).
    "crizotinib": _ALK, "alectinib": _ALK, "brigatinib": _ALK, "lorlatinib": _ALK, "ceritinib": _ALK,
    # Anti-EGFR antibodies (RAS wild-type colorectal cancer).
    "cetuximab": _RAS_WT, "panitumumab": _RAS_WT,
    # KRAS G12C inhibitors.
    "sotorasib": _G12C, "adagrasib": _G12C,
    # BRAF / MEK inhibitors (BRAF V600E or V600K).
    "vemurafenib": _V600, "dabrafenib": _V600, "encorafenib": _V600, "trametinib": _V600, "cobimetinib": _V600,
    "binimetinib": _V600,
    # Checkpoint inhibitors with a biomarker-gated label: MSI-high / dMMR (and PD-L1 for pembrolizumab in NSCLC).
    "pembrolizumab": _MSI + (Requirement("PD-L1", "positive", _PDL1_PEMBRO),), "dostarlimab": _MSI,
    "nivolumab": tuple(Requirement(r.marker, r.need, _CRC) for r in _MSI),
}

_DRUG_RX = re.compile(r"\b(" + "|".join(sorted(map(re.escape, GATED_DRUGS), key=len, reverse=True)) + r")\b", _I)
# A result that contradicts every "positive"-type need; "not amplified" and "non-mutated" are caught by \bnot / non.
_NEGATIVE = re.compile(r"negative|\bnot\b|\bnon|\bno\b|wild[- ]?type|absent|equivocal|intact|stable|\blow\b|"
                       r"^-$|^[0-2]\+$|undetected", _I)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%?")
_NEEDS = {
    "positive": re.compile(r"positive|amplified|overexpress|^\+$|^3\+$|high", _I),
    "mutated": re.compile(r"mutat|\b[A-Z]\d{2,4}[A-Z]\b|exon\s*\d+|deletion|insertion|detected", _I),
    "rearranged": re.compile(r"rearrang|fusion|positive|detected", _I),
    "G12C": re.compile(r"\bG12C\b", _I),
    "V600": re.compile(r"\bV600[EK]?\b", _I),
    "high": re.compile(r"high|MSI-H\b|unstable|instability|lost|deficient|dMMR", _I),
}


def requirements(treatment: str) -> list[Requirement]:
    """The requirements of every gated drug named in a treatment value or text ('targeted: dabrafenib/trametinib')."""
    out: list[Requirement] = []
    for m in _DRUG_RX.finditer(treatment):
        out += [r for r in GATED_DRUGS[m.group(1).lower()] if r not in out]
    return out


def satisfies(result: str, need: str) -> bool:
    """Whether a biomarker ``result`` ('positive', '3+', '90%', 'L858R', 'wild-type') meets ``need``.

    A percentage counts as positive from 1% (ASCO/CAP ER/PR cut-off; PD-L1 TPS >= 1% for NSCLC).
    """
    result = " ".join(result.split())
    if need == "wild-type":
        return bool(re.search(r"wild[- ]?type|negative|not\s+(?:mutated|detected)|no\s+mutation", result, _I))
    if need == "positive" and (pct := _PERCENT.search(result)) and "+" not in result:
        return float(pct.group(1)) >= 1 and not _NEGATIVE.search(result)
    if need in ("G12C", "V600"):  # a named variant: only that one
        return bool(_NEEDS[need].search(result))
    if need == "high" and re.search(r"lost|deficient", result, _I):  # MMR protein loss = dMMR
        return True
    return bool(_NEEDS[need].search(result)) and not _NEGATIVE.search(result)


def indicates(treatment: str, biomarker_value: str, cancer: str = "") -> bool:
    """Whether the biomarker value ('HER2: 3+') is a result some gated drug of ``treatment`` requires.

    ``cancer`` is the note's cancer (its diagnosis texts and codes, e.g. "NSCLC LUAD"); a requirement with a
    ``scope`` counts only when it matches.
    """
    marker, _, result = biomarker_value.partition(":")
    return any(r.marker == marker.strip() and satisfies(result, r.need)
               and (r.scope is None or re.search(r.scope, cancer, _I)) for r in requirements(treatment))
