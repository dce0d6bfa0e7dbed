"""``cancerllm robustness``: a thin wrapper over :func:`cancerllm.robustness.testbed.run`.

Examples::

    cancerllm robustness --testbed misspelling --rates 0,0.05,0.1,0.2,0.3 --predictor regex --out out/robustness/regex
    cancerllm robustness --testbed misspelling --run out/sft/tiny --mitigation normalize --limit 50 --out DIR
    cancerllm robustness --testbed label-noise --predictor tfidf --out out/robustness/tfidf-noise
    cancerllm robustness --config configs/robustness/tiny.yaml train.max_steps=5

Named options are shortcuts for the config fields of the same name; ``--config`` and free ``key=value``
overrides reach every other field (``perturbations=typo.clinical.v1,ocr.v1``, ``sft_overrides=...``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors


def register(app: typer.Typer) -> None:
    """Add the ``robustness`` verb to the top-level app."""

    @app.command("robustness", context_settings=EXTRA_ARGS)
    @handle_errors
    def robustness_cmd(
        ctx: typer.Context,
        config: Path | None = typer.Option(None, "--config", help="YAML config (configs/robustness/*.yaml)."),
        testbed: str | None = typer.Option(None, help="misspelling | label-noise"),
        rates: str | None = typer.Option(None, help="Comma list of rates in [0, 1], e.g. 0,0.05,0.1,0.2,0.3"),
        run: str | None = typer.Option(None, "--run", help="Tuned run folder (cancerllm sft) for --predictor model."),
        predictor: str | None = typer.Option(None, help="model | regex | tfidf (non-LLM reference curves)"),
        mitigation: str | None = typer.Option(None, help="none | normalize | augment"),
        perturbations: str | None = typer.Option(None, help="Comma list of perturbations (cancerllm ls)."),
        task: str | None = typer.Option(None, help="phenotype | diagnosis"),
        limit: int | None = typer.Option(None, help="Only the first N test notes."),
        seed: int | None = typer.Option(None, help="Seed of the perturbations / label noise."),
        out: str | None = typer.Option(None, "--out", help="Output folder."),
    ) -> None:
        """Misspelling / label-noise testbeds: scores per rate, degradation curve (PNG + Markdown) and its AUC."""
        from cancerllm.config import load_config
        from cancerllm.robustness.testbed import RobustnessConfig
        from cancerllm.robustness.testbed import run as run_testbed

        # Lists go in brackets so a single value ("--rates 0.1") still parses as a list.
        rates = f"[{rates}]" if rates is not None else None
        perturbations = f"[{perturbations}]" if perturbations is not None else None
        named = {"testbed": testbed, "rates": rates, "run": run, "predictor": predictor, "mitigation": mitigation,
                 "perturbations": perturbations, "task": task, "limit": limit, "seed": seed, "out": out}
        # Only options actually given override the YAML (precedence: defaults < --config < command line).
        overrides = [f"{k}={v}" for k, v in named.items() if v is not None] + list(ctx.args)
        cfg = load_config(RobustnessConfig, config, overrides)
        result = run_testbed(cfg)
        typer.echo((result.out / "curve.md").read_text())
        typer.echo(json.dumps({"out": str(result.out), "auc": result.scores["auc"]}))
