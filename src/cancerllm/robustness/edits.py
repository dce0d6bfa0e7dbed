"""An edit log: apply non-overlapping text edits and map character spans between the old and the new text.

Every perturbation and the normaliser change a note through an :class:`EditLog`, so gold spans (and predicted
spans) follow the text: a mention ``[s, e)`` of the old text becomes ``[map_start(s), map_end(e))`` of the new
text. Rules at the edges, chosen so a span keeps covering "its" word:

* an edit strictly inside the span, or replacing a piece that touches the span's inside edge, is inside it
  ("carcinoma" -> "carinoma" stays one mention);
* an edit that straddles a span boundary widens the span to cover the whole replacement;
* a pure insertion exactly at the span start belongs to the span (a letter typed before the word's first
  letter), one exactly at the span end does not (the next word's business).

:meth:`EditLog.inverse` gives the log that maps the new text back, which is how predictions made on normalised
text are pointed back into the note the user sent.

Example:
    >>> old = "pT2 ductal carcinoma"
    >>> log = EditLog.record(old, [Edit(0, 2, "p"), Edit(14, 15, "")])
    >>> new = log.apply(old)
    >>> new
    'p2 ductal carinoma'
    >>> log.map_span(11, 20), new[10:18]
    ((10, 18), 'carinoma')
    >>> log.inverse().apply(new) == old
    True
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

__all__ = ["Edit", "EditLog"]


@dataclass(frozen=True, order=True)
class Edit:
    """Replace ``old[start:end]`` by ``text`` (``start == end`` is an insertion, ``text == ""`` a deletion)."""

    start: int
    end: int
    text: str
    old: str | None = None
    """The replaced characters, when known (needed by :meth:`EditLog.inverse`)."""

    @property
    def delta(self) -> int:
        return len(self.text) - (self.end - self.start)


class EditLog:
    """A sorted list of non-overlapping edits of one text, with span mapping.

    Args:
        edits: Edits in any order; they may not overlap (two insertions at one point are also refused, because
            their order would be ambiguous).

    Raises:
        ValueError: on overlapping edits or negative ranges.

    Example:
        >>> EditLog([Edit(0, 3, "a"), Edit(2, 4, "b")])
        Traceback (most recent call last):
        ...
        ValueError: edits overlap: [0, 3) and [2, 4)
    """

    def __init__(self, edits: list[Edit] | tuple[Edit, ...] = ()):
        self.edits = sorted(edits)
        for e in self.edits:
            if not 0 <= e.start <= e.end:
                raise ValueError(f"edit range [{e.start}, {e.end}) is not valid")
        for a, b in zip(self.edits, self.edits[1:]):
            if b.start < a.end or (b.start == a.start and a.start == a.end):
                raise ValueError(f"edits overlap: [{a.start}, {a.end}) and [{b.start}, {b.end})")
        # Cumulative shift before each edit: new position of edit i's start = start + shift[i].
        self._shift = [0]
        for e in self.edits:
            self._shift.append(self._shift[-1] + e.delta)
        self._starts = [e.start for e in self.edits]

    def __len__(self) -> int:
        return len(self.edits)

    def __bool__(self) -> bool:
        return bool(self.edits)

    def apply(self, text: str) -> str:
        """The edited text. Raises ValueError if an edit reaches past the end of ``text``."""
        if self.edits and self.edits[-1].end > len(text):
            raise ValueError(f"edit ends at {self.edits[-1].end} but the text has {len(text)} characters")
        parts, pos = [], 0
        for e in self.edits:
            parts.append(text[pos:e.start])
            parts.append(e.text)
            pos = e.end
        parts.append(text[pos:])
        return "".join(parts)

    def map_start(self, s: int) -> int:
        """New position of a span start ``s`` (see the module docstring for the edge rules)."""
        i = bisect.bisect_left(self._starts, s)  # edits[:i] start strictly before s
        if i and self.edits[i - 1].end > s:  # the previous edit straddles s: widen to its replacement's start
            return self.edits[i - 1].start + self._shift[i - 1]
        return s + self._shift[i]

    def map_end(self, e: int) -> int:
        """New position of a span end ``e`` (exclusive)."""
        i = bisect.bisect_left(self._starts, e)  # edits[:i] start strictly before e
        if i and self.edits[i - 1].end > e:  # straddles e: widen to the replacement's end
            prev = self.edits[i - 1]
            return prev.start + self._shift[i - 1] + len(prev.text)
        return e + self._shift[i]

    def map_span(self, s: int, e: int) -> tuple[int, int]:
        """New ``(start, end)`` of the old span ``[s, e)``."""
        ns = self.map_start(s)
        return ns, max(ns, self.map_end(e))

    def touches(self, s: int, e: int) -> bool:
        """True if some edit changes characters of ``[s, e)`` or inserts at its start or inside it."""
        for ed in self.edits[max(0, bisect.bisect_left(self._starts, s) - 1):]:
            if ed.start >= e:
                break
            if ed.end > s or (ed.start == ed.end and ed.start >= s):
                return True
        return False

    def inverse(self) -> EditLog:
        """The log mapping the new text back to the old one (edits must carry ``old``, see :meth:`record`)."""
        if any(e.old is None for e in self.edits):
            raise ValueError("inverse() needs edits that carry the replaced text; build the log with EditLog.record")
        return EditLog([Edit(e.start + self._shift[i], e.start + self._shift[i] + len(e.text), e.old, e.text)
                        for i, e in enumerate(self.edits)])

    @classmethod
    def record(cls, old_text: str, edits: list[Edit]) -> EditLog:
        """Build a log whose edits remember the replaced pieces of ``old_text``, so :meth:`inverse` works."""
        return cls([Edit(e.start, e.end, e.text, old_text[e.start:e.end]) for e in edits])
