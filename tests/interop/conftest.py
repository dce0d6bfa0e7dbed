"""A real server (uvicorn, the CLI's loader, the tiny model) for the GET /fhir/{id} tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def fhir_server(tiny_model_dir):
    """A real uvicorn server (the CLI's loader, the tiny model) on a free loopback port; yields its URL."""
    from cancerllm.config import load_config
    from cancerllm.serve.app import create_app
    from cancerllm.serve.server import ServeConfig, predictor_factory, start_in_thread

    cfg = load_config(ServeConfig, overrides=[f"model.path={tiny_model_dir}", "model.device=cpu", "model.dtype=fp32",
                                              "generate.batch_size=4", "generate.max_new_tokens=8", "port=0"])
    server, url = start_in_thread(create_app(predictor_factory(cfg), cfg), port=0)
    try:
        yield url
    finally:
        server.should_exit = True
        server.thread.join(timeout=30)
