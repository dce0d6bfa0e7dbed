"""Ground a generated phrase in the note: find its character span, Unicode-safe.

Models copy text imperfectly (case, spacing, OCR dots). We try, in order: exact match, case-insensitive match,
and a whitespace/punctuation-tolerant match; the span returned always points at the note's own characters, so
``note[start:end]`` is what the reviewer sees, and offsets are code points (Python ``str`` indices). Nothing is
returned when the phrase is not in the note: an ungrounded value is reported, never passed off as extracted.

Every strategy matches *whole words*: "ER" is not found inside "HER2", "NO" not inside "NOT". A word edge is
where a word character meets a non-word character (or the text ends), plus the edges of a packed TNM token that
:func:`cancerllm.knowledge.tnm.find_tnm` reads: "N1" inside "pT2N1M0" and "T2" inside "pT2" are tokens of the
staging grammar, so a model quoting them is grounded.

When the phrase occurs several times, :func:`align` takes the *nearest free* occurrence: not already used by an
earlier mention, and closest to where the previous mention ended (ties go forward). A model that lists a
mention out of order is grounded on the nearby occurrence, not on a later repeat.

Example:
    >>> align("Tumor: pT2 N0. Size 2.3 cm.", "PT2")
    (7, 10)
    >>> align("Résumé: carcinome canalaire", "carcinome  canalaire")
    (8, 27)
    >>> align("HER2 negative. ER positive", "ER")
    (15, 17)
    >>> align("no such text", "melanoma") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache

__all__ = ["align", "align_all"]

_WORD = re.compile(r"\w")


def _is_word(ch: str) -> bool:
    return _WORD.match(ch) is not None


@lru_cache(maxsize=16)
def _tnm_edges(text: str) -> frozenset[int]:
    """Offsets where a packed TNM token starts, ends, or its axis letter follows the prefix ("p|T2", "T2|N1")."""
    from cancerllm.knowledge.tnm import find_tnm

    edges: set[int] = set()
    for m in find_tnm(text):
        edges.update((m.start, m.start + len(m.prefix), m.end))
    return frozenset(edges)


def _whole_word(text: str, start: int, end: int) -> bool:
    """True when ``text[start:end]`` does not cut a word at either end (see the module docstring)."""
    left = start == 0 or not (_is_word(text[start - 1]) and _is_word(text[start]))
    right = end == len(text) or not (_is_word(text[end - 1]) and _is_word(text[end]))
    if left and right:
        return True
    edges = _tnm_edges(text)  # only computed for a candidate glued to a word, which is rare
    return (left or start in edges) and (right or end in edges)


def _loose_pattern(phrase: str) -> re.Pattern[str] | None:
    tokens = re.findall(r"\w+", phrase)
    if not tokens:
        return None
    # Tokens in order, separated by any run of non-word characters (spaces, OCR dots, hyphens).
    return re.compile(r"\W*".join(re.escape(t) for t in tokens), re.IGNORECASE)


def _occurrences(text: str, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Every whole-word match, overlapping ones included (finditer alone would skip "ER" after a rejected one)."""
    out = []
    for m in re.finditer(f"(?=({pattern.pattern}))", text, pattern.flags):
        span = m.span(1)
        if span[1] > span[0] and _whole_word(text, *span):
            out.append(span)
    return out


def _strategies(text: str, phrase: str) -> Iterator[list[tuple[int, int]]]:
    """Whole-word spans per strategy, strictest first: exact, case-insensitive, whitespace/punctuation-tolerant."""
    phrase = phrase.strip()
    if not phrase:
        return
    yield _occurrences(text, re.compile(re.escape(phrase)))
    yield _occurrences(text, re.compile(re.escape(phrase), re.IGNORECASE))
    loose = _loose_pattern(phrase)
    if loose is not None:
        yield _occurrences(text, loose)


def align_all(text: str, phrase: str) -> list[tuple[int, int]]:
    """Every whole-word span where ``phrase`` occurs, using the first strategy that finds any.

    Example:
        >>> align_all("ER+; HER2 0; er positive; ER", "ER")
        [(0, 2), (26, 28)]
    """
    return next((spans for spans in _strategies(text, phrase) if spans), [])


def _distance(span: tuple[int, int], after: int) -> tuple[int, int, int]:
    """Sort key: characters between the cursor and the span, then forward before backward, then position."""
    start, end = span
    if start >= after:
        return start - after, 0, start
    return max(0, after - end), 1, start


def align(text: str, phrase: str, after: int = 0, taken: set[tuple[int, int]] | None = None,
          accept: Callable[[int, int], bool] | None = None) -> tuple[int, int] | None:
    """The free whole-word span of ``phrase`` nearest to offset ``after``, or None.

    Args:
        text: the note (or chunk).
        phrase: the text the model quoted.
        after: where the previous mention ended; the nearest occurrence to it wins, ties go forward.
        taken: spans already used by earlier mentions; never returned again.
        accept: optional check of a candidate span (e.g. "holds a T category"); rejected spans are skipped.

    Returns:
        ``(start, end)`` in code points with ``text[start:end]`` matching ``phrase`` under the strategy that
        found it; a stricter strategy's free, accepted spans win over a looser one's.

    Example:
        >>> note = "Grade 2. pT2 N0. Summary: pT2 N0."
        >>> align(note, "pT2", after=8), align(note, "pT2", after=8, taken={(9, 12)})
        ((9, 12), (26, 29))
    """
    for spans in _strategies(text, phrase):
        free = [s for s in spans if (not taken or s not in taken) and (accept is None or accept(*s))]
        if free:
            return min(free, key=lambda s: _distance(s, after))
    return None
