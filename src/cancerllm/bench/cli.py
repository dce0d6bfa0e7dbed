"""``cancerllm bench``: latency, throughput and memory of extraction/diagnosis (and LoRA training) on this machine.

Examples (run from the repository root)::

    nice cancerllm bench --config configs/bench/embedded.yaml
    cancerllm bench --config configs/bench/embedded.yaml --run out/sft/tiny name=sft-tiny
    cancerllm bench --config configs/bench/tiny.yaml model.path=/path/to/model batch_sizes=[1,4] dtypes=fp32
    cancerllm bench --engines hf,vllm --styles qa.v1,json.v1,scoring --config configs/bench-engines/tcga16.yaml
"""

from __future__ import annotations

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors


@handle_errors
def bench_cmd(
    ctx: typer.Context,
    config: str | None = typer.Option(None, "--config", help="YAML of BenchConfig fields (configs/bench/*.yaml)."),
    run: str | None = typer.Option(None, "--run", help="Training run folder to benchmark (default: model.path)."),
    engines: str | None = typer.Option(None, "--engines", help="Engines x styles benchmark: e.g. hf,vllm (each in "
                                       "its own process; vllm from .venv-vllm, `make vllm`)."),
    styles: str | None = typer.Option(None, "--styles", help="With --engines: qa.v1,json.v1,json.v1+guided,scoring."),
) -> None:
    """Measure load time, per-note latency (p50/p90/mean + 95% CI), notes/s, tokens/s and peak RSS.

    Any field is also a free override, e.g. ``batch_sizes=[1,8] dtypes=bf16,fp32 threads=2 train=true``.
    Writes <out_root>/<name>/bench.json and bench.md, prints the table and a last-line JSON summary.
    """
    import json

    from cancerllm.bench.efficiency import BenchConfig
    from cancerllm.bench.efficiency import run as run_bench
    from cancerllm.config import load_config

    overrides = list(ctx.args) + ([f"run={run}"] if run else [])
    if engines or styles:  # engines x styles on TCGA notes (bench/engines.py), each engine in its own process
        from cancerllm.bench.engines import EnginesConfig
        from cancerllm.bench.engines import run as run_engines

        overrides += [f"{k}={v}" for k, v in (("engines", engines), ("styles", styles)) if v]
        ecfg = load_config(EnginesConfig, config, overrides)
        result = run_engines(ecfg)
        typer.echo((ecfg.out / "bench.md").read_text())
        typer.echo(f"wrote {ecfg.out}/bench.json")
        typer.echo(json.dumps({"engines": [e["engine"] for e in result["engines"]], "matmul": result["matmul_peak"]}))
        return
    cfg = load_config(BenchConfig, config, overrides)
    result = run_bench(cfg)
    typer.echo((cfg.out / "bench.md").read_text())
    typer.echo(f"wrote {cfg.out}/bench.json")
    typer.echo(json.dumps(result["summary"]))


def register(app: typer.Typer) -> None:
    app.command("bench", context_settings=EXTRA_ARGS)(bench_cmd)
