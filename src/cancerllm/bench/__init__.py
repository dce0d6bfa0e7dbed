"""Efficiency benchmarks: ``cancerllm bench`` (latency, throughput, tokens/s, peak RSS; optional LoRA training).

* ``efficiency.py``: ``BenchConfig`` and the ``run(cfg)`` recipe (warm-up, repeats, one load per dtype).
* ``stats.py``: percentiles, bootstrap intervals, the peak-RSS sampler.
* ``report.py``: ``bench.md`` tables with ratios to the first configuration, the last-line summary.
"""

from cancerllm.bench.efficiency import BenchConfig, measure_inference, run
from cancerllm.bench.stats import RssSampler, bootstrap_ci, ratio_ci, summarize

__all__ = ["BenchConfig", "RssSampler", "bootstrap_ci", "measure_inference", "ratio_ci", "run", "summarize"]
