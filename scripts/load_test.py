#!/usr/bin/env python
"""Loopback load test of ``cancerllm serve`` (issue 17): >= 2,000 mixed valid/malformed requests to 127.0.0.1.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python scripts/load_test.py                      # 2,000 requests, concurrency 24
    .venv/bin/python scripts/load_test.py requests=200 concurrency=16 model_path=embedded

Any ``LoadConfig`` field is a ``key=value`` override (see ``cancerllm/bench/serve_load.py``). Writes
``<out>/load.json`` and ``<out>/load.md``; exits 1 when the bar is missed (a 5xx, a transport error, an
unexpected status, note text in the server log, or a server that died).
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from cancerllm.bench.serve_load import LoadConfig, markdown, run
    from cancerllm.config import load_config

    cfg = load_config(LoadConfig, overrides=argv)
    summary = run(cfg)
    print(markdown(summary))
    print(f"wrote {cfg.out}/load.json and load.md")
    print(json.dumps({k: summary[k] for k in ("passed", "sent", "server_errors_5xx", "latency_s", "server_rss_mib")}))
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
