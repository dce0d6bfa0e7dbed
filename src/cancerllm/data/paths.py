"""Locate the shared real-data folder (``tcga_path_reports``, ``bionlp13cg_ner``, ``mtsamples_onc``).

The data is never copied into the repository. Precedence, first hit wins:

1. an explicit ``root`` argument (``--root``);
2. the environment variable ``CANCERLLM_DATA``;
3. ``../shared/data`` next to the repository root (found from this file: ``src/cancerllm/data`` -> repo root);
4. ``../shared/data`` relative to the current working directory.

An explicit argument or environment variable that does not exist is an error (it is never silently skipped),
and the error lists every place that was tried.

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

import os
from pathlib import Path

from cancerllm.errors import ResourceError

__all__ = ["ENV_VAR", "candidate_roots", "data_root", "dataset_dir", "has_dataset"]

ENV_VAR = "CANCERLLM_DATA"
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
