"""BioNLP-ST 2013 Cancer Genetics entity spans (``bionlp13cg_ner``) -> :class:`Note` records.

Each sentence becomes a note (``kind="abstract_sentence"``). ``Cancer`` entities ("chronic myeloid leukemia")
become ``cancer_diagnosis`` mentions with assertion ``present`` (the corpus annotates no negation); every
original entity of all 16 types is kept in the extra field ``entities`` (``[{start, end, label, text}]``) for
span-level evaluation. The text is tokens joined by single spaces ("TGF - beta"), not the abstract's spacing.

Example:
    >>> rec = {"id": "s1", "split": "dev", "text": "Imatinib in chronic myeloid leukemia .",
    ...        "entities": [{"start": 0, "end": 8, "label": "Simple_chemical", "text": "Imatinib"},
    ...                     {"start": 12, "end": 36, "label": "Cancer", "text": "chronic myeloid leukemia"}]}
    >>> note = note_from_record(rec)
    >>> [(m.type, m.text, m.start) for m in note.mentions], len(note.entities)
    ([('cancer_diagnosis', 'chronic myeloid leukemia', 12)], 2)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cancerllm.data.io import CORPUS_SPLITS, convert_split
from cancerllm.data.schema import Mention, Note
from cancerllm.errors import DataFormatError

__all__ = ["DATASET", "SPLITS", "load_bionlp", "note_from_record"]

DATASET = "bionlp13cg_ner"
SPLITS = CORPUS_SPLITS


def note_from_record(rec: dict[str, Any]) -> Note:
    """One sentence record -> note; raises DataFormatError for a missing field or a span that misses its text."""
    for key in ("id", "text"):
        if not isinstance(rec.get(key), str):
            raise DataFormatError("missing or not a string", field=key, doc_id=rec.get("id"))
    text, entities = rec["text"], rec.get("entities") or []
    mentions = []
    for ent in entities:
        s, e = ent.get("start"), ent.get("end")
        # The corpus guarantees text[start:end] == entity text; check anyway so a corrupted copy fails loudly.
        if not (isinstance(s, int) and isinstance(e, int) and text[s:e] == ent.get("text")):
            raise DataFormatError(f"entity span [{s}, {e}) does not match its text", field="entities",
                                  doc_id=rec["id"])
        if ent.get("label") == "Cancer":
            mentions.append(Mention(type="cancer_diagnosis", text=ent["text"], start=s, end=e))
    return Note(id=rec["id"], text=text, kind="abstract_sentence", split=rec.get("split"), mentions=mentions,
                entities=[{k: ent[k] for k in ("start", "end", "label", "text")} for ent in entities])


def load_bionlp(split: str, root: str | Path | None = None,
                errors: list[DataFormatError] | None = None) -> list[Note]:
    """Load one split (train / dev / test, or all three) of the shared BioNLP13CG corpus.

    Args:
        split: ``train``, ``dev`` (upstream ``devel``), ``test`` (first 80% of upstream test) or ``all``.
        root: data folder holding ``bionlp13cg_ner/`` (default: see :mod:`cancerllm.data.paths`).
        errors: bad records are collected here and skipped; without it the first one raises.

    Raises:
        ConfigError: unknown split. ResourceError: data not found. DataFormatError: a bad record.
    """
    return convert_split(DATASET, split, note_from_record, name="bionlp13cg", root=root, errors=errors)
