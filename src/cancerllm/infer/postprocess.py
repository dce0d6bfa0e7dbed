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
from cancerllm.data.values import LABEL_OF_TYPE, normalize_value

# A stage mention must name its axis with a category: T0-4/Tis/TX, N0-3/NX, M0-1/MX (with p/c/y/r prefixes, OCR "NO").
_STAGE_TOKEN = {k: re.compile(rf"{k[-1].upper()}\s?([0-4OXx]|is|o\b|l(?![d-z]))") for k in ("stage_t", "stage_n", "stage_m")}

__all__ = ["ground_mentions", "merge_mentions", "check_diagnosis", "vote_diagnosis", "cancer_type_of"]


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
        span = align(chunk_text, text, after=cursor, taken=taken)
        if span is None:
            errors.append(f"{etype} mention text not found in the note ({len(text)} chars); dropped")
            continue
        surface = chunk_text[span[0]:span[1]]
        if etype in LABEL_OF_TYPE and not _STAGE_TOKEN[etype].search(surface):
            # "A" or "stage_t" found somewhere in the note is not a T/N/M category: grounded text, wrong content.
            errors.append(f"{etype} text is not a {etype[-1].upper()} category ({len(text)} chars); dropped")
            continue
        taken.add(span)
        cursor = span[1]
        norm = normalize_value(etype, surface) if etype in LABEL_OF_TYPE else (value or normalize_value(etype, surface))
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


def check_diagnosis(text: str | None, icd10: str | None) -> tuple[Diagnosis | None, list[str]]:
    """Validate the ICD-10-CM code (repair to the nearest valid ancestor) and attach the cancer type."""
    from cancerllm.data import icd

    errors: list[str] = []
    if not text:
        return None, ["no diagnosis text"]
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
    from cancerllm.data.icd import TCGA_PROJECTS

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
