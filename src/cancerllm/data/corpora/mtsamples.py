"""MTSamples oncology-relevant transcriptions (``mtsamples_onc``) -> unlabelled :class:`Note` records.

For continued pretraining only: the notes carry no gold labels. ``kind`` comes from the primary specialty
("Discharge Summary" -> discharge, "Radiology" -> radiology, else "transcription"); the site fields (specialty,
specialties, title, description, keywords, selection, cancer_term_hits, cancer_terms, url) are kept in ``meta``.
There is no upstream split (nothing to evaluate against), so every note has ``split="train"``; split by ``id``
if you build an evaluation from it.

Example:
    >>> note = note_from_record({"id": "mtsamples-0001", "specialty": "Radiology", "text": "CT CHEST: mass."})
    >>> note.kind, note.split, note.meta["specialty"]
    ('radiology', 'train', 'Radiology')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cancerllm.data.io import convert_records
from cancerllm.data.paths import dataset_dir
from cancerllm.data.schema import Note
from cancerllm.errors import DataFormatError

__all__ = ["DATASET", "META_FIELDS", "load_mtsamples", "note_from_record"]

DATASET = "mtsamples_onc"
META_FIELDS = ("specialty", "specialties", "title", "description", "keywords", "selection", "cancer_term_hits",
               "cancer_terms", "url")
_KINDS = {"Discharge Summary": "discharge", "Radiology": "radiology"}


def note_from_record(rec: dict[str, Any]) -> Note:
    """One MTSamples record -> unlabelled note (raises DataFormatError for a missing id or text)."""
    for key in ("id", "text"):
        if not isinstance(rec.get(key), str) or not rec[key]:
            raise DataFormatError("missing or not a string", field=key, doc_id=rec.get("id"))
    return Note(id=rec["id"], text=rec["text"], kind=_KINDS.get(rec.get("specialty"), "transcription"),
                split="train", meta={k: rec.get(k) for k in META_FIELDS if k in rec})


def load_mtsamples(root: str | Path | None = None, errors: list[DataFormatError] | None = None) -> list[Note]:
    """Load all 354 shared MTSamples notes (``notes.jsonl``).

    Args:
        root: data folder holding ``mtsamples_onc/`` (default: see :mod:`cancerllm.data.paths`).
        errors: bad records are collected here and skipped; without it the first one raises.

    Raises:
        ResourceError: data not found. DataFormatError: a bad record.
    """
    path = dataset_dir(DATASET, root) / "notes.jsonl"
    return convert_records(path, note_from_record, errors)
