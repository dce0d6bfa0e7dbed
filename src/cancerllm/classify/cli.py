"""``cancerllm classify``: document-level T/N/M and cancer type, evidence first, calibrated, auditable.

Examples (run from the repository root)::

    cancerllm classify --config configs/classify/tcga.yaml
    cancerllm classify --config configs/classify/tcga.yaml features=lexical,measures,lm out=out/classify/tcga-lm
"""

from __future__ import annotations

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors


@handle_errors
def classify_cmd(
    ctx: typer.Context,
    config: str | None = typer.Option(None, "--config", help="YAML of ClassifyConfig fields (configs/classify/)."),
) -> None:
    """Fit the heads on train, calibrate on dev, label each `predict` file (and its TNM-masked copy).

    Any field is also a free override, e.g. ``features=lexical,measures,lm lm.layer=12 limit=500``.
    """
    import json

    from cancerllm.classify.recipe import ClassifyConfig, run
    from cancerllm.config import load_config

    cfg = load_config(ClassifyConfig, config, list(ctx.args))
    result = run(cfg)
    typer.echo(json.dumps(result, indent=2))


def register(app: typer.Typer) -> None:
    app.command("classify", context_settings=EXTRA_ARGS)(classify_cmd)
