"""``cancerllm export fhir|note-nlp``: prediction records -> FHIR R4 / mCODE Bundles or OMOP NOTE_NLP.

Examples (run from the repository root)::

    cancerllm export fhir out/extract/predictions.jsonl --notes notes.jsonl --out out/export/bundle.json
    cancerllm export fhir out/extract/predictions.jsonl out/classify/test.jsonl --out out/export/bundles.ndjson
    cancerllm export note-nlp out/extract/predictions.jsonl --notes notes.jsonl --out out/export/note_nlp.parquet
"""

from __future__ import annotations

import typer

from cancerllm.cli_utils import handle_errors

_PREDS = typer.Argument(..., help="Prediction JSONL files (extract, diagnose or classify output); records of the "
                        "same note id are joined.")
_NOTES = typer.Option(None, "--notes", help="The Note JSONL the predictions were made on: adds the document hash "
                      "and kind, checks every span against the text (needed for --include-text).")
_TEXT = typer.Option(False, "--include-text", help="Put note text in the export (FHIR attachment data, NOTE_NLP "
                     "snippet). Off by default: exports carry offsets, never note text.")


@handle_errors
def fhir_cmd(predictions: list[str] = _PREDS,
             out: str = typer.Option(..., "--out", help=".json (one Bundle, or a collection of per-note Bundles) "
                                     "or .ndjson (one Bundle per line)."),
             notes: str | None = _NOTES, include_text: bool = _TEXT) -> None:
    """One FHIR R4 / mCODE Bundle per note: DocumentReference, Condition, TNM and tumour-marker Observations."""
    from cancerllm.interop.export import export_fhir, summary_line

    summary = export_fhir(predictions, out, notes=notes, include_text=include_text)
    _finish(summary)
    typer.echo(summary_line(summary))


@handle_errors
def note_nlp_cmd(predictions: list[str] = _PREDS,
                 out: str = typer.Option(..., "--out", help="note_nlp.csv or note_nlp.parquet."),
                 notes: str | None = _NOTES, include_text: bool = _TEXT,
                 start_id: int = typer.Option(1, "--start-id", help="First note_nlp_id (to append to a table).")
                 ) -> None:
    """The OMOP CDM NOTE_NLP table: one row per mention (offsets, term_exists from the assertion)."""
    from cancerllm.interop.export import export_note_nlp, summary_line

    summary = export_note_nlp(predictions, out, notes=notes, include_text=include_text, start_id=start_id)
    _finish(summary)
    typer.echo(summary_line(summary))


def _finish(summary: dict) -> None:
    # Each skipped record was logged (stderr) with its file:line; the count is repeated last so it is not missed.
    if summary["failed"]:
        typer.echo(f"{summary['failed']} record(s) skipped (listed above, by file:line); the rest was exported",
                   err=True)


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="Export predictions: FHIR R4 / mCODE Bundles, OMOP NOTE_NLP.")
    group.command("fhir")(fhir_cmd)
    group.command("note-nlp")(note_nlp_cmd)
    app.add_typer(group, name="export")
