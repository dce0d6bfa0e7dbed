"""``cancerllm demo``: registers the main job's verb (kept apart so ``demo.py`` stays importable alone)."""

from __future__ import annotations

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors, verb_config


@handle_errors
def demo_cmd(ctx: typer.Context,
             config: str | None = typer.Option(None, "--config", help="YAML config (configs/demo/*.yaml).")) -> None:
    """Pretrain -> SFT -> extract/diagnose held-out reports; print a zero-shot vs trained table."""
    from cancerllm.demo import DemoConfig, run

    cfg = verb_config(DemoConfig, config, ctx)
    summary = run(cfg)
    from pathlib import Path

    typer.echo(Path(summary["paths"]["summary"]).read_text())


def register(app: typer.Typer) -> None:
    app.command("demo", context_settings=EXTRA_ARGS)(demo_cmd)
