"""A 50-request slice of the loopback load test (scripts/load_test.py runs 2,000): mixed valid and malformed
requests at concurrency 16 against a real server; every response is the expected one, none is a 5xx."""

from __future__ import annotations

import asyncio
import logging

import pytest

from cancerllm.bench.serve_load import KINDS, SENTINEL, SERVER_LIMITS, fire, summarize


def test_load_smoke_no_5xx_every_status_expected(tiny_model_dir, running_server, caplog):
    limits = [f"{k}={v}" for k, v in SERVER_LIMITS.items()]
    with caplog.at_level(logging.INFO), running_server(tiny_model_dir, "generate.max_new_tokens=4", *limits) as (
            url, _cfg):
        records = asyncio.run(fire(url, n=50, concurrency=16, seed=1, max_seconds=240))
    s = summarize(records, planned=50)
    assert s["sent"] == 50 and s["server_errors_5xx"] == 0 and s["transport_errors"] == 0
    assert s["unexpected"] == 0, s["per_kind"]
    assert s["status_counts"].get("200", 0) > 0 and s["status_counts"].get("413", 0) > 0
    assert len(s["per_kind"]) >= len(KINDS) - 4  # the seeded mix covers (almost) every kind
    assert SENTINEL not in caplog.text  # every note carries it; the server never logs note text


def test_load_fire_refuses_a_non_loopback_url():
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(fire("http://example.org:80", n=1, concurrency=1))
