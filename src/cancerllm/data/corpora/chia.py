"""Chia eligibility criteria (``../shared/data/chia``) -> trial :class:`Note` records with relations and groups.

One record = the inclusion or exclusion section of one trial (``kind="trial"``). What is kept:

* ``mentions``: the 15 Chia entity types (:data:`cancerllm.knowledge.trial.TRIAL_ENTITY_TYPES`) in the corpus'
  order, so relation indices stay valid. A discontinuous brat span keeps its whole extent as ``start/end/text``
  (as the shared file does) and its pieces in the record's extra ``fragments`` field (``{index: [[s, e], ...]}``).
  The assertion comes from the relations the mention heads: ``Has_negation`` -> ``negated``, ``Has_mood`` ->
  ``possible`` ("Patients [suspected] to have [vitamin B12 deficiency]").
* ``relations`` (``{type, head, tail}``) and ``groups`` (``{type: OR | NOT, members}``), indices into mentions.
* extra fields: ``trial_id``, ``section``, ``criteria`` (``[start, end]`` of every criterion line),
  ``oncology_heuristic`` (a filter hint, not a label), ``source`` and ``license`` (CC-BY-4.0).

``other_spans`` (annotator flags such as ``Non-query-able``) are not entities and are dropped.

Example:
    >>> rec = {"id": "NCT1_inc", "trial_id": "NCT1", "section": "inclusion", "split": "test",
    ...        "text": "No prior chemotherapy\\nHbA1c > 7%\\n", "criteria": [[0, 21], [22, 32]],
    ...        "mentions": [{"type": "Negation", "start": 0, "end": 2, "text": "No"},
    ...                     {"type": "Drug", "start": 9, "end": 21, "text": "chemotherapy"},
    ...                     {"type": "Measurement", "start": 22, "end": 27, "text": "HbA1c"},
    ...                     {"type": "Value", "start": 28, "end": 32, "text": "> 7%"}],
    ...        "relations": [{"type": "Has_negation", "head": 1, "tail": 0},
    ...                      {"type": "Has_value", "head": 2, "tail": 3}], "groups": []}
    >>> note = note_from_record(rec)
    >>> [(m.type, m.text, m.assertion) for m in note.mentions][:2]
    [('Negation', 'No', 'present'), ('Drug', 'chemotherapy', 'negated')]
    >>> [(r.type, note.mentions[r.head].text, note.mentions[r.tail].text) for r in note.relations][1]
    ('Has_value', 'HbA1c', '> 7%')
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cancerllm.data.chunking import Chunk, chunk_text
from cancerllm.data.io import CORPUS_SPLITS, convert_split
from cancerllm.data.schema import Group, Mention, Note, Relation
from cancerllm.errors import DataFormatError
from cancerllm.knowledge.trial import TRIAL_ENTITY_TYPES, assertion_of

__all__ = ["DATASET", "EXTRA_FIELDS", "SPLITS", "criterion_chunks", "criterion_lines", "criterion_of", "load_chia",
           "note_from_record"]

DATASET = "chia"
SPLITS = CORPUS_SPLITS  # the holdout split is not distributed
EXTRA_FIELDS = ("trial_id", "section", "criteria", "oncology_heuristic", "oncology_evidence", "source", "license")


def _bad(msg: str, rec: dict[str, Any], field: str) -> DataFormatError:
    return DataFormatError(msg, field=field, doc_id=rec.get("id") if isinstance(rec.get("id"), str) else None)


def _mentions(rec: dict[str, Any], text: str, heads: dict[int, set[str]]) -> tuple[list[Mention], dict]:
    mentions, fragments = [], {}
    for i, m in enumerate(rec.get("mentions") or []):
        s, e, mtype = m.get("start"), m.get("end"), m.get("type")
        if mtype not in TRIAL_ENTITY_TYPES:
            raise _bad(f"mentions[{i}]: got type {str(mtype)[:40]!r}, expected one of {list(TRIAL_ENTITY_TYPES)}",
                       rec, "mentions")
        # The shared file promises text[start:end] == mention text; check so a corrupted copy fails loudly.
        if not (isinstance(s, int) and isinstance(e, int) and 0 <= s <= e and text[s:e] == m.get("text")):
            raise _bad(f"mentions[{i}]: span [{s}, {e}) does not match its text", rec, "mentions")
        mentions.append(Mention(type=mtype, text=m["text"], start=s, end=e, assertion=assertion_of(heads[i])))
        if m.get("fragments"):
            fragments[str(i)] = m["fragments"]
    return mentions, fragments


def note_from_record(rec: dict[str, Any]) -> Note:
    """One Chia JSONL record -> trial note; DataFormatError names the field of a bad record (never its text)."""
    for key in ("id", "text"):
        if not isinstance(rec.get(key), str):
            raise _bad("missing or not a string", rec, key)
    relations, groups = rec.get("relations") or [], rec.get("groups") or []
    n = len(rec.get("mentions") or [])
    heads: dict[int, set[str]] = defaultdict(set)
    for i, r in enumerate(relations):
        if not (isinstance(r.get("head"), int) and isinstance(r.get("tail"), int)
                and 0 <= r["head"] < n and 0 <= r["tail"] < n):
            raise _bad(f"relations[{i}]: head/tail must index the {n} mentions", rec, "relations")
        heads[r["head"]].add(r.get("type"))
    mentions, fragments = _mentions(rec, rec["text"], heads)
    try:
        rels = [Relation(**r) for r in relations]
        grps = [Group(**g) for g in groups]
    except ValidationError as err:  # an unknown relation or group type
        raise _bad(err.errors()[0]["msg"][:200], rec, "relations") from None
    extra = {k: rec[k] for k in EXTRA_FIELDS if k in rec}
    if fragments:
        extra["fragments"] = fragments
    return Note(id=rec["id"], text=rec["text"], kind="trial", split=rec.get("split"), mentions=mentions,
                relations=rels, groups=grps, **extra)


def criterion_of(note: Note, start: int, end: int) -> int | None:
    """Index of the criterion line (``note.criteria``) holding ``[start, end)``, or None.

    Example:
        >>> criterion_of(Note(id="x", text="a\\nbc", criteria=[[0, 1], [2, 4]]), 2, 3)
        1
    """
    for i, (s, e) in enumerate(getattr(note, "criteria", None) or []):
        if s <= start and end <= e:
            return i
    return None


def criterion_lines(text: str) -> list[list[int]]:
    """``[start, end]`` of every line holding a non-space character (one criterion per line, as in Chia).

    Trailing spaces stay inside the line, as in the corpus' ``criteria`` field.

    Example:
        >>> criterion_lines("Age >= 18\\n\\n  \\nNo prior chemotherapy \\n")
        [[0, 9], [14, 36]]
    """
    return [[m.start(), m.end()] for m in re.finditer(r"[^\n]+", text) if m.group().strip()]


def criterion_chunks(text: str, criteria: list[list[int]] | None, max_tokens: int, count: Callable[[str], int],
                     overlap_chars: int = 0) -> list[Chunk]:
    """Chunks of whole criterion lines that fit ``max_tokens``, with exact offsets (``text[c.start:c.end]``).

    Consecutive lines are packed while they fit (a criterion's relations never cross its line in Chia: 2 of
    13,365 train relations do); a single line over the budget is split by :func:`chunk_text`. Text between lines
    (blank lines) is not sent: it holds no criterion.

    Example:
        >>> t = "Age >= 18\\nNo prior chemotherapy\\nECOG 0-1"
        >>> [c.text for c in criterion_chunks(t, None, max_tokens=5, count=lambda s: len(s.split()))]
        ['Age >= 18', 'No prior chemotherapy\\nECOG 0-1']
    """
    lines = criteria if criteria else criterion_lines(text)
    chunks: list[Chunk] = []
    cur: list[int] | None = None  # [start, end] of the chunk being packed
    for s, e in lines:
        if cur is not None and count(text[cur[0]:e]) <= max_tokens:
            cur[1] = e  # this line fits with the ones before it
            continue
        if cur is not None:
            chunks.append(Chunk(text[cur[0]:cur[1]], cur[0], cur[1]))
            cur = None
        if count(text[s:e]) <= max_tokens:
            cur = [s, e]
        else:  # one over-long criterion: split it like a note, shifting the offsets back to the section
            chunks += [Chunk(c.text, c.start + s, c.end + s)
                       for c in chunk_text(text[s:e], max_tokens, count, overlap_chars)]
    if cur is not None:
        chunks.append(Chunk(text[cur[0]:cur[1]], cur[0], cur[1]))
    return chunks


def load_chia(split: str, root: str | Path | None = None, errors: list[DataFormatError] | None = None) -> list[Note]:
    """Load one split (train / dev / test, or all three) of the shared Chia corpus as trial notes.

    Args:
        split: the corpus' trial-level split (``h(trial_id) % 100``, see the data README), or ``all``.
        root: data folder holding ``chia/`` (default: see :mod:`cancerllm.data.paths`).
        errors: bad records are collected here and skipped; without it the first one raises.

    Raises:
        ConfigError: unknown split. ResourceError: data not found. DataFormatError: a bad record.
    """
    return convert_split(DATASET, split, note_from_record, name="chia", root=root, errors=errors)
