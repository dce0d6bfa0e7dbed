"""``cancerllm batch``: extraction / diagnosis on a Ray cluster (a local one by default), sharded JSONL output.

Examples (run from the repository root)::

    cancerllm batch notes/ --out out/batch/tcga --run out/sft/embedded --workers 2
    ray start --head --port 6379                    # on the head node; `ray start --address HEAD:6379` elsewhere
    cancerllm batch shards/ --out out/batch/all --run out/sft/embedded address=auto --workers 64 gpus_per_worker=1
"""

from __future__ import annotations

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors, verb_config


@handle_errors
def batch_cmd(
    ctx: typer.Context,
    input: str = typer.Argument(..., help="A .jsonl/.txt/.parquet file or a folder of them (read in parallel)."),
    out: str = typer.Option(..., "--out", help="Output folder: sharded predictions-NNNNN.jsonl; a rerun "
                            "resumes, skipping the ids already written."),
    run: str | None = typer.Option(None, "--run", help="Training run folder (cancerllm sft output)."),
    task: str | None = typer.Option(None, "--task", help="phenotype (default) or diagnosis."),
    config: str | None = typer.Option(None, "--config", help="YAML of BatchConfig fields."),
    workers: int | None = typer.Option(None, "--workers", help="Predictor actors (default 1)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster: 'auto' joins `ray start`; "
                                       "default starts a local one."),
    parquet: bool | None = typer.Option(None, "--parquet/--no-parquet", help="Also write Parquet shards."),
    engine: str | None = typer.Option(None, "--engine", help="hf (default) or vllm inside every actor (ray installed "
                                      "in the vLLM venv). Same as generate.engine=."),
) -> None:
    """Extract phenotypes (or --task diagnosis) for many notes on a Ray actor pool: the same records as `cancerllm
    extract`, in sharded JSONL, resumable by id.

    Any BatchConfig/ExtractConfig field is also an override, e.g. generate.batch_size=8 cpus_per_worker=4
    gpus_per_worker=1 generate.engine=vllm shard_records=50000 max_restarts=5.
    """
    import json

    from cancerllm.scale.batch import BatchConfig
    from cancerllm.scale.batch import run as run_batch

    cfg = verb_config(BatchConfig, config, ctx, input=input, out=out, task=task, run=run, workers=workers,
                      address=address, parquet=parquet, **{"generate.engine": engine})
    summary = run_batch(cfg)
    shown = {k: summary[k] for k in ("task", "notes", "resumed", "records", "notes_with_errors", "empty_notes",
                                     "duplicate_ids", "mentions", "seconds", "notes_per_s", "workers", "shards")}
    typer.echo(json.dumps({**shown, "input_errors": len(summary["input_errors"])}))
    typer.echo(f"predictions: {cfg.out}/predictions-*.jsonl")


def register(app: typer.Typer) -> None:
    """Add the ``batch`` verb."""
    app.command("batch", context_settings=EXTRA_ARGS)(batch_cmd)
