"""A cached copy of a base model with its LoRA adapter chain merged in, so later loads skip PEFT and the cast.

Why: a fine-tuned run is served as fp32 weights with its adapters merged (bf16 loses the updates, see
:mod:`cancerllm.model.load`). Building that model means reading the bf16 base, casting it to fp32 (both copies
alive for a while), wrapping it in PEFT and merging each adapter: ~400 MiB more peak RSS than the merged model
itself needs, every time a run is loaded. The first load of a run therefore saves the merged model (safetensors,
model only; the tokenizer keeps coming from the run) into ``$CANCERLLM_CACHE/merged/<key>``, and later loads of
the same run read that folder directly.

The key is a SHA-256 over everything the merged weights depend on:

* the base model: its resolved folder, ``config.json`` content and each ``*.safetensors`` file's name, size and
  modification time (hashing 270 MB of base weights on every load would cost more than it saves; a rewritten
  base file changes its size or mtime);
* each adapter, in chain order: the full content of ``adapter_config.json`` and ``adapter_model.safetensors``
  (a retrained adapter in the same folder gives a new key, never a stale model);
* the dtype (``float32``, or ``bfloat16-stochastic``: the fp32 merge rounded by :mod:`cancerllm.model.rounding`) and
  the format version below.

Writes go to a temporary folder renamed into place, so a killed process never leaves a half copy; a failed write
(disk full, read-only cache) only logs a warning, since the freshly merged model is already in memory. At most
:data:`KEEP` copies are kept (``CANCERLLM_MERGED_CACHE_KEEP`` changes it; least recently used evicted: ~513 MiB
each in fp32, ~270 MiB in bf16, for the embedded 135M model).
``CANCERLLM_MERGED_CACHE=0`` turns the cache off (merge in memory on every load, as before).

It is the one store of merged runs for both engines: the vLLM engine reads weights from files, and
:func:`fp32_folder` hands it the run's ``float32`` entry (the same folder the hf engine loads, so a run served by both
is stored once); with the cache off it gets a temporary folder instead, deleted when the process exits.

Example:
    >>> enabled({"CANCERLLM_MERGED_CACHE": "0"}), enabled({})
    (False, True)
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ENV", "KEEP", "KEEP_ENV", "cache_key", "enabled", "fp32_folder", "keep", "lookup", "store"]

log = logging.getLogger("cancerllm.model")

ENV = "CANCERLLM_MERGED_CACHE"
KEEP = 3
"""Merged copies kept in the cache by default; older ones (by last use) are deleted when a new one is written."""
KEEP_ENV = "CANCERLLM_MERGED_CACHE_KEEP"
_FORMAT = "merged-fp32-v1"
_MARKER = "merged.json"  # written last inside the temporary folder: a folder without it is not a cache entry
_CHUNK = 1 << 20


def keep(env: Mapping[str, str] | None = None) -> int:
    """Copies to keep: ``CANCERLLM_MERGED_CACHE_KEEP`` (an integer >= 1) or :data:`KEEP`. A run served by both
    engines, or in fp32 and bf16, holds two entries, so several such runs evict each other at 3.

    Example:
        >>> keep({}), keep({"CANCERLLM_MERGED_CACHE_KEEP": "6"})
        (3, 6)
    """
    from cancerllm.errors import ConfigError

    raw = (os.environ if env is None else env).get(KEEP_ENV, "").strip()
    if not raw:
        return KEEP
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{KEEP_ENV}: got {raw!r}, expected an integer >= 1 (merged copies kept; default {KEEP})")
    return int(raw)


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """False when ``CANCERLLM_MERGED_CACHE`` is ``0``/``false``/``off``/``no`` in ``env`` (default: the process
    environment); the cache is on by default."""
    return (os.environ if env is None else env).get(ENV, "1").strip().lower() not in ("0", "false", "off", "no")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):  # chunked: an r=64 adapter is tens of MiB, never held whole
            h.update(block)
    return h.hexdigest()


def _base_identity(base: Path) -> dict[str, Any]:
    base = base.resolve()
    weights = {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in sorted(base.glob("*.safetensors"))}
    config = hashlib.sha256((base / "config.json").read_bytes()).hexdigest()
    return {"path": str(base), "config": config, "weights": weights}


def cache_key(base: str | Path, chain: Sequence[str | Path], dtype: str = "float32") -> str:
    """SHA-256 (hex) identifying the merged weights of ``base`` + ``chain`` in ``dtype`` (see the module docstring).

    Example:
        >>> import tempfile, pathlib; d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "config.json").write_text("{}")
        >>> len(cache_key(d, [])), cache_key(d, []) == cache_key(d, [], "bfloat16")
        (64, False)
    """
    parts: dict[str, Any] = {"format": _FORMAT, "dtype": dtype, "base": _base_identity(Path(base)), "adapters": []}
    for adapter in chain:  # order matters: merging A then B is not merging B then A (float rounding, and stacking)
        a = Path(adapter)
        parts["adapters"].append({"config": _file_sha256(a / "adapter_config.json"),
                                  "weights": _file_sha256(a / "adapter_model.safetensors")})
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _root() -> Path:
    from cancerllm.model.load import cache_root

    return cache_root() / "merged"


def lookup(key: str) -> Path | None:
    """The complete cache folder for ``key`` (its last use time refreshed), or None when there is none."""
    folder = _root() / key
    if not (folder / _MARKER).is_file():
        return None
    try:
        os.utime(folder)  # last use, for eviction; a read-only cache still serves the copy
    except OSError:
        pass
    return folder


def store(model: Any, key: str, base: str | Path, chain: Sequence[str | Path]) -> Path | None:
    """Save the merged ``model`` as the cache entry for ``key``, atomically; None (and a warning) when it fails.

    Args:
        model: the merged, plain (non-PEFT) transformers model, in the dtype the key was made for.
        key: :func:`cache_key` of ``base`` + ``chain``.
        base, chain: recorded in the entry's ``merged.json`` so a person can tell what a folder holds.
    """
    root = _root()
    target = root / key
    tmp: Path | None = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".merge-", dir=root))
        tmp.chmod(0o755)  # mkdtemp makes it private; the final cache folder should read like any other
        model.save_pretrained(tmp)  # safetensors; the tokenizer is not saved: it keeps coming from the run
        (tmp / _MARKER).write_text(json.dumps({"format": _FORMAT, "base": str(base),
                                               "adapters": [str(c) for c in chain]}, indent=1))
        try:
            tmp.rename(target)  # atomic on one filesystem: readers see nothing or the whole folder
        except OSError:
            if not (target / _MARKER).is_file():  # lost a race to another process: theirs is complete
                raise
    except OSError as err:
        log.warning("could not write the merged-model cache in %s (%s: %s); continuing with the merged model in "
                    "memory (set %s=0 to stop trying)", root, type(err).__name__, err, ENV)
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    _evict(root, keep=keep())
    return target


def fp32_folder(path: str, adapter: str | Path) -> Path:
    """A folder holding base ``path`` with the adapter chain of ``adapter`` merged in fp32, for an engine that loads
    weights from files (vLLM): ``config.json``, ``generation_config.json`` and safetensors weights.

    It is the run's ``float32`` cache entry, the very folder :func:`cancerllm.model.load.load_model` reads for the hf
    engine (same :func:`cache_key`): found by :func:`lookup` without loading anything, else built once by
    ``load_model`` (merge in fp32, then :func:`store`). The entry holds no tokenizer: a reader takes it from the run
    (its ``tokenizer/`` folder, else the base model), as ``load_model`` does. With the cache off
    (``CANCERLLM_MERGED_CACHE=0``) or unwritable (``store`` failed), the merge is saved to a temporary folder instead,
    deleted when this process exits, so each process merges again. Without adapters: the base folder itself.

    Args:
        path: ``model.path`` (``embedded`` or a Hugging Face folder).
        adapter: ``model.adapter`` (an adapter folder or a run folder).
    """
    from cancerllm.config import ModelArgs
    from cancerllm.model.load import _base_path, adapter_chain, load_model

    chain, base = adapter_chain(adapter), _base_path(path)
    if not chain:
        return base
    if enabled():
        hit = lookup(cache_key(base, chain, "float32"))
        if hit is not None:
            log.info("reusing the fp32-merged model %s", hit)
            return hit
    log.info("merging %d adapter(s) in fp32 (kept in the merged-model cache while it is on)", len(chain))
    model, _, info = load_model(ModelArgs(path=path, adapter=str(adapter), device="cpu", dtype="fp32"))
    if info["merged_cache"]:
        return Path(info["merged_cache"])
    tmp = Path(tempfile.mkdtemp(prefix="cancerllm-merged-"))
    atexit.register(shutil.rmtree, tmp, True)  # the reader has loaded the weights long before exit
    log.info("merged-model cache off or unwritable: the fp32 merge goes to %s, deleted at exit", tmp)
    model.save_pretrained(tmp)
    return tmp


def _legacy(d: Path) -> bool:
    """A folder of the vLLM engine's former merged store (16 hex digits, a saved model, no marker): since both
    engines share this store nothing reads it again, and it holds ~0.5 GB."""
    return (len(d.name) == 16 and all(c in "0123456789abcdef" for c in d.name) and not (d / _MARKER).exists()
            and (d / "config.json").is_file())


def _evict(root: Path, keep: int) -> None:
    """Delete all but the ``keep`` most recently used complete entries, and the former vLLM store's folders (nothing
    else: half-written ``.merge-*`` folders belong to a running writer or are cleaned by it)."""
    for old in (d for d in root.iterdir() if d.is_dir() and _legacy(d)):
        log.info("merged-model cache: removing %s (the vLLM engine's former merged store)", old.name)
        shutil.rmtree(old, ignore_errors=True)
    entries = [d for d in root.iterdir() if d.is_dir() and (d / _MARKER).is_file()]
    entries.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        log.info("merged-model cache: evicting %s (least recently used of %d)", old.name, len(entries))
        shutil.rmtree(old, ignore_errors=True)
