"""The offset map of one de-identified note: which original span became which new span.

Text outside every replacement only moves; text inside a replacement has no counterpart character by character,
so a span that touches a replacement maps to the whole replacement on the other side. Hence a span that avoids
every replacement, or covers replacements whole, maps forward and back exactly; a span cut by a replacement
grows to include all of it.

Example:
    >>> m = OffsetMap([Replacement(9, 22, 9, 15, "NAME")])   # "Patient: Garcia, Maria has pT2" -> "[NAME]"
    >>> m.forward(27, 30), m.backward(20, 23)
    ((20, 23), (27, 30))
    >>> m.forward(9, 15), m.backward(9, 15)
    ((9, 15), (9, 22))
"""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import NamedTuple

__all__ = ["OffsetMap", "Replacement", "load_offsets"]


class Replacement(NamedTuple):
    """Original ``[start, end)`` replaced by new ``[new_start, new_end)``; ``type`` is the PHI type."""

    start: int
    end: int
    new_start: int
    new_end: int
    type: str


class OffsetMap:
    """Maps character offsets between an original note and its de-identified text (both directions).

    Args:
        replacements: sorted, non-overlapping replacements (as made by :func:`cancerllm.deid.deidentify_text`).
    """

    def __init__(self, replacements: list[Replacement]) -> None:
        self.replacements = list(replacements)
        self._orig = [(r.start, r.end) for r in self.replacements]
        self._new = [(r.new_start, r.new_end) for r in self.replacements]

    def to_list(self) -> list[list]:
        """JSON-ready ``[[start, end, new_start, new_end, type], ...]`` (offsets only: no text)."""
        return [list(r) for r in self.replacements]

    @classmethod
    def from_list(cls, rows: list[list]) -> OffsetMap:
        return cls([Replacement(*row) for row in rows])

    @staticmethod
    def _point(pos: int, src: list[tuple[int, int]], dst: list[tuple[int, int]], side: str) -> int:
        """Map one boundary ``pos``; ``side`` 'start' snaps into a replacement's start, 'end' to its end."""
        # The last replacement starting at or before pos (for an end boundary: strictly before pos).
        i = bisect.bisect_right(src, (pos, float("inf")) if side == "start" else (pos - 1, float("inf"))) - 1
        if i < 0:
            return pos
        b, (na, nb) = src[i][1], dst[i]
        if side == "start" and pos < b:
            return na  # inside a replacement: the span grows to its start
        if side == "end" and pos < b:
            return nb  # inside a replacement: the span grows to its end
        return nb + (pos - b)  # after it: shifted by the length change so far

    def forward(self, start: int, end: int) -> tuple[int, int]:
        """Original span -> de-identified span."""
        return self._point(start, self._orig, self._new, "start"), self._point(end, self._orig, self._new, "end")

    def backward(self, start: int, end: int) -> tuple[int, int]:
        """De-identified span -> original span."""
        return self._point(start, self._new, self._orig, "start"), self._point(end, self._new, self._orig, "end")

    def touches(self, start: int, end: int) -> bool:
        """True when the original span ``[start, end)`` overlaps a replacement (its text changed)."""
        i = bisect.bisect_right(self._orig, (start, float("inf")))
        return (i > 0 and self._orig[i - 1][1] > start) or (i < len(self._orig) and self._orig[i][0] < end)


def load_offsets(path: str | Path) -> dict[str, OffsetMap]:
    """Note id -> :class:`OffsetMap`, from the ``offsets.jsonl`` that ``cancerllm deid`` writes to ``<out>.deid/``.

    Example (a span found in the clean text, back to the original)::

        maps = load_offsets("clean.deid/offsets.jsonl")
        start, end = maps[note_id].backward(m.start, m.end)
    """
    from cancerllm.data.io import iter_jsonl_dicts

    return {rec["id"]: OffsetMap.from_list(rec["replacements"]) for _, rec in iter_jsonl_dicts(path)}
