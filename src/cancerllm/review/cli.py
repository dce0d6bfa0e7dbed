"""``cancerllm review``: put predictions under review, export the corrections as gold notes, report agreement.

Examples (run from the repository root)::

    cancerllm extract notes.jsonl --run out/sft/tiny --out out/extract/notes
    cancerllm review load --db review.sqlite --notes notes.jsonl --predictions out/extract/notes/predictions.jsonl
    cancerllm serve --run out/sft/tiny --review-db review.sqlite      # review in the browser
    cancerllm review export --db review.sqlite --out corrected.jsonl
    cancerllm review agreement --db review.sqlite
    cancerllm sft --config configs/sft/tiny.yaml --data.train=corrected.jsonl
"""

from __future__ import annotations

import typer

from cancerllm.cli_utils import handle_errors

review_app = typer.Typer(no_args_is_help=True, help="Review predictions, export corrections as gold notes for sft.")

_DB = typer.Option(..., "--db", help="Review database (SQLite; the file `cancerllm serve --review-db` uses).")


@review_app.command("load")
@handle_errors
def load_cmd(
    db: str = _DB,
    notes: str = typer.Option(..., "--notes", help="Note JSONL (id, text) the predictions were made on."),
    predictions: str = typer.Option(..., "--predictions", help="predictions.jsonl of `cancerllm extract`."),
    replace: bool = typer.Option(False, "--replace", help="Restart the review of notes already loaded."),
) -> None:
    """Put each note with its phenotype prediction under review (matched by id)."""
    import json

    from cancerllm.data.io import read_notes_reporting
    from cancerllm.data.schema import Prediction
    from cancerllm.errors import DataFormatError
    from cancerllm.review.corrections import ReviewProblem
    from cancerllm.review.db import ReviewDB

    by_id = {n.id: n for n in read_notes_reporting(notes, "review load")}
    store = ReviewDB(db)
    loaded, missing, conflicts = 0, 0, 0
    with open(predictions, encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = Prediction.model_validate(json.loads(line))
            except ValueError as err:  # json and pydantic errors; pydantic's message may quote input: not shown
                raise DataFormatError(f"not a Prediction record ({type(err).__name__})", path=predictions,
                                      line=line_no) from None
            if rec.task != "phenotype" or rec.id not in by_id:
                missing += 1  # a diagnosis record, or a prediction whose note is not in --notes
                continue
            try:
                store.load(rec.id, by_id[rec.id].text, rec.model_dump(mode="json"), replace=replace)
                loaded += 1
            except ReviewProblem:
                conflicts += 1
    typer.echo(f"loaded {loaded} note(s) into {db}; {missing} record(s) without a phenotype note, {conflicts} already "
               "under review (--replace restarts them)")


@review_app.command("export")
@handle_errors
def export_cmd(
    db: str = _DB,
    out: str = typer.Option(..., "--out", help="Gold Note JSONL to write (cancerllm sft --data.train)."),
    include_partial: bool = typer.Option(False, "--include-partial", help="Also export unfinished reviews "
                                         "(their unreviewed mentions kept as the model gave them)."),
) -> None:
    """Turn the corrections into gold notes (mentions after corrections) and print the agreement table."""
    import json

    from cancerllm.review.export import agreement_table, export_gold

    summary = export_gold(db, out, include_partial)
    typer.echo(agreement_table(summary["agreement"]))
    typer.echo(f"wrote {summary['notes']} gold note(s), {summary['mentions']} mention(s) to {out}; skipped "
               f"{summary['skipped'] or 'none'}")
    typer.echo(json.dumps({k: summary[k] for k in ("out", "notes", "mentions", "skipped")}))


@review_app.command("agreement")
@handle_errors
def agreement_cmd(
    db: str = _DB,
    out: str | None = typer.Option(None, "--out", help="Also write the report as JSON here."),
) -> None:
    """Model-vs-reviewer agreement per mention type and label: a table, then the JSON on the last line."""
    import json
    from pathlib import Path

    from cancerllm.review.db import ReviewDB
    from cancerllm.review.export import agreement, agreement_table

    report = agreement(ReviewDB(db))
    typer.echo(agreement_table(report))
    if out:
        Path(out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    typer.echo(json.dumps(report))


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
