"""Run the HTTP app: ``ServeConfig`` (what to load, where to listen) and ``serve(cfg)``; ``start_in_thread`` for tests.

uvicorn's access log is switched off: request lines carry no body, but a server that handles clinical notes should
log as little as possible, and :mod:`cancerllm.serve.app` already logs one count-only line per request.

Example:
    >>> from cancerllm.config import load_config
    >>> cfg = load_config(ServeConfig, overrides=["port=9000"])
    >>> cfg.host, cfg.port, cfg.model.path
    ('127.0.0.1', 9000, 'embedded')
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cancerllm.config import GenerateArgs, ModelArgs

__all__ = ["ServeConfig", "predictor_factory", "serve", "start_in_thread"]

log = logging.getLogger("cancerllm.serve")


@dataclass
class ServeConfig:
    """``cancerllm serve`` settings."""

    run: str | None = None
    """A training run folder (sft): its base model, adapters, prompt style and types are served."""
    model: ModelArgs = field(default_factory=ModelArgs)
    generate: GenerateArgs = field(default_factory=GenerateArgs)
    types: list[str] | None = None
    """Default entity types (a request may narrow them with ``types``)."""
    host: str = "127.0.0.1"
    """Loopback by default: the API is unauthenticated and handles clinical text. 0.0.0.0 exposes it."""
    port: int = 8000
    threads: int | None = None
    """torch intra-op threads; None = torch's default (every core)."""

    def validate(self) -> list[str]:
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port: got {self.port}, expected 0..65535 (0 = any free port)")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads: got {self.threads}, expected >= 1 or null")
        return problems


def predictor_factory(cfg: ServeConfig) -> Any:
    """A zero-argument callable loading the Predictor the way ``cancerllm extract`` does."""

    def load() -> Any:
        from cancerllm.infer.extract import ExtractConfig, load_predictor

        if cfg.threads:
            import torch

            torch.set_num_threads(cfg.threads)
        return load_predictor(ExtractConfig(input="-", run=cfg.run, model=cfg.model, generate=cfg.generate,
                                            types=cfg.types))

    return load


def _server(app: Any, host: str, port: int) -> Any:
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level="info")
    return uvicorn.Server(config)


def serve(cfg: ServeConfig) -> None:
    """Load the model and serve until interrupted (Ctrl-C)."""
    from cancerllm.serve.app import create_app

    if cfg.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("serving on %s: the API has no authentication; put it behind an authenticating proxy",
                    cfg.host)
    _server(create_app(predictor_factory(cfg)), cfg.host, cfg.port).run()


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
