"""Locate the shared real-data folder (``tcga_path_reports``, ``bionlp13cg_ner``, ``mtsamples_onc``).

The data is never copied into the repository. Precedence, first hit wins:

1. an explicit ``root`` argument (``--root``);
2. the environment variable ``CANCERLLM_DATA``;
3. ``../shared/data`` next to the repository root (found from this file: ``src/cancerllm/data`` -> repo root);
4. ``../shared/data`` relative to the current working directory.

An explicit argument or environment variable that does not exist is an error (it is never silently skipped),
and the error lists every place that was tried.

Training and evaluation data can also be named by a source word instead of a path (``data.train=...``):
``tcga`` (the shared TCGA split; an error when absent), ``synth`` (the bundled generator) or ``auto`` (TCGA when
present, else synthetic notes with a WARNING naming the fallback, so a 7B run never trains on synthetic notes
unnoticed). :func:`notes_from_source` resolves them.

Example:
    >>> import os, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "bionlp13cg_ner").mkdir()
    >>> data_root(d) == d, dataset_dir("bionlp13cg_ner", d).name
    (True, 'bionlp13cg_ner')
    >>> dataset_dir("nope", d)
    Traceback (most recent call last):
    ...
    cancerllm.errors.ResourceError: dataset folder 'nope' not found under ...
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from cancerllm.errors import ConfigError, ResourceError

__all__ = ["DATA_SOURCES", "ENV_VAR", "candidate_roots", "data_root", "dataset_dir", "has_dataset",
           "notes_from_source"]

log = logging.getLogger("cancerllm.data")

ENV_VAR = "CANCERLLM_DATA"
# Words accepted where a data file is expected (data.train, data.dev, robustness train/test).
DATA_SOURCES = ("auto", "tcga", "synth")
_REPO_ROOT = Path(__file__).resolve().parents[3]


def candidate_roots(root: str | Path | None = None) -> list[tuple[str, Path]]:
    """The places searched, in order, each with where it came from (for error messages and ``--help``)."""
    if root is not None:
        return [("--root argument", Path(root))]
    if os.environ.get(ENV_VAR):
        return [(f"${ENV_VAR}", Path(os.environ[ENV_VAR]))]
    return [("repo root/../shared/data", _REPO_ROOT.parent / "shared" / "data"),
            ("cwd/../shared/data", Path.cwd().parent / "shared" / "data")]


def data_root(root: str | Path | None = None) -> Path:
    """Return the first existing data folder.

    Raises:
        ResourceError: none of the candidates exists; lists what was tried and how to fix it.
    """
    tried = candidate_roots(root)
    for _origin, path in tried:
        if path.is_dir():
            return path
    listing = "; ".join(f"{origin}: {path}" for origin, path in tried)
    raise ResourceError(f"shared data folder not found (tried {listing}); pass --root PATH or set {ENV_VAR}=PATH "
                        "to the folder holding tcga_path_reports/, bionlp13cg_ner/ and mtsamples_onc/")


def dataset_dir(name: str, root: str | Path | None = None) -> Path:
    """Return ``<data root>/<name>``.

    Raises:
        ResourceError: the root or the dataset folder inside it is missing.
    """
    base = data_root(root)
    path = base / name
    if not path.is_dir():
        present = sorted(p.name for p in base.iterdir() if p.is_dir())
        raise ResourceError(f"dataset folder {name!r} not found under {base} (present: {present}); "
                            f"pass --root PATH or set {ENV_VAR}=PATH")
    return path


def has_dataset(name: str, root: str | Path | None = None) -> bool:
    """True when :func:`dataset_dir` finds ``name`` (used to skip real-data checks on machines without the data)."""
    try:
        dataset_dir(name, root)
    except ResourceError:
        return False
    return True


def notes_from_source(source: str, split: str, synth_n: int = 400, seed: int = 0) -> tuple[list[Any], list[Path], str]:
    """Notes for a source word: ``tcga``, ``synth`` or ``auto`` (TCGA when present, else synthetic with a WARNING).

    Args:
        source: one of :data:`DATA_SOURCES`.
        split: ``train``, ``dev`` or ``test`` (the TCGA corpus' own patient-level split).
        synth_n: synthetic training notes; other splits get a tenth (at least 8), from a different seed so they
            never repeat a training note.
        seed: generator seed.
    Returns:
        ``(notes, data_files, description)``; the files are hashed into a run's ``meta.json``.
    Raises:
        ConfigError: ``source`` is not a source word.
        ResourceError: ``tcga`` was asked for and the shared reports are absent (the message says where it looked).
    """
    if source not in DATA_SOURCES:
        raise ConfigError(f"data source: got {source!r}, expected one of {list(DATA_SOURCES)} or a file path")
    if source != "synth":
        from cancerllm.data.corpora.tcga import DATASET, SPLITS, load_tcga

        try:
            notes = load_tcga(split)
            return notes, [dataset_dir(DATASET) / SPLITS[split]], f"tcga_path_reports/{split}"
        except ResourceError as err:
            if source == "tcga":
                raise ResourceError(f"data: 'tcga' needs the shared TCGA reports, not found ({err}); "
                                    "or choose data.train=synth for synthetic notes") from None
            log.warning("data=auto: shared TCGA reports not found (%s); using SYNTHETIC %s notes instead. Choose "
                        "explicitly with data.train=synth, or require the real reports with data.train=tcga",
                        str(err).split(";")[0], split)
    from cancerllm.data.synth import synthesize

    n = synth_n if split == "train" else max(8, synth_n // 10)
    # A different seed per split keeps the synthetic dev/test notes disjoint from the training notes.
    return synthesize(n, seed + (0 if split == "train" else 1)), [], f"synthetic(n={n}, seed={seed})"
