"""Split long notes into overlapping chunks that fit a token budget, keeping exact character offsets.

Three promises, checked by property tests (``tests/data/test_chunking.py``) with a real tokenizer:

* **budget**: ``count_tokens(chunk.text) <= max_tokens`` for every chunk; the count is measured, never estimated
  from an average characters-per-token ratio (a window sized by the average can hold twice the tokens when the
  note mixes dense abbreviations and long words);
* **coverage**: the chunks cover every character, in order, and ``text[c.start:c.end] == c.text``;
* **overlap**: consecutive chunks share at least ``min(overlap_chars, half the previous chunk)`` characters, so a
  short phrase cut by a chunk edge ("pT2 N0" split as "pT" | "2 N0") is seen whole in the next chunk. The overlap
  is smaller only when the tokenizer cannot fit it plus one new character in ``max_tokens`` (a budget of a few
  tokens; real prompt budgets are hundreds).

Chunks end at a sentence boundary (". ", "; ", a newline) when one lies in the second half of the window, else
at a space, so a TNM string is rarely cut at all; the next chunk starts at a word start.

Example:
    >>> text = "Diagnosis: carcinoma. Margins negative. pT2 N0. Grade 2."
    >>> chunks = chunk_text(text, max_tokens=6, count_tokens=lambda s: len(s.split()), overlap_chars=0)
    >>> [(c.start, c.end) for c in chunks]
    [(0, 48), (48, 56)]
    >>> chunks = chunk_text(text, max_tokens=6, count_tokens=lambda s: len(s.split()), overlap_chars=10)
    >>> [(c.start, c.end) for c in chunks], all(text[c.start:c.end] == c.text for c in chunks)
    ([(0, 48), (30, 56)], True)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_text"]

# A sentence ends at ". ", "; " or a newline; OCR'd TCGA reports end every line with ". ".
_BOUNDARY = re.compile(r"(?<=[.;:!?])\s+|\n+")
_SPACE = re.compile(r"\s+")
# How far back (characters) a chunk start may move to begin at a word instead of mid-word.
_WORD_SNAP = 24


@dataclass(frozen=True)
class Chunk:
    """A slice of a note: ``text == note[start:end]``."""

    text: str
    start: int
    end: int


def _longest_fit(text: str, start: int, lo: int, max_tokens: int, count: Callable[[str], int], guess: int) -> int:
    """A large ``end`` in ``[lo, len(text)]`` with ``count(text[start:end]) <= max_tokens`` (needs that at ``lo``).

    Brackets the answer around ``start + guess`` (the previous window's length, so usually two probes), then
    bisects to within ``guess // 64`` characters: the end is snapped back to a sentence boundary afterwards, so the
    last few characters of precision would only cost tokenizer calls. Token counts are not strictly monotone in
    the length (a BPE merge can make a longer string shorter), so the returned end is always one whose count was
    measured, never inferred.
    """
    n = len(text)

    def fits(end: int) -> bool:
        return count(text[start:end]) <= max_tokens

    good, bad = lo, n + 1  # good: measured to fit; bad: measured to overflow (n + 1 = not measured yet)
    step = max(8, guess // 8)
    probe = min(n, max(lo, start + guess))
    if probe > good and fits(probe):  # walk up from the guess until a window overflows
        good = probe
        while good < n:
            probe = min(n, good + step)
            if not fits(probe):
                bad = probe
                break
            good, step = probe, step * 2
        if good == n:
            return n
    elif probe > good:  # walk down from the guess until a window fits
        bad = probe
        while bad - step > good:
            if fits(bad - step):
                good = bad - step
                break
            bad, step = bad - step, step * 2
    tolerance = max(1, guess // 64)
    while bad - good > tolerance:  # bisect between a measured fit and an overflow
        mid = (good + bad) // 2
        if fits(mid):
            good = mid
        else:
            bad = mid
    return good


def _snap_end(text: str, start: int, end: int, lo: int) -> int:
    """Move ``end`` back to the last sentence boundary (else space) in the window's second half, not below ``lo``."""
    floor = max(lo, start + (end - start) // 2)
    window = text[floor:end]
    for pattern in (_BOUNDARY, _SPACE):
        cuts = [floor + m.end() for m in pattern.finditer(window)]
        cuts = [c for c in cuts if floor <= c <= end]
        if cuts:
            return cuts[-1]
    return end


def _next_start(text: str, prev: Chunk, overlap_chars: int, max_tokens: int, count: Callable[[str], int]) -> int:
    """Where the chunk after ``prev`` starts: ``min(overlap_chars, len(prev) // 2)`` back, at a word start."""
    target = prev.end - min(overlap_chars, (prev.end - prev.start) // 2)
    candidates = [target]
    if target < prev.end:  # prefer starting at a word: back up to the space before it (overlap only grows)
        space = text.rfind(" ", max(prev.start + 1, target - _WORD_SNAP), target)
        if space >= 0 and text[target - 1:target] != " ":
            candidates.insert(0, space + 1)
    for s in candidates:
        if count(text[s:prev.end + 1]) <= max_tokens:
            return s
    # The budget cannot hold this much overlap plus one new character: shrink the overlap until it can.
    s = target
    while s < prev.end and count(text[s:prev.end + 1]) > max_tokens:
        s += max(1, (prev.end - s) // 2)
    return s


def chunk_text(text: str, max_tokens: int, count_tokens: Callable[[str], int], overlap_chars: int = 200) -> list[Chunk]:
    """Cover ``text`` with chunks of at most ``max_tokens`` tokens that overlap by about ``overlap_chars``.

    Args:
        text: the note.
        max_tokens: token budget for the note part of one prompt.
        count_tokens: tokenizer-backed counter (``lambda s: len(tok(s, add_special_tokens=False).input_ids)``).
        overlap_chars: characters of the previous chunk repeated at the start of the next (at most half of it).
    Returns:
        Chunks in order whose union is ``text``; a text that fits is one chunk.
    Raises:
        ValueError: ``max_tokens < 1``, ``overlap_chars < 0``, or one character alone needs more than ``max_tokens``
            tokens (the message gives its offset, never the text).
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if overlap_chars < 0:
        raise ValueError(f"overlap_chars must be >= 0, got {overlap_chars}")
    if not text:
        return [Chunk("", 0, 0)]
    total = count_tokens(text)
    if total <= max_tokens:
        return [Chunk(text, 0, len(text))]
    # First guess of a window's length in characters; only a starting point for the measured search.
    guess = max(1, len(text) * max_tokens // total)
    chunks: list[Chunk] = []
    start = 0
    while True:
        lo = chunks[-1].end + 1 if chunks else start + 1  # every chunk must bring at least one new character
        if count_tokens(text[start:lo]) > max_tokens:
            raise ValueError(f"the character at offset {lo - 1} alone needs more than max_tokens={max_tokens} tokens")
        end = _longest_fit(text, start, lo, max_tokens, count_tokens, guess)
        guess = max(1, end - start)  # the next window holds about as many characters as this one
        if end < len(text):
            snapped = _snap_end(text, start, end, lo)
            # A shorter string can still count more tokens (BPE); keep the snap only when it is measured to fit.
            if snapped != end and count_tokens(text[start:snapped]) <= max_tokens:
                end = snapped
        chunks.append(Chunk(text[start:end], start, end))
        if end == len(text):
            return chunks
        start = _next_start(text, chunks[-1], overlap_chars, max_tokens, count_tokens)
