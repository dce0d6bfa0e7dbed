"""Split long notes into overlapping chunks that fit a token budget, keeping character offsets.

The model never sees a silently cut note: every character belongs to at least one chunk, and callers record how
many chunks were read. Chunks end at sentence boundaries where possible so a TNM string is not split in two;
consecutive chunks overlap by ``overlap_chars`` so a phrase on a boundary is seen whole at least once.

Example:
    >>> text = "Diagnosis: carcinoma. Margins negative. pT2 N0. Grade 2."
    >>> chunks = chunk_text(text, max_tokens=6, count_tokens=lambda s: len(s.split()), overlap_chars=0)
    >>> [(c.start, c.end) for c in chunks]
    [(0, 48), (48, 56)]
    >>> all(text[c.start:c.end] == c.text for c in chunks)
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_text"]

# A sentence ends at ". ", "; " or a newline; OCR'd TCGA reports end every line with ". ".
_BOUNDARY = re.compile(r"(?<=[.;:!?])\s+|\n+")


@dataclass(frozen=True)
class Chunk:
    text: str
    start: int
    end: int


def _pieces(text: str) -> list[tuple[int, int]]:
    """Sentence-ish pieces as (start, end) covering the text with no gaps."""
    cuts = [m.end() for m in _BOUNDARY.finditer(text)]
    bounds = [0] + [c for c in cuts if 0 < c < len(text)] + [len(text)]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def chunk_text(text: str, max_tokens: int, count_tokens: Callable[[str], int], overlap_chars: int = 200) -> list[Chunk]:
    """Greedy sentence packing under ``max_tokens``; a single over-long sentence is split by characters.

    Args:
        text: the note.
        max_tokens: token budget for the note part of one prompt.
        count_tokens: tokenizer-backed counter (``lambda s: len(tok(s).input_ids)``).
        overlap_chars: characters of the previous chunk repeated at the start of the next.
    Returns:
        Chunks whose union covers ``text`` exactly, in order.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if not text:
        return [Chunk("", 0, 0)]
    if count_tokens(text) <= max_tokens:
        return [Chunk(text, 0, len(text))]
    # Split pieces that alone exceed the budget into character windows sized by the observed chars/token ratio.
    pieces: list[tuple[int, int]] = []
    for a, b in _pieces(text):
        n = count_tokens(text[a:b])
        if n <= max_tokens:
            pieces.append((a, b))
            continue
        step = max(1, int((b - a) * max_tokens / n * 0.9))
        pieces.extend((s, min(b, s + step)) for s in range(a, b, step))
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        start = pieces[i][0]
        if chunks and overlap_chars > 0:  # back up into the previous chunk, to a piece boundary
            start = max(chunks[-1].start + 1, start - overlap_chars)
            back = [a for a, _ in pieces if start <= a <= pieces[i][0]]
            start = back[0] if back else pieces[i][0]
        end = pieces[i][1]
        j = i + 1
        while j < len(pieces) and count_tokens(text[start:pieces[j][1]]) <= max_tokens:
            end = pieces[j][1]
            j += 1
        if count_tokens(text[start:end]) > max_tokens and start < pieces[i][0]:
            start = pieces[i][0]  # the overlap made it too long: drop the overlap for this chunk
        chunks.append(Chunk(text[start:end], start, end))
        i = j
    return chunks
