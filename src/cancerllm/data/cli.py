"""``cancerllm data synth|convert``: make synthetic gold notes, or convert the shared real corpora to Note JSONL."""

from __future__ import annotations

from pathlib import Path

import typer

from cancerllm.cli_utils import handle_errors

data_app = typer.Typer(no_args_is_help=True, help="Make or convert note datasets (Note JSONL with gold labels).")


@data_app.command("synth")
@handle_errors
def synth_cmd(
    n: int = typer.Option(1000, "--n", help="Number of notes to generate."),
    seed: int = typer.Option(0, "--seed", help="Random seed; same seed and version give the same bytes."),
    out: Path = typer.Option(Path("out/data/synth.jsonl"), "--out", help="Output JSONL path."),
    typo_rate: float = typer.Option(0.0, "--typo-rate", help="Per-word typo probability in non-entity words."),
    long_rate: float = typer.Option(0.1, "--long-rate", help="Fraction of notes padded into long notes."),
    relations: bool = typer.Option(False, "--relations", help="Add gold Treats / Indicated_by relations "
                                   "(cancerllm.data.synth.relations); the notes themselves are unchanged."),
) -> None:
    """Generate synthetic oncology notes with exact gold spans, assertions and ICD-10-CM diagnoses."""
    from cancerllm.data.synth import write_synth

    if relations:
        from cancerllm.data.io import write_jsonl
        from cancerllm.data.synth import synthesize
        from cancerllm.data.synth.relations import with_relations

        notes = with_relations(synthesize(n, seed, typo_rate=typo_rate, long_rate=long_rate))
        path = write_jsonl(notes, out)
    else:
        path = write_synth(n=n, seed=seed, out=out, typo_rate=typo_rate, long_rate=long_rate)
    typer.echo(f"wrote {n} notes to {path}")


@data_app.command("convert")
@handle_errors
def convert_cmd(
    source: str = typer.Argument(..., help="tcga, bionlp13cg, mtsamples or chia."),
    split: str = typer.Option("train", "--split", help="train, dev or test (the corpus' own split)."),
    out: Path = typer.Option(..., "--out", help="Output Note JSONL path."),
    root: Path | None = typer.Option(None, "--root", help="Data folder; default ../shared/data or $CANCERLLM_DATA."),
) -> None:
    """Convert a shared real corpus split into Note JSONL (labels, evidence spans, ICD-10-CM diagnosis)."""
    from cancerllm.data.corpora.convert import convert

    path, count = convert(source=source, split=split, out=out, root=root)
    typer.echo(f"wrote {count} notes to {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
