"""De-identify one text or one note: detect (:mod:`~cancerllm.deid.recognizers`), replace
(:mod:`~cancerllm.deid.surrogate`), keep the offset map (:mod:`~cancerllm.deid.offsets`).

A note's gold mentions follow the text: each is moved to its new span; a mention that overlaps a replacement
(its words were taken as PHI) is dropped and counted, never kept with a span that no longer matches.

Example:
    >>> text = "Patient: Garcia, Maria  DOB: 03/14/1951  Seen 04/02/2021. HER2 3+, pT2N0M0, on tamoxifen."
    >>> out = deidentify_text(text, key=b"k", patient="PT-1")
    >>> out.text
    'Patient: [NAME]  DOB: 09/30/1950  Seen 10/19/2020. HER2 3+, pT2N0M0, on tamoxifen.'
    >>> out.counts, text[slice(*out.offsets.backward(51, 58))]
    ({'NAME': 1, 'DATE': 2}, 'HER2 3+')
    >>> deidentify_text("DOB: 03/14/1925  Seen 04/02/2021.", key=b"k", patient="PT-1").text  # would tell age 96
    'DOB: [DATE]  Seen 10/19/2020.'
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from typing import NamedTuple

from cancerllm.data.schema import Note
from cancerllm.deid.offsets import OffsetMap, Replacement
from cancerllm.deid.recognizers import detect
from cancerllm.deid.surrogate import day_shift, surrogate, year_of

__all__ = ["Deidentified", "deidentify_note", "deidentify_text", "pseudonym"]


class Deidentified(NamedTuple):
    """The de-identified text, its offset map and how many identifiers of each type were replaced."""

    text: str
    offsets: OffsetMap
    counts: dict[str, int]


def deidentify_text(text: str, key: bytes, patient: str, max_shift_days: int = 365) -> Deidentified:
    """Replace every detected identifier of ``text``; dates move by the shift of ``patient`` under ``key``.

    Args:
        text: one note.
        key: the secret behind date shifts (same key and patient, same shift).
        patient: the patient the note belongs to (all of a patient's notes share one shift).
        max_shift_days: dates move back 1 to this many days.
    """
    days = day_shift(key, patient, max_shift_days)
    spans = detect(text)  # sorted and non-overlapping
    # The note's latest year dates it; a date 90+ years earlier (a birth date) would tell an age over 89.
    years = [y for s in spans if s.type == "DATE" and (y := year_of(text[s.start:s.end])) is not None]
    oldest = max(years) - 89 if years else None
    out: list[str] = []
    reps: list[Replacement] = []
    pos = new_pos = 0
    counts: Counter[str] = Counter()
    for span in spans:
        out.append(text[pos:span.start])
        new_pos += span.start - pos
        new = surrogate(span.type, text[span.start:span.end], days, oldest)
        reps.append(Replacement(span.start, span.end, new_pos, new_pos + len(new), span.type))
        out.append(new)
        new_pos += len(new)
        pos = span.end
        counts[span.type] += 1
    out.append(text[pos:])
    return Deidentified("".join(out), OffsetMap(reps), dict(counts))


def pseudonym(key: bytes, value: str, prefix: str = "pt-") -> str:
    """A stable pseudonym for an identifier (keyed hash): ``pt-`` and 12 hex digits."""
    return prefix + hmac.new(key, b"id:" + value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def deidentify_note(note: Note, key: bytes, max_shift_days: int = 365, keep_fields: tuple[str, ...] = (),
                    pseudonymize_ids: bool = False) -> tuple[Note, OffsetMap, dict[str, int], int]:
    """De-identify ``note``: text replaced, mentions moved (or dropped), ``patient_id`` pseudonymised.

    Extra fields (beyond the Note schema) are not copied unless named in ``keep_fields``: they may hold
    identifiers (the synthetic notes' ``phi`` field lists them verbatim).

    Returns:
        ``(note, offsets, counts, mentions_dropped)``.
    """
    patient = note.patient_id or note.id
    res = deidentify_text(note.text, key, patient, max_shift_days)
    mentions, dropped = [], 0
    for m in note.mentions:
        if m.start is None:
            mentions.append(m)
        elif res.offsets.touches(m.start, m.end):
            dropped += 1  # its words were replaced: the gold span no longer holds its text
        else:
            start, end = res.offsets.forward(m.start, m.end)
            mentions.append(m.model_copy(update={"start": start, "end": end}))
    extra = {k: v for k, v in (note.model_extra or {}).items() if k in keep_fields}
    fields = {name: getattr(note, name) for name in Note.model_fields}
    fields.update(text=res.text, mentions=mentions,
                  patient_id=pseudonym(key, note.patient_id) if note.patient_id else None,
                  id=pseudonym(key, note.id, "note-") if pseudonymize_ids else note.id)
    out = Note(**fields, **extra)
    out.check_spans()  # a moved span that misses its text would be a bug here, never the user's
    return out, res.offsets, res.counts, dropped
