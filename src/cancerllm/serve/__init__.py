"""HTTP serving: ``cancerllm serve`` (FastAPI over ``Predictor.predict``) and the self-contained review page.

* ``schemas.py``: request/response bodies (``PredictRequest``, ``PredictResponse``, ``Health``, ``SchemaInfo``).
* ``app.py``: ``create_app(predictor_factory, cfg)``, the routes, per-note isolation, 422s that name the field,
  the generation queue with per-request deadlines (504).
* ``guard.py``: ASGI middleware: Host allow-list (400), optional bearer token (401), body size (413), slow body (408).
* ``cancel.py``: ``Job`` (deadline + cancel flag) and ``CancellableModel`` (stops ``generate`` at the next token).
* ``server.py``: ``ServeConfig`` (limits, timeout, token, allowed hosts), ``serve(cfg)`` (uvicorn, access log off),
  ``start_in_thread`` for tests.
* ``static/review.html``: paste/upload a note, highlight mentions, accept/reject, download the reviewed JSON.

Names are re-exported lazily: ``cancerllm.serve.cli`` must import without FastAPI (the ``serve`` extra), so that
``cancerllm --help`` works on an install without it.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "PredictRequest",
    "PredictResponse",
    "ServeConfig",
    "create_app",
    "predict_isolated",
    "review_page",
    "serve",
    "start_in_thread",
]

_WHERE = {"create_app": "app", "predict_isolated": "app", "review_page": "app", "PredictRequest": "schemas",
          "PredictResponse": "schemas", "ServeConfig": "server", "serve": "server", "start_in_thread": "server"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"cancerllm.serve.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'cancerllm.serve' has no attribute {name!r}")
