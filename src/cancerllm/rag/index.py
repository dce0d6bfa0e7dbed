"""Build, persist and reload retrieval indexes over a labelled corpus (Note JSONL).

An index folder holds the retriever's fitted state (BM25 matrices, an ``embeddings.npy``) and ``index.json``,
which records the retriever and its options, the corpus path and SHA-256, the corpus note ids and patient ids
(the leakage guard needs them), and the encoder's identity (model path, fingerprint, pooling, max length).

Loading checks both: a corpus whose bytes changed, or an encoder that differs from the one that embedded the
corpus (another model, pooling or adapter), is refused with a :class:`~cancerllm.errors.ConfigError` that
names the mismatch and the command that fixes it -- vectors from two encoders are not comparable, and ids of
a different corpus would point at the wrong notes.

Example:
    >>> import tempfile, pathlib
    >>> from cancerllm.data.io import write_jsonl
    >>> from cancerllm.data.schema import Note
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_jsonl([Note(id="a", text="breast carcinoma ER positive"), Note(id="b", text="lung nodule")],
    ...                 d / "train.jsonl")
    >>> cfg = IndexConfig(retriever="bm25.v1", corpus=str(d / "train.jsonl"), out=str(d / "idx"))
    >>> _ = build_index(cfg)
    >>> idx = load_index(d / "idx")
    >>> idx.search("carcinoma of the breast", k=1)
    [('a', 0.48...)]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.config import to_dict
from cancerllm.data.schema import Note
from cancerllm.errors import ConfigError, ResourceError
from cancerllm.rag.retrievers import RetrievalArgs, Retriever

__all__ = ["ENCODER_KEYS", "MANIFEST", "Index", "IndexConfig", "build_index", "load_index"]

logger = logging.getLogger("cancerllm.rag")
MANIFEST = "index.json"
FORMAT = 1
# Encoder fields whose change makes stored vectors incomparable with new query vectors (paths may move).
ENCODER_KEYS = ("kind", "fingerprint", "query_fingerprint", "adapter_fingerprint", "pooling", "normalize",
                "max_length", "query_max_length")


@dataclass
class IndexConfig(RetrievalArgs):
    """``cancerllm rag index``: which retriever to fit on which corpus, and where to write the index."""

    corpus: str = ""
    """Labelled Note JSONL (the training split); examples shown in prompts come from it."""
    out: str = "out/rag/index"
    """Index folder to write."""

    def validate(self) -> list[str]:
        from cancerllm.registry import retrievers

        problems = []
        if not self.corpus:
            problems.append("corpus: empty, expected a Note JSONL path (set --corpus)")
        if self.retriever not in retrievers:
            problems.append(f"retriever: got {self.retriever!r}, expected one of {retrievers.names()} (set --retriever)")
        if self.rrf_k < 1:
            problems.append(f"rrf_k: got {self.rrf_k}, expected >= 1")
        return problems


@dataclass
class Index:
    """A loaded index: the fitted retriever, the corpus notes in index order and the manifest."""

    folder: Path
    manifest: dict[str, Any]
    retriever: Retriever
    notes: list[Note]
    _by_id: dict[str, int] = field(default_factory=dict)

    _same_text: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_id = {n.id: i for i, n in enumerate(self.notes)}
        for n in self.notes:
            self._same_text.setdefault(_text_key(n.text), []).append(n.id)

    def leaks(self, note: Note) -> tuple[set[str], set[str]]:
        """The leakage guard: ``(ids, patient ids)`` of corpus notes a query ``note`` must never be shown.

        One guard for every caller (inference's examples, ``rag search``, the retrieval measurement): the note
        itself, every note of its patient, and every corpus note with the same text (whitespace-normalised) under
        another id and patient -- a report filed twice is still its own answer key.

        Example:
            >>> idx = Index(Path("."), {}, None, [Note(id="a", text="pT2  N0"), Note(id="b", text="pT1", patient_id="p")])
            >>> ids, patients = idx.leaks(Note(id="q", text="pT2 N0", patient_id="p"))
            >>> sorted(ids), patients, [i for i, n in enumerate(idx.notes) if i in idx.banned(ids, patients)]
            (['a', 'q'], {'p'}, [0, 1])
        """
        ids = {note.id, *self._same_text.get(_text_key(note.text), [])}
        return ids, {note.patient_id} if note.patient_id else set()

    def search_note(self, note: Note, k: int) -> list[tuple[str, float]]:
        """Top-``k`` neighbours of ``note`` with the leakage guard (:meth:`leaks`) on."""
        return self.search(note.text, k, *self.leaks(note))

    def note(self, doc_id: str) -> Note:
        """The corpus note with id ``doc_id``."""
        return self.notes[self._by_id[doc_id]]

    def banned(self, exclude_ids: Collection[str] = (), exclude_patients: Collection[str | None] = ()) -> set[int]:
        """Corpus rows that must not be returned: the given ids and every note of the given patients."""
        pats = {p for p in exclude_patients if p}
        ids = set(exclude_ids)
        return {i for i, n in enumerate(self.notes) if n.id in ids or (n.patient_id and n.patient_id in pats)}

    def search(self, text: str, k: int, exclude_ids: Collection[str] = (),
               exclude_patients: Collection[str | None] = ()) -> list[tuple[str, float]]:
        """Top-``k`` corpus ids for ``text`` with their scores, best first, never an excluded id or patient."""
        hits = self.retriever.top(text, k, self.banned(exclude_ids, exclude_patients))
        return [(self.notes[i].id, s) for i, s in hits]


def _text_key(text: str) -> str:
    """Identity of a note's text for the leakage guard: SHA-256 of the whitespace-normalised text."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def _corpus_sha(path: Path) -> str:
    from cancerllm.runtime import sha256_file

    return sha256_file(path)


def _read_corpus(path: Path) -> list[Note]:
    from cancerllm.data.io import read_notes

    errors: list[Any] = []
    notes = read_notes(path, errors=errors)
    for err in errors[:5]:
        logger.warning("corpus record skipped: %s", err)
    if errors:
        logger.warning("%d corpus record(s) skipped in %s", len(errors), path)
    if not notes:
        raise ResourceError(f"--corpus {str(path)!r}: no valid notes; expected Note JSONL with 'id' and 'text'")
    return notes


def build_index(cfg: IndexConfig) -> Path:
    """Fit ``cfg.retriever`` on ``cfg.corpus`` and write the index folder; returns it."""
    from cancerllm.registry import retrievers
    from cancerllm.runtime import versions

    problems = cfg.validate()
    if problems:
        raise ConfigError(problems)
    corpus = Path(cfg.corpus)
    if not corpus.is_file():
        raise ResourceError(f"--corpus {str(corpus)!r} does not exist; give the labelled training Note JSONL")
    notes = _read_corpus(corpus)
    ids = [n.id for n in notes]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"--corpus {corpus}: {len(ids) - len(set(ids))} duplicate note id(s); ids must be unique "
                          "so retrieved examples can be traced")
    retriever = retrievers.get(cfg.retriever)(cfg)
    t0 = time.perf_counter()
    retriever.fit([n.text for n in notes])
    fit_s = time.perf_counter() - t0
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    retriever.save(out)
    args = {k: v for k, v in to_dict(cfg).items() if k not in ("corpus", "out")}
    manifest = {
        "format": FORMAT, "retriever": retriever.name, "args": args,
        "corpus": {"path": str(corpus.resolve()), "sha256": _corpus_sha(corpus), "n_docs": len(notes)},
        "ids": ids, "patient_ids": [n.patient_id for n in notes],
        "encoder": retriever.encoder_config(), "fit_seconds": round(fit_s, 2), "versions": versions(),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))
    logger.info("indexed %d notes with %s in %.1f s -> %s", len(notes), retriever.name, fit_s, out)
    return out


def read_manifest(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ResourceError(f"--index {str(folder)!r} is not an index folder (no {MANIFEST}); build one with "
                            "cancerllm rag index --retriever NAME --corpus train.jsonl --out DIR")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ConfigError(f"--index {folder}: format {manifest.get('format')!r}, expected {FORMAT}; rebuild it")
    return manifest


def _encoder_problems(stored: dict[str, Any], now: dict[str, Any], folder: Path) -> list[str]:
    diffs = [f"encoder.{k}: index has {stored.get(k)!r}, query encoder has {now.get(k)!r}"
             for k in ENCODER_KEYS if stored.get(k) != now.get(k)]
    if diffs:
        diffs.append(f"vectors from different encoders are not comparable: query {folder} with the model it was "
                     f"built with (--model-path {stored.get('path')}), or rebuild with cancerllm rag index")
    return diffs


def load_index(folder: str | Path, corpus: str | Path | None = None, **overrides: Any) -> Index:
    """Reload an index; refuse a changed corpus or a different encoder.

    Args:
        folder: the index folder written by :func:`build_index`.
        corpus: the corpus file, when it moved; default = the path recorded at build time.
        overrides: :class:`RetrievalArgs` fields to change (``model_path``, ``backend``, ``device`` ...);
            None values are ignored.
    Raises:
        ConfigError: the corpus bytes or the encoder differ from those recorded.
    """
    from cancerllm.registry import retrievers

    folder = Path(folder)
    manifest = read_manifest(folder)
    cpath = Path(corpus) if corpus is not None else Path(manifest["corpus"]["path"])
    if not cpath.is_file():
        raise ResourceError(f"index {folder}: corpus {str(cpath)!r} not found; pass --corpus with its new location")
    sha = _corpus_sha(cpath)
    if sha != manifest["corpus"]["sha256"]:
        raise ConfigError(f"index {folder} was built from a corpus with sha256 {manifest['corpus']['sha256'][:12]}..., "
                          f"but {cpath} has sha256 {sha[:12]}...; pass the original --corpus or rebuild the index")
    values = {**manifest["args"], **{k: v for k, v in overrides.items() if v is not None}}
    known = {f.name for f in dataclasses.fields(RetrievalArgs)}
    args = RetrievalArgs(**{k: v for k, v in values.items() if k in known})
    retriever = retrievers.get(manifest["retriever"])(args)
    retriever.load(folder)
    if manifest.get("encoder"):
        problems = _encoder_problems(manifest["encoder"], retriever.encoder_config(), folder)
        if problems:
            raise ConfigError(problems)
    notes = _read_corpus(cpath)
    if [n.id for n in notes] != manifest["ids"] or retriever.n_docs != len(notes):
        raise ConfigError(f"index {folder}: corpus ids differ from those indexed; rebuild with cancerllm rag index")
    return Index(folder, manifest, retriever, notes)
