"""Turn parsed generations into grounded, validated output: spans, values, ICD-10-CM codes, cancer type.

Every mention must be found in the note (``note[start:end] == mention.text``); values the model states without
quoting the note are kept only as ``inferred`` mentions for the stage axes, and flagged in ``errors`` otherwise.
Diagnosis codes are checked against the packaged ICD-10-CM table; an invalid code is repaired to its nearest
valid ancestor when one exists (and the repair is reported), else dropped with an error.

Example:
    >>> ms, errs = ground_mentions("Dx: carcinoma. pT2 N0.", 0, [
    ...     {"type": "stage_t", "text": "pT2", "value": None, "assertion": "present"},
    ...     {"type": "stage_n", "text": "N9", "value": "N0", "assertion": "present"}])
    >>> [(m.text, m.start, m.end, m.value) for m in ms]
    [('pT2', 15, 18, 'T2')]
    >>> errs
    ['stage_n mention text not found in the note (2 chars); dropped']
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from cancerllm.data.align import align
from cancerllm.data.schema import Diagnosis, Mention
from cancerllm.knowledge.tnm import gold_class, read_match
from cancerllm.knowledge.values import LABEL_OF_TYPE, normalize_value

__all__ = [
    "cancer_type_of",
    "check_diagnosis",
    "diagnosis_terms",
    "ground_mentions",
    "merge_mentions",
    "vote_diagnosis",
]


def _holds_category(chunk_text: str, etype: str):
    """``accept(start, end)`` for :func:`align`: True when the span holds a token of ``etype``'s axis."""
    return lambda s, e: read_match(chunk_text[s:e], etype, context=chunk_text, offset=s) is not None


def ground_mentions(chunk_text: str, offset: int, parsed: list[dict[str, Any]]) -> tuple[list[Mention], list[str]]:
    """Align parsed mentions inside one chunk and shift them to note offsets."""
    out: list[Mention] = []
    errors: list[str] = []
    taken: set[tuple[int, int]] = set()
    cursor = 0
    for p in parsed:
        etype, text, value = p["type"], p.get("text"), p.get("value")
        if text is None:
            # A stated-but-unquoted value: keep for stage axes as inferred (never counted as grounded).
            norm = normalize_value(etype, value) if etype in LABEL_OF_TYPE else None
            if norm:
                out.append(Mention(type=etype, text=value, value=norm, assertion=p["assertion"], inferred=True))
            else:
                errors.append(f"{etype} value without note text; dropped")
            continue
        # A stage mention must name its axis with a category (T0-4/Tis/TX, N0-3/NX, M0-1/MX): the guard and the
        # value come from the same token (read_match), so "at 3 o'clock, pT2" is T2, never T3 from "t 3".
        accept = _holds_category(chunk_text, etype) if etype in LABEL_OF_TYPE else None
        span = align(chunk_text, text, after=cursor, taken=taken, accept=accept)
        if span is None:
            if accept is not None and align(chunk_text, text, after=cursor, taken=taken) is not None:
                # "A" or "NOT" found in the note is not a T/N/M category: grounded text, wrong content.
                errors.append(f"{etype} text is not a {etype[-1].upper()} category ({len(text)} chars); dropped")
            else:
                errors.append(f"{etype} mention text not found in the note ({len(text)} chars); dropped")
            continue
        surface = chunk_text[span[0]:span[1]]
        taken.add(span)
        cursor = span[1]
        if etype in LABEL_OF_TYPE:
            norm = gold_class(read_match(surface, etype, context=chunk_text, offset=span[0]).value)
        else:
            norm = value or normalize_value(etype, surface)
        out.append(Mention(type=etype, text=surface, start=span[0] + offset, end=span[1] + offset,
                           value=norm, assertion=p["assertion"]))
    return out, errors


def merge_mentions(mentions: list[Mention]) -> list[Mention]:
    """Drop duplicates from overlapping chunks (same type and span), order by position; inferred ones last."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for m in sorted(mentions, key=lambda m: (m.start is None, m.start or 0, m.end or 0, m.type)):
        key = (m.type, m.start, m.end) if m.start is not None else (m.type, m.value, m.assertion)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out


# Words every cancer name shares ("carcinoma", "cell"): they cannot tell this patient's diagnosis from another's.
_GENERIC = frozenset(["adenocarcinoma", "and", "b", "cancer", "carcinoma", "cell", "cells", "diffuse", "grade",
                      "invasive", "large", "lower", "malignant", "neoplasm", "of", "primary", "the", "tumor", "tumors",
                      "type", "with"])
# How reports write a name's site word: "kidney renal clear cell carcinoma" for a report that says "nephrectomy",
# "brain lower grade glioma" for "oligodendroglioma". Chosen on the TCGA train split, where the gold project name
# then finds a key term in 99% of reports (29 of 2,436 miss, mostly breast reports without a site word).
_SITE_WORDS = {
    "brain": ("gliom", "astrocyt", "cerebr"), "breast": ("mammar", "mastect", "lumpect", "nipple"),
    "cervical": ("cervix",), "colon": ("colect", "cecum", "sigmoid"), "esophageal": ("esophag", "oesophag"),
    "head": ("oral", "tongue", "laryn", "phary", "tonsil"), "kidney": ("renal", "nephr"), "liver": ("hepat",),
    "lung": ("pulmon", "bronch", "lobect"), "neck": ("oral", "tongue", "laryn", "phary", "tonsil"),
    "ovarian": ("ovary", "ovari", "adnex"), "rectum": ("recta",), "skin": ("cutane", "derm"),
    "stomach": ("gastr",), "testicular": ("testis", "semino", "orchiect"),
    "uterine": ("uterus", "endometr", "hysterect"), "uveal": ("choroid", "ciliary", "enucleat"),
}


def diagnosis_terms(text: str, note: str) -> tuple[int, int]:
    """``(found, total)``: key terms of a diagnosis statement that occur in the note (stem or site synonym).

    Key terms are the statement's words minus those all cancer names share; a term occurs when its first five
    letters, or a way reports write that site, appear in the note ("renal" for "kidney", "gastr" for "stomach").

    Example:
        >>> diagnosis_terms("lung adenocarcinoma", "Sigmoid colon: adenocarcinoma, pT3 N0.")
        (0, 1)
        >>> diagnosis_terms("kidney renal clear cell carcinoma", "Nephrectomy: clear cell renal cell carcinoma.")
        (3, 3)
    """
    low = note.lower()
    terms = [w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2 and w not in _GENERIC]
    found = sum(any(stem in low for stem in (t[:5], *_SITE_WORDS.get(t, ()))) for t in terms)
    return found, len(terms)


def check_diagnosis(text: str | None, icd10: str | None,
                    note: str | None = None) -> tuple[Diagnosis | None, list[str]]:
    """Validate the ICD-10-CM code (repair to the nearest valid ancestor) and attach the cancer type.

    With ``note`` (the text the model read), the statement is also checked against it: a diagnosis none of whose
    key terms occur in the note (see :func:`diagnosis_terms`) was not read from this patient's report; the usual
    cause is a retrieved example (another patient) copied into the answer. It is kept, so a reviewer sees what
    the model said, but reported in ``errors`` as not grounded.

    Example:
        >>> dx, errs = check_diagnosis("lung adenocarcinoma", "C34.90", note="Sigmoid colon: adenocarcinoma.")
        >>> dx.cancer_type, len(errs)
        ('LUAD', 1)
        >>> print(errs[0])
        diagnosis text not grounded: none of its 1 key term(s) occurs in the note (copied from a retrieved example?)
    """
    from cancerllm.knowledge import icd

    errors: list[str] = []
    if not text:
        return None, ["no diagnosis text"]
    if note is not None:
        found, total = diagnosis_terms(text, note)
        if total and not found:
            # Counts only: the words may come from another patient's report, and errors never quote clinical text.
            errors.append(f"diagnosis text not grounded: none of its {total} key term(s) occurs in the note "
                          "(copied from a retrieved example?)")
    code = None
    if icd10:
        if icd.is_valid(icd10):
            code = icd.normalize(icd10)
        else:
            repaired = icd.nearest_valid(icd10)
            if repaired:
                errors.append(f"ICD-10-CM code {icd10[:12]!r} is not valid; repaired to {repaired}")
                code = repaired
            else:
                errors.append(f"ICD-10-CM code {icd10[:12]!r} is not valid and has no valid ancestor; dropped")
    else:
        errors.append("no ICD-10-CM code in output")
    return Diagnosis(text=text.strip(), icd10=code, cancer_type=cancer_type_of(text)), errors


def cancer_type_of(text: str | None) -> str | None:
    """TCGA project whose name best matches the diagnosis text (exact name first, then word overlap)."""
    from cancerllm.knowledge.icd import TCGA_PROJECTS

    if not text:
        return None
    low = " ".join(text.lower().split())
    names = {code: info.name.lower() for code, info in TCGA_PROJECTS.items()}
    for code, name in names.items():
        if low == name:
            return code
    words = set(low.replace(",", " ").split())
    best, best_score = None, 0.0
    for code, name in names.items():
        nw = set(name.replace(",", " ").split())
        score = len(words & nw) / len(words | nw) if nw else 0.0
        if score > best_score:
            best, best_score = code, score
    return best if best_score >= 0.5 else None


def vote_diagnosis(candidates: list[tuple[str | None, str | None]]) -> tuple[str | None, str | None]:
    """Majority vote over per-chunk (text, code) answers; ties go to the earliest chunk."""
    answered = [(t.strip(), c) for t, c in candidates if t]
    if not answered:
        return None, None
    counts = Counter(t.lower() for t, _ in answered)
    top = max(counts.values())
    return next((t, c) for t, c in answered if counts[t.lower()] == top)
