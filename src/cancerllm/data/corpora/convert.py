"""``cancerllm data convert SOURCE --split S --out X``: a shared real corpus split -> Note JSONL.

Sources: ``tcga`` (gold T/N/M labels with evidence spans and ICD-10-CM diagnoses), ``bionlp13cg`` (entity spans),
``mtsamples`` (unlabelled notes for pretraining) and ``chia`` (trial eligibility criteria: entities, relations and
OR/NOT groups). Bad records are reported (file:line, never the text) and skipped; the rest is written. For ``tcga`` the loading statistics (evidence coverage, text/label disagreements,
ICD-10-CM normalisation per project) are written next to the output as ``<out stem>.stats.json``.

Example:
    >>> convert("pubmed", "train", Path("x.jsonl"))
    Traceback (most recent call last):
    ...
    cancerllm.errors.ConfigError: 1 configuration problem(s):
      - source: got 'pubmed', expected one of ['tcga', 'bionlp13cg', 'mtsamples', 'chia'] ...
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from cancerllm.data.io import write_jsonl
from cancerllm.errors import ConfigError, DataFormatError

__all__ = ["SOURCES", "convert"]

log = logging.getLogger(__name__)

SOURCES: dict[str, tuple[str, ...]] = {
    "tcga": ("train", "dev", "test", "all"),
    "bionlp13cg": ("train", "dev", "test", "all"),
    # No upstream split: train and all both mean the whole corpus (it has no labels to evaluate against).
    "mtsamples": ("train", "all"),
    "chia": ("train", "dev", "test", "all"),
}


def convert(source: str, split: str, out: Path, root: Path | None = None) -> tuple[Path, int]:
    """Convert one split of a shared corpus to Note JSONL.

    Args:
        source: ``tcga``, ``bionlp13cg`` or ``mtsamples``.
        split: one of ``SOURCES[source]``.
        out: output JSONL path (parent folders are created).
        root: data folder (default: ``$CANCERLLM_DATA`` or ``../shared/data``, see :mod:`cancerllm.data.paths`).

    Returns:
        ``(path written, number of notes)``.

    Raises:
        ConfigError: unknown source or split. ResourceError: the data folder is missing.
    """
    if source not in SOURCES:
        raise ConfigError(f"source: got {source!r}, expected one of {list(SOURCES)} "
                          "(the SOURCE argument of `cancerllm data convert`)")
    if split not in SOURCES[source]:
        raise ConfigError(f"--split: got {split!r}, expected one of {list(SOURCES[source])} for {source}")
    errors: list[DataFormatError] = []
    stats = None
    if source == "tcga":
        from cancerllm.data.corpora.tcga import TcgaStats, load_tcga

        stats = TcgaStats()
        notes = load_tcga(split, root, stats=stats, errors=errors)
    elif source == "bionlp13cg":
        from cancerllm.data.corpora.bionlp import load_bionlp

        notes = load_bionlp(split, root, errors=errors)
    elif source == "chia":
        from cancerllm.data.corpora.chia import load_chia

        notes = load_chia(split, root, errors=errors)
    else:
        from cancerllm.data.corpora.mtsamples import load_mtsamples

        notes = load_mtsamples(root, errors=errors)
    for err in errors:
        log.warning("skipped bad record: %s", err)  # DataFormatError names file:line and field, never text
    path = write_jsonl(notes, out)
    if stats is not None:
        summary = {"source": source, "split": split, "skipped": len(errors), **stats.as_dict()}
        path.with_name(path.stem + ".stats.json").write_text(json.dumps(summary, indent=2) + "\n")
        log.info("tcga %s: %s", split, json.dumps(summary))
    return path, len(notes)
