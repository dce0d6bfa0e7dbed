"""Ground a generated phrase in the note: find its character span, Unicode-safe.

Models copy text imperfectly (case, spacing, OCR dots). We try, in order: exact match, case-insensitive match,
and a whitespace/punctuation-tolerant match; the span returned always points at the note's own characters, so
``note[start:end]`` is what the reviewer sees. Nothing is returned when the phrase is not in the note: an
ungrounded value is reported, never passed off as extracted.

Example:
    >>> align("Tumor: pT2 N0. Size 2.3 cm.", "PT2")
    (7, 10)
    >>> align("Résumé: carcinome canalaire", "carcinome  canalaire")
    (8, 27)
    >>> align("no such text", "melanoma") is None
    True
"""

from __future__ import annotations

import re

__all__ = ["align", "align_all"]


def _loose_pattern(phrase: str) -> re.Pattern[str] | None:
    tokens = re.findall(r"\w+", phrase)
    if not tokens:
        return None
    # Tokens in order, separated by any run of non-word characters (spaces, OCR dots, hyphens).
    return re.compile(r"(?<!\w)" + r"\W*".join(re.escape(t) for t in tokens) + r"(?!\w)", re.I)


def align_all(text: str, phrase: str) -> list[tuple[int, int]]:
    """Every span where ``phrase`` occurs, using the first strategy that finds any."""
    phrase = phrase.strip()
    if not phrase:
        return []
    exact = [(m.start(), m.end()) for m in re.finditer(re.escape(phrase), text)]
    if exact:
        return exact
    folded = [(m.start(), m.end()) for m in re.finditer(re.escape(phrase), text, re.I)]
    if folded:
        return folded
    pat = _loose_pattern(phrase)
    return [(m.start(), m.end()) for m in pat.finditer(text)] if pat else []


def align(text: str, phrase: str, after: int = 0, taken: set[tuple[int, int]] | None = None) -> tuple[int, int] | None:
    """The first span of ``phrase`` at or after ``after`` not already ``taken``; else the first free one."""
    spans = [s for s in align_all(text, phrase) if not taken or s not in taken]
    if not spans:
        return None
    later = [s for s in spans if s[0] >= after]
    return (later or spans)[0]
