"""Real uvicorn servers on free loopback ports, serving the tiny model through the same loader as the CLI."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

TINY = ["model.device=cpu", "model.dtype=fp32", "generate.batch_size=4", "port=0"]


@contextmanager
def _running_server(model_dir, *overrides: str):
    """A real server for ``ServeConfig`` overrides (``max_notes=3``, ...) on 127.0.0.1; yields ``(url, cfg)``."""
    from cancerllm.config import load_config
    from cancerllm.serve.app import create_app
    from cancerllm.serve.server import ServeConfig, predictor_factory, start_in_thread

    cfg = load_config(ServeConfig, overrides=[f"model.path={model_dir}", *TINY, *overrides])
    server, url = start_in_thread(create_app(predictor_factory(cfg), cfg), port=0)
    try:
        yield url, cfg
    finally:
        server.should_exit = True
        server.thread.join(timeout=30)


@pytest.fixture(scope="session")
def running_server():
    """``with running_server(model_dir, "max_notes=3") as (url, cfg):`` a real server with those settings."""
    return _running_server


@pytest.fixture(scope="module")
def server_url(tiny_model_dir):
    with _running_server(tiny_model_dir, "generate.max_new_tokens=8") as (url, _cfg):
        yield url
