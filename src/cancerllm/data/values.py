"""Normalise a phenotype's surface text to its canonical value, and derive document-level labels.

The coarse TNM classes follow Kefeli & Tatonetti's TCGA work: substage dropped, TX/T0/Tis -> None.

Example:
    >>> normalize_value("stage_t", "ypT2a")
    'T2'
    >>> normalize_value("stage_n", "pN1mi")
    'N1'
    >>> normalize_value("stage_n", "pNO"), normalize_value("stage_t", "pTla"), normalize_value("stage_n", "NOT")
    ('N0', 'T1', None)
    >>> normalize_value("tumor_size", "18 mm")
    '1.8 cm'
    >>> normalize_value("tumor_size", "2.3 x 1.8 x 1.5 cm")
    '2.3 cm'
    >>> normalize_value("stage_t", "pTX") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

__all__ = ["normalize_value", "coarse_stage", "labels_from_mentions", "LABEL_OF_TYPE"]

LABEL_OF_TYPE = {"stage_t": "t_stage", "stage_n": "n_stage", "stage_m": "m_stage"}

_STAGE = {
    "stage_t": re.compile(r"T\s?([0-4]|is|X)", re.I),
    "stage_n": re.compile(r"N\s?([0-3]|X)", re.I),
    "stage_m": re.compile(r"M\s?([01]|X)", re.I),
}
# "2.3 x 1.8 x 1.5 cm": every dimension shares the trailing unit; the value is the greatest dimension.
_SIZE = re.compile(r"((?:\d+(?:\.\d+)?\s*[x×]\s*)*\d+(?:\.\d+)?)\s*(cm|mm)\b", re.I)


def coarse_stage(kind: str, text: str) -> str | None:
    """'pT2a' -> 'T2'; TX/T0/Tis/NX/MX -> None (as in the TCGA labels)."""
    # OCR'd reports write "pNO" for pN0 and "pTla" for pT1a: read the character after the axis letter as a digit.
    text = re.sub(r"([TNM])\s?[Oo](?![A-LN-Za-z])", r"\g<1>0", text)  # "NOMX" packs N0 MX; "NOT" is a word
    text = re.sub(r"([TNM])\s?[lI](?![d-z])", r"\g<1>1", text)
    m = _STAGE[kind].search(text)
    if not m:
        return None
    digit = m.group(1).upper()
    letter = kind[-1].upper()
    if not digit.isdigit() or (letter == "T" and digit == "0"):
        return None
    return f"{letter}{digit}"


def normalize_value(etype: str, text: str) -> str | None:
    """Canonical value for a mention of ``etype``; falls back to the trimmed text."""
    if etype in _STAGE:
        return coarse_stage(etype, text)
    if etype == "tumor_size":
        m = _SIZE.search(text)
        if m:
            dims = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", m.group(1))]
            num = max(dims) / (10 if m.group(2).lower() == "mm" else 1)
            return f"{num:g} cm"
    if etype == "laterality":
        low = text.lower()
        for side in ("bilateral", "left", "right"):
            if side in low:
                return side
    return " ".join(text.split()) or None


def labels_from_mentions(mentions: Iterable[Any]) -> dict[str, str | None]:
    """Document labels from present mentions: the first present value per stage axis, else None.

    Negated, possible, historical and family mentions never set a label ("history of pT1 breast cancer" must not
    stage today's lung tumour).
    """
    labels: dict[str, str | None] = {v: None for v in LABEL_OF_TYPE.values()}
    for m in mentions:
        key = LABEL_OF_TYPE.get(m.type)
        if key and labels[key] is None and m.assertion == "present":
            labels[key] = m.value or coarse_stage(m.type, m.text)
    return labels
