"""A real uvicorn server on a free loopback port, serving the tiny model through the same loader as the CLI."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def server_url(tiny_model_dir):
    from cancerllm.config import load_config
    from cancerllm.serve.app import create_app
    from cancerllm.serve.server import ServeConfig, predictor_factory, start_in_thread

    cfg = load_config(ServeConfig, overrides=[f"model.path={tiny_model_dir}", "model.device=cpu", "model.dtype=fp32",
                                              "generate.max_new_tokens=8", "generate.batch_size=4", "port=0"])
    server, url = start_in_thread(create_app(predictor_factory(cfg)), port=0)
    yield url
    server.should_exit = True
    server.thread.join(timeout=10)
