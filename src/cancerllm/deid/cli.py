"""``cancerllm deid``: replace identifiers in notes, or measure how well that works.

Examples (run from the repository root)::

    cancerllm deid notes.jsonl --out clean.jsonl          # key from $CANCERLLM_DEID_SECRET, else random
    cancerllm deid notes/ --out clean.jsonl --seed 13     # reproducible date shifts (seed is not a secret)
    cancerllm deid --measure --n 500 --seed 0 --real /work/shared/data/tcga_path_reports/test.jsonl
"""

from __future__ import annotations

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors


@handle_errors
def deid_cmd(
    ctx: typer.Context,
    input: str | None = typer.Argument(None, help="A .txt note, a Note JSONL file or a folder of them."),
    out: str | None = typer.Option(None, "--out", help="Output Note JSONL; config, summary and offsets go to "
                                   "<out stem>.deid/ next to it."),
    seed: int | None = typer.Option(None, "--seed", help="Reproducible date-shift key (tests, measurement). Real "
                                    "data: set CANCERLLM_DEID_SECRET instead."),
    measure: bool = typer.Option(False, "--measure", help="Score recall/precision on seeded synthetic notes with "
                                 "fake PHI instead of de-identifying INPUT."),
    n: int = typer.Option(500, "--n", help="--measure: synthetic notes to score."),
    real: list[str] = typer.Option([], "--real", help="--measure: also count replacements on this already "
                                   "de-identified file (false positives on clinical text); repeatable."),
) -> None:
    """De-identify notes: names, dates (shifted per patient), ids, phones, addresses, e-mails, ages over 89.

    Other settings as key=value: max_shift_days=365, keep_fields=a,b (extra fields to copy), pseudonymize_ids=true,
    secret_env=CANCERLLM_DEID_SECRET.
    """
    import json

    from cancerllm.errors import ConfigError

    if measure:
        from cancerllm.deid.measure import measure_real, measure_synthetic, table

        if n < 1:
            raise ConfigError(f"--n: got {n}, expected an integer >= 1")
        result = measure_synthetic(n, seed if seed is not None else 0)
        result["real"] = [measure_real(path) for path in real]
        typer.echo(table(result))
        typer.echo(json.dumps(result))
        return
    from cancerllm.cli_utils import verb_config
    from cancerllm.deid.recipe import DeidConfig, run

    cfg = verb_config(DeidConfig, None, ctx, input=input, out=out, seed=seed)
    summary = run(cfg)
    typer.echo(json.dumps(summary))


def register(app: typer.Typer) -> None:
    app.command("deid", context_settings=EXTRA_ARGS)(deid_cmd)
