"""Small measurement helpers for benchmarks: percentiles, a bootstrap CI of the mean, and a peak-RSS sampler.

Timings on a shared machine are noisy, so every latency is reported as p50/p90/mean with a 95% bootstrap interval
of the mean, never as a single number.

Example:
    >>> summarize([10.0, 20.0, 30.0, 40.0], n_boot=200, seed=0)["p50"]
    25.0
    >>> with RssSampler(interval_s=0.01) as rss:
    ...     _ = [0] * 100_000
    >>> rss.peak_mib >= rss.start_mib > 0
    True
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Self

__all__ = ["RssSampler", "bootstrap_ci", "percentile", "ratio_ci", "rss_mib", "summarize"]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), ``q`` in [0, 100].

    Example:
        >>> percentile([1, 2, 3, 4], 50), percentile([5], 90)
        (2.5, 5.0)
    """
    import numpy as np

    if not len(values):
        raise ValueError("percentile of an empty list")
    return float(np.percentile(np.asarray(values, dtype=float), q))


def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (resampling the measured values with replacement).

    A single value gives a zero-width interval: there is nothing to resample, and saying so is more honest than
    inventing a spread.

    Example:
        >>> lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 5.0], n_boot=500, seed=1)
        >>> 1.0 <= lo <= 3.0 <= hi <= 5.0
        True
        >>> bootstrap_ci([7.0])
        (7.0, 7.0)
    """
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError("bootstrap of an empty list")
    if arr.size == 1:
        return float(arr[0]), float(arr[0])
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, arr.size, size=(n_boot, arr.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def ratio_ci(nums: Sequence[float], dens: Sequence[float], n_boot: int = 1000, seed: int = 0,
             level: float = 0.95) -> tuple[float, float]:
    """Bootstrap interval of ``sum(nums) / sum(dens)`` resampling (num, den) pairs, e.g. notes / seconds per call.

    The ratio of sums (total notes / total time) is the throughput a user sees; the mean of per-call ratios would
    over-weight fast small calls.

    Example:
        >>> lo, hi = ratio_ci([8, 8, 8], [2.0, 2.0, 4.0], n_boot=500)
        >>> 2.0 <= lo <= 24 / 8 <= hi <= 4.0
        True
    """
    import numpy as np

    num, den = np.asarray(nums, dtype=float), np.asarray(dens, dtype=float)
    if num.size == 0 or num.size != den.size:
        raise ValueError(f"ratio_ci: got {num.size} numerators and {den.size} denominators, expected equal and > 0")
    if num.size == 1:
        return float(num[0] / den[0]), float(num[0] / den[0])
    idx = np.random.default_rng(seed).integers(0, num.size, size=(n_boot, num.size))
    ratios = num[idx].sum(axis=1) / den[idx].sum(axis=1)
    tail = (1.0 - level) / 2 * 100
    return float(np.percentile(ratios, tail)), float(np.percentile(ratios, 100 - tail))


def summarize(values: Sequence[float], n_boot: int = 1000, seed: int = 0, digits: int = 2) -> dict[str, Any]:
    """``{n, mean, ci95: [lo, hi], p50, p90, min, max}`` of a list of measurements, rounded to ``digits``.

    Example:
        >>> s = summarize([1.0, 1.0, 4.0], n_boot=100)
        >>> s["n"], s["mean"], s["max"]
        (3, 2.0, 4.0)
    """
    lo, hi = bootstrap_ci(values, n_boot, seed)
    r = lambda x: round(float(x), digits)
    return {"n": len(values), "mean": r(sum(values) / len(values)), "ci95": [r(lo), r(hi)],
            "p50": r(percentile(values, 50)), "p90": r(percentile(values, 90)), "min": r(min(values)),
            "max": r(max(values))}


def rss_mib() -> float:
    """Resident set size of this process now, in MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20


class RssSampler:
    """Context manager sampling this process's RSS in a background thread; ``peak_mib`` is the highest seen.

    ``resource.getrusage`` maxrss only ever grows over the process lifetime, so it cannot isolate one
    configuration of a multi-configuration benchmark; sampling can (at the cost of missing spikes shorter than
    ``interval_s``, which for model inference is far below the time a tensor lives).
    """

    def __init__(self, interval_s: float = 0.02):
        self.interval_s = interval_s
        self.start_mib = 0.0
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mib = max(self.peak_mib, rss_mib())

    def __enter__(self) -> Self:
        self.start_mib = self.peak_mib = rss_mib()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mib = max(self.peak_mib, rss_mib())  # the last instant counts too
