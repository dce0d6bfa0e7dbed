"""Normalise a phenotype's surface text to its canonical value, and derive document-level labels.

The coarse TNM classes follow Kefeli & Tatonetti's TCGA work: substage dropped, TX/T0/Tis -> None. A stage value
is read by :func:`cancerllm.knowledge.tnm.read_value` from one token of the right axis, case-sensitively, so
"at 3 o'clock, pT2" is T2 (never T3 from "t 3") and "in 2 of 14 nodes (pN1)" is N1 (never N2).

Example:
    >>> normalize_value("stage_t", "ypT2a")
    'T2'
    >>> normalize_value("stage_n", "pN1mi")
    'N1'
    >>> normalize_value("stage_n", "pNO"), normalize_value("stage_t", "pTla"), normalize_value("stage_n", "NOT")
    ('N0', 'T1', None)
    >>> normalize_value("stage_t", "at 3 o'clock, pT2"), normalize_value("stage_n", "in 2 of 14 nodes (pN1)")
    ('T2', 'N1')
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

from cancerllm.knowledge.tnm import TnmMatch, gold_class, read_value, stated_classes

__all__ = ["LABEL_OF_TYPE", "coarse_stage", "evidence_source", "greatest_dimension_cm", "labels_from_mentions",
           "normalize_value", "staged_without_pm", "stated_labels"]

LABEL_OF_TYPE = {"stage_t": "t_stage", "stage_n": "n_stage", "stage_m": "m_stage"}

# "2.3 x 1.8 x 1.5 cm": every dimension shares the trailing unit; the value is the greatest dimension.
_SIZE = re.compile(r"((?:\d+(?:\.\d+)?\s*[x×]\s*)*\d+(?:\.\d+)?)\s*(cm|mm)\b", re.IGNORECASE)


def greatest_dimension_cm(dims: str, unit: str) -> float:
    """The largest dimension of ``"3.0 x 2.5 x 2.0"`` in centimetres (``unit`` "cm" or "mm"; "0,5" reads 0.5).

    >>> greatest_dimension_cm("2.6 x 1.9 x 1.0", "cm"), greatest_dimension_cm("18", "MM")
    (2.6, 1.8)
    """
    values = [float(v.replace(",", ".")) for v in re.findall(r"\d+(?:[.,]\d+)?", dims)]
    return max(values) / (10.0 if unit.lower() == "mm" else 1.0)


def stated_labels(text: str) -> dict[str, TnmMatch]:
    """The class each document label (``t_stage``, ``n_stage``, ``m_stage``) is stated as in ``text``, by label
    (:func:`~cancerllm.knowledge.tnm.stated_classes` keyed by axis)."""
    return {LABEL_OF_TYPE[m.type]: m for m in stated_classes(text).values()}


def staged_without_pm(stated: dict[str, Any]) -> bool:
    """Whether a report states pT or pN but no pM (``stated`` as :func:`stated_labels` returns it): pathologists
    record pM only when a distant metastasis was sampled, so such a report is M0 unless it documents one.

    >>> staged_without_pm(stated_labels("pT2 pN0")), staged_without_pm(stated_labels("pT2 pN0 pM1"))
    (True, False)
    """
    return "m_stage" not in stated and bool({"t_stage", "n_stage"} & set(stated))


def evidence_source(text: str, m: TnmMatch) -> dict[str, Any]:
    """The ``label_sources`` entry of a label read from a stated token: its span and ``text[start:end]``.

    Example:
        >>> t = "Final: pT2 N0."
        >>> evidence_source(t, stated_labels(t)["t_stage"])
        {'source': 'evidence', 'start': 7, 'end': 10, 'text': 'pT2'}
    """
    return {"source": "evidence", "start": m.start, "end": m.end, "text": text[m.start:m.end]}


def coarse_stage(kind: str, text: str) -> str | None:
    """'pT2a' -> 'T2'; TX/T0/Tis/NX/MX -> None (as in the TCGA labels). OCR 'pNO'/'pTla' read as N0/T1."""
    return gold_class(read_value(text, kind))


def normalize_value(etype: str, text: str) -> str | None:
    """Canonical value for a mention of ``etype``; falls back to the trimmed text."""
    if etype in LABEL_OF_TYPE:
        return coarse_stage(etype, text)
    if etype == "tumor_size":
        m = _SIZE.search(text)
        if m:
            return f"{greatest_dimension_cm(m.group(1), m.group(2)):g} cm"
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
