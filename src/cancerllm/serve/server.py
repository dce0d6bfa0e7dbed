"""Run the HTTP app: ``ServeConfig`` (what to load, where to listen, what to accept) and ``serve(cfg)``.

``start_in_thread`` runs the same server in a daemon thread (tests, the load test).

uvicorn's access log is switched off: request lines carry no body, but a server that handles clinical notes should
log as little as possible, and :mod:`cancerllm.serve.app` already logs one count-only line per request.

Limits and protections (all fields of :class:`ServeConfig`, set in the YAML or as ``key=value`` overrides):

=================  ===========  ====================================================================================
field              default      effect
=================  ===========  ====================================================================================
max_body_bytes     4 MiB        larger bodies get 413, checked on Content-Length and again while the body streams
max_notes          64           more notes in one request get 422 (field ``notes``)
max_note_chars     100,000      a longer note gets 422 (field ``notes.<i>.text``); never cut silently
timeout_s          120          a request not answered by then gets 504 and its generation is stopped
max_queue          64           requests waiting for the model beyond this get 503 with ``Retry-After``
token              None         when set (or env ``CANCERLLM_SERVE_TOKEN``), ``Authorization: Bearer`` is required
allowed_hosts      loopback     other ``Host`` headers get 400 (DNS-rebinding guard); ``["*"]`` accepts any
=================  ===========  ====================================================================================

Example:
    >>> from cancerllm.config import load_config
    >>> cfg = load_config(ServeConfig, overrides=["port=9000", "max_notes=8"])
    >>> cfg.host, cfg.port, cfg.model.path, cfg.max_notes
    ('127.0.0.1', 9000, 'embedded', 8)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from cancerllm.config import GenerateArgs, ModelArgs

__all__ = ["LOOPBACK_HOSTS", "TOKEN_ENV", "ServeConfig", "predictor_factory", "serve", "start_in_thread"]

log = logging.getLogger("cancerllm.serve")

TOKEN_ENV = "CANCERLLM_SERVE_TOKEN"
"""Environment variable read for the bearer token when ``token`` is not set (keeps it out of shell history)."""
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
"""Default ``allowed_hosts``: the names a browser on this machine uses for a loopback server."""


@dataclass
class ServeConfig:
    """``cancerllm serve`` settings."""

    run: str | None = None
    """A training run folder (sft): its base model, adapters, prompt style and types are served."""
    model: ModelArgs = field(default_factory=ModelArgs)
    generate: GenerateArgs = field(default_factory=GenerateArgs)
    types: list[str] | None = None
    method: Literal["auto", "llm", "rules"] = "auto"
    """As ``cancerllm extract --method``: auto serves the grounded rule extractor when no trained run (nor another
    model) is given, since the untrained base model writes no usable JSON; llm forces the language model."""
    labels: str | None = None
    """A ``cancerllm classify`` folder adding document labels to the rules method (default: ``make model``'s)."""
    """Default entity types (a request may narrow them with ``types``)."""
    host: str = "127.0.0.1"
    """Loopback by default: the API handles clinical text. 0.0.0.0 exposes it (set ``token`` and ``allowed_hosts``)."""
    port: int = 8000
    threads: int | None = None
    """torch intra-op threads; None = torch's default (every core)."""
    max_body_bytes: int = 4 * 1024 * 1024
    """Largest request body in bytes (413 above it); bounds memory per request whatever Content-Length claims."""
    max_notes: int = 64
    """Notes per request (422 above it): a CPU server takes seconds per note; big batches belong in ``extract``."""
    max_note_chars: int = 100_000
    """Characters (code points) per note (422 above it). Long notes are chunked, never cut; this bounds the work."""
    timeout_s: float = 120.0
    """Seconds from arrival to answer, waiting included; past it the request gets 504 and its generation stops."""
    max_queue: int = 64
    """Requests allowed to wait for the model (one generates at a time); more get 503 with Retry-After."""
    token: str | None = None
    """Bearer token required on every route but /health and the static page (env CANCERLLM_SERVE_TOKEN)."""
    allowed_hosts: list[str] = field(default_factory=lambda: list(LOOPBACK_HOSTS))
    """Host header names accepted (port ignored); others get 400. Add the name clients use; ["*"] = any."""
    review_db: str | None = None
    """SQLite file of the review loop (``/review`` routes, cancerllm.review); None = no review routes."""
    review_audit_text: bool = False
    """Also write mention text and values into the review audit trail (off: the trail carries no note text)."""

    def validate(self) -> list[str]:
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port: got {self.port}, expected 0..65535 (0 = any free port)")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads: got {self.threads}, expected >= 1 or null")
        for name in ("max_body_bytes", "max_notes", "max_note_chars", "max_queue"):
            if getattr(self, name) < 1:
                problems.append(f"{name}: got {getattr(self, name)}, expected a positive integer")
        if not self.timeout_s > 0:
            problems.append(f"timeout_s: got {self.timeout_s}, expected seconds > 0")
        if self.token is not None and len(self.token) < 8:
            problems.append(f"token: got {len(self.token)} characters, expected at least 8 (or null for no token)")
        if not self.allowed_hosts or any(not h or "/" in h for h in self.allowed_hosts):
            problems.append(f"allowed_hosts: got {self.allowed_hosts}, expected host names without scheme or path, "
                            f"e.g. {LOOPBACK_HOSTS} or ['*']")
        return problems

    def effective_token(self) -> str | None:
        """``token``, else the ``CANCERLLM_SERVE_TOKEN`` environment variable, else None (no authentication)."""
        return self.token or os.environ.get(TOKEN_ENV) or None


def predictor_factory(cfg: ServeConfig) -> Any:
    """A zero-argument callable loading the Predictor the way ``cancerllm extract`` does."""

    def load() -> Any:
        from cancerllm.infer.extract import ExtractConfig, load_predictor

        if cfg.threads:
            import torch

            torch.set_num_threads(cfg.threads)
        return load_predictor(ExtractConfig(input="-", run=cfg.run, model=cfg.model, generate=cfg.generate,
                                            types=cfg.types, method=cfg.method, labels=cfg.labels))

    return load


def _server(app: Any, host: str, port: int) -> Any:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info")
    return uvicorn.Server(config)


def serve(cfg: ServeConfig) -> None:
    """Load the model and serve until interrupted (Ctrl-C)."""
    from cancerllm.serve.app import create_app

    if cfg.host not in ("127.0.0.1", "localhost", "::1") and not cfg.effective_token():
        log.warning("serving on %s without a token: anyone who can reach it can send notes; set --token or %s",
                    cfg.host, TOKEN_ENV)
    _server(create_app(predictor_factory(cfg), cfg), cfg.host, cfg.port).run()


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 120.0) -> tuple[Any, str]:
    """Start ``app`` under uvicorn in a daemon thread; returns ``(server, base_url)`` once it accepts requests.

    ``port=0`` binds a free port (the real one is read back from the socket). Stop it with
    ``server.should_exit = True`` and join ``server.thread``.
    """
    server = _server(app, host, port)
    thread = threading.Thread(target=server.run, name="cancerllm-serve", daemon=True)
    server.thread = thread
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:  # startup includes the model load in the app's lifespan
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"server did not start within {timeout_s:.0f} s")
        time.sleep(0.05)
    sock = server.servers[0].sockets[0]
    return server, f"http://{host}:{sock.getsockname()[1]}"
