"""The two export recipes behind ``cancerllm export fhir`` and ``cancerllm export note-nlp``: read -> build -> write
-> report. A bad record costs that record only: it is named (file:line, document, field, never its text) in the
log and in the returned summary, and every other note is exported.

Example:
    >>> import tempfile, pathlib, json
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.jsonl").write_text(json.dumps({"id": "n1", "task": "phenotype"}) + "\\n")
    >>> export_fhir([d / "p.jsonl"], d / "b.json")["notes"]
    1
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from cancerllm.errors import ConfigError, DataFormatError

__all__ = ["export_fhir", "export_note_nlp"]

log = logging.getLogger(__name__)


def _read(paths: list[str | Path], notes: str | Path | None, include_text: bool) -> tuple[list[Any], list[str]]:
    from cancerllm.interop.records import read_predictions

    if not paths:
        raise ConfigError("give at least one predictions file (extract, diagnose or classify output)")
    if include_text and notes is None:
        raise ConfigError("--include-text: needs --notes NOTES.jsonl (the notes the predictions were made on); "
                          "prediction records hold no note text")
    records, problems = read_predictions(list(paths), notes)
    return records, [str(p) for p in problems]


def _report(what: str, done: int, failures: list[str], out: Path) -> None:
    for f in failures:
        log.warning("export %s: skipped: %s", what, f)
    if not done:
        first = failures[0] if failures else "the input holds no record"
        raise DataFormatError(f"export {what}: nothing to export ({len(failures)} bad record(s); the first: {first})")
    log.info("export %s: %d note(s) written to %s, %d record(s) skipped", what, done, out, len(failures))


def export_fhir(paths: list[str | Path], out: str | Path, notes: str | Path | None = None,
                include_text: bool = False) -> dict[str, Any]:
    """Write one FHIR Bundle per note.

    ``out`` ending in ``.ndjson``/``.jsonl``: one Bundle per line. ``.json``: the Bundle itself for one note,
    else a ``collection`` Bundle of the notes' Bundles.

    Returns:
        ``{"notes", "resources", "failed", "failures", "out"}``.
    """
    from cancerllm.interop.fhir import bundle_of_bundles, note_bundle_json

    out = Path(out)
    if out.suffix.lower() not in (".json", ".ndjson", ".jsonl"):
        raise ConfigError(f"--out: got {str(out)!r}, expected a .json, .ndjson or .jsonl file")
    records, failures = _read(paths, notes, include_text)
    bundles, docs = [], []
    for rec in records:
        try:
            bundle, doc = note_bundle_json(rec, include_text=include_text)
            bundles.append(bundle)
            docs.append(doc)
        except DataFormatError as err:
            failures.append(f"{rec.where}: {err}")
        except Exception as err:  # noqa: BLE001 - one record that cannot be mapped must not stop the batch
            failures.append(f"{rec.where}: document {rec.id!r}: not exportable ({type(err).__name__})")
    _report("fhir", len(bundles), failures, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        doc = docs[0] if len(docs) == 1 else bundle_of_bundles(bundles)[1]
        out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    else:  # the JSON each Bundle was validated as, written once (fhir.resources' serialiser is the slow part)
        with open(out, "w", encoding="utf-8") as fh:
            for doc in docs:
                fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
    return {"notes": len(bundles), "resources": sum(len(b.entry) for b in bundles), "failed": len(failures),
            "failures": failures, "out": str(out)}


def export_note_nlp(paths: list[str | Path], out: str | Path, notes: str | Path | None = None,
                    include_text: bool = False, start_id: int = 1) -> dict[str, Any]:
    """Write the OMOP NOTE_NLP table (``.csv`` or ``.parquet``) of the predictions.

    Returns:
        ``{"notes", "rows", "failed", "failures", "out"}``.
    """
    from cancerllm.interop.omop import note_nlp_rows, write_note_nlp

    if Path(out).suffix.lower() not in (".csv", ".parquet"):
        raise ConfigError(f"--out: got {str(out)!r}, expected a .csv or .parquet file")
    records, failures = _read(paths, notes, include_text)
    _report("note-nlp", len(records), failures, Path(out))
    rows = note_nlp_rows(records, include_text=include_text, start_id=start_id)
    write_note_nlp(rows, out, records)
    return {"notes": len(records), "rows": len(rows), "failed": len(failures), "failures": failures,
            "out": str(out)}


def summary_line(summary: dict[str, Any]) -> str:
    """The summary without the failure messages (those went to the log), as one JSON line."""
    return json.dumps({k: v for k, v in summary.items() if k != "failures"})
