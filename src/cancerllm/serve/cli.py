"""``cancerllm serve``: the HTTP API and the review page for a model or a training run.

Examples (run from the repository root)::

    cancerllm serve --run out/sft/tiny                   # then open http://127.0.0.1:8000/
    cancerllm serve --model.path embedded --port 8080
    .venv-vllm/bin/cancerllm serve --engine vllm         # same API and page, decoded by vLLM (`make vllm` first)
    curl -s localhost:8000/extract -H 'content-type: application/json' \\
         -d '{"notes": [{"id": "n1", "text": "Invasive ductal carcinoma, pT2 N0 M0."}]}'
"""

from __future__ import annotations

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors


@handle_errors
def serve_cmd(
    ctx: typer.Context,
    run: str | None = typer.Option(None, "--run", help="Training run folder (cancerllm sft output)."),
    host: str | None = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1, loopback only)."),
    port: int | None = typer.Option(None, "--port", help="Port (default 8000; 0 = any free port)."),
    config: str | None = typer.Option(None, "--config", help="YAML of ServeConfig fields."),
    token: str | None = typer.Option(None, "--token", help="Require 'Authorization: Bearer TOKEN' on the API "
                                     "(default: env CANCERLLM_SERVE_TOKEN; none = no authentication)."),
    engine: str | None = typer.Option(None, "--engine", help="hf (transformers, default) or vllm (needs `make vllm`; "
                                      "run .venv-vllm/bin/cancerllm serve). Same as generate.engine=."),
    review_db: str | None = typer.Option(None, "--review-db", help="SQLite file of the review loop: corrections "
                                         "made on the page are stored there (cancerllm review export)."),
) -> None:
    """Serve POST /extract, POST /diagnose, GET /health, GET /schema and the review page at GET /.

    Without --run, the base model is --model.path (default: the embedded SmolLM2-135M). Other fields are free
    overrides, e.g. --model.path=/models/x generate.max_new_tokens=256 threads=2 max_notes=8 timeout_s=60
    allowed_hosts=[localhost,notes.example.org] (limits: max_body_bytes, max_notes, max_note_chars, timeout_s,
    max_queue).
    """
    from cancerllm.config import load_config
    from cancerllm.errors import ConfigError
    from cancerllm.serve.server import ServeConfig, serve

    overrides = list(ctx.args)
    for key, val in (("run", run), ("host", host), ("port", port), ("generate.engine", engine),
                     ("review_db", review_db)):
        if val is not None:
            overrides.append(f"{key}={val}")
    cfg = load_config(ServeConfig, config, overrides)
    if token is not None:  # set verbatim: as a key=value override it would be parsed as YAML (digits -> a number)
        cfg.token = token
        if problems := cfg.validate():
            raise ConfigError(problems)
    serve(cfg)


def register(app: typer.Typer) -> None:
    app.command("serve", context_settings=EXTRA_ARGS)(serve_cmd)
