"""A real server (uvicorn, the CLI's loader, the tiny model) for the GET /fhir/{id} tests."""

from __future__ import annotations

import pytest

from tests.conftest import real_server


@pytest.fixture(scope="module")
def fhir_server(tiny_model_dir):
    """A real uvicorn server (the CLI's loader, the tiny model) on a free loopback port; yields its URL."""
    with real_server(tiny_model_dir, "generate.max_new_tokens=8") as (url, _cfg):
        yield url
