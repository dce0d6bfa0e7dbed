"""Real uvicorn servers on free loopback ports, serving the tiny model through the same loader as the CLI
(``running_server`` / ``real_server`` live in tests/conftest.py: the review and export tests use them too)."""

from __future__ import annotations

import pytest

from tests.conftest import real_server


@pytest.fixture(scope="module")
def server_url(tiny_model_dir):
    with real_server(tiny_model_dir, "generate.max_new_tokens=8") as (url, _cfg):
        yield url
