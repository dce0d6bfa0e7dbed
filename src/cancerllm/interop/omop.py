"""OMOP CDM v5.4 ``NOTE_NLP`` rows: one per mention (and one per inferred document label), as CSV or Parquet.

Column by column (https://ohdsi.github.io/CommonDataModel/cdm54.html#note_nlp):

* ``note_nlp_id``: 1, 2, ... in export order (``start_id`` to continue an existing table).
* ``note_id``: the note id when it is an integer (OMOP's NOTE.note_id); otherwise a stable 63-bit number from
  its SHA-256, and the writer adds a ``<out>.note_ids.csv`` sidecar (note_id, source id) to join back.
* ``section_concept_id``, ``note_nlp_concept_id``, ``note_nlp_source_concept_id``: 0 (no OMOP vocabulary is
  shipped, so nothing is mapped to a concept id).
* ``snippet``: empty unless ``include_text``: then up to 250 characters of note around the mention.
* ``offset``: ``"start-end"`` (code-point offsets, end exclusive); empty for an unquoted (inferred) value.
* ``lexical_variant``: the quoted term itself ("pT2", "ER positive"), as OMOP defines the column (required); for
  an inferred label, its value ("T3").
* ``nlp_system``: ``cancerllm <version>`` and the producer (prompt style or classifier); ``nlp_date`` /
  ``nlp_datetime``: the export time unless given.
* ``term_exists``: ``Y`` for present and historical mentions (the patient has or had it), ``N`` for negated,
  possible (hedged or rule-out) and family ones, following OMOP's rule that negation, another subject, a
  conditional or a rule-out make it false.
* ``term_temporal``: ``past`` for historical mentions, else ``present``.
* ``term_modifiers``: ``;``-separated ``key=value``: ``type``, ``value``, ``assertion``, ``Negation``,
  ``Subject``, ``Uncertain``, ``inferred`` and ``probability``.

Example:
    >>> from cancerllm.data.schema import Mention
    >>> from cancerllm.interop.records import ExportRecord
    >>> rec = ExportRecord(id="7", mentions=[Mention(type="biomarker", text="HER2", start=3, end=7,
    ...                                              value="HER2: positive", assertion="negated")])
    >>> row = note_nlp_rows([rec], nlp_datetime=_dt.datetime(2026, 11, 30))[0]
    >>> row["note_id"], row["offset"], row["term_exists"], row["snippet"]
    (7, '3-7', 'N', '')
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
from pathlib import Path
from typing import Any

from cancerllm.errors import ConfigError, ResourceError
from cancerllm.interop.records import ExportRecord

__all__ = ["COLUMNS", "note_id_int", "note_nlp_rows", "write_note_nlp"]

COLUMNS = ("note_nlp_id", "note_id", "section_concept_id", "snippet", "offset", "lexical_variant",
           "note_nlp_concept_id", "note_nlp_source_concept_id", "nlp_system", "nlp_date", "nlp_datetime",
           "term_exists", "term_temporal", "term_modifiers")
_EXISTS = {"present": "Y", "historical": "Y", "negated": "N", "possible": "N", "family": "N"}
_MODIFIERS = {"negated": "Negation=true", "family": "Subject=family", "possible": "Uncertain=true"}
_SNIPPET = 250


def note_id_int(note_id: str) -> int:
    """OMOP's integer note_id: the id itself when it is a non-negative integer, else a stable hash of it.

    >>> note_id_int("42"), note_id_int("synth-000016") == note_id_int("synth-000016")
    (42, True)
    """
    if note_id.isdigit() and int(note_id) < 2**63:
        return int(note_id)
    return int.from_bytes(hashlib.sha256(note_id.encode("utf-8")).digest()[:8], "big") >> 1


def _snippet(text: str | None, start: int | None, end: int | None, fallback: str) -> str:
    if text is None or start is None:
        return fallback[:_SNIPPET]
    pad = max((_SNIPPET - (end - start)) // 2, 0)
    return text[max(start - pad, 0):end + pad][:_SNIPPET]


def _system(rec: ExportRecord, version: str) -> str:
    return f"cancerllm {version}" + (f" ({', '.join(rec.systems)})" if rec.systems else "")


def note_nlp_rows(records: list[ExportRecord], *, include_text: bool = False, start_id: int = 1,
                  nlp_datetime: _dt.datetime | None = None) -> list[dict[str, Any]]:
    """NOTE_NLP rows for ``records``: every mention (any assertion), then each inferred document label.

    Args:
        records: from :func:`cancerllm.interop.records.read_predictions`.
        include_text: fill ``snippet`` with the note around the mention (needs ``rec.text``; else the term).
        start_id: the first ``note_nlp_id``.
        nlp_datetime: when the NLP ran (default: now, UTC).
    """
    import importlib.metadata

    version = importlib.metadata.version("cancerllm")
    when = nlp_datetime or _dt.datetime.now(_dt.UTC).replace(microsecond=0, tzinfo=None)
    rows: list[dict[str, Any]] = []
    for rec in records:
        base = {"note_id": note_id_int(rec.id), "section_concept_id": 0, "note_nlp_concept_id": 0,
                "note_nlp_source_concept_id": 0, "nlp_system": _system(rec, version), "nlp_date": when.date(),
                "nlp_datetime": when}
        for m in rec.mentions:
            mods = [f"type={m.type}", f"value={m.value or ''}", f"assertion={m.assertion}"]
            mods += [_MODIFIERS[m.assertion]] if m.assertion in _MODIFIERS else []
            mods += ["inferred=true"] if m.inferred else []
            rows.append({**base, "snippet": _snippet(rec.text, m.start, m.end, m.text) if include_text else "",
                         "offset": f"{m.start}-{m.end}" if m.start is not None else "", "lexical_variant": m.text,
                         "term_exists": _EXISTS[m.assertion],
                         "term_temporal": "past" if m.assertion == "historical" else "present",
                         "term_modifiers": ";".join(mods)})
        # Labels that no mention quotes (classify's inferred path): a row each, so the table has every value.
        for label, src in rec.sources.items():
            value = rec.labels.get(label)
            if src.source != "inferred" or value is None:
                continue
            mods = [f"label={label}", f"value={value}", "assertion=present", "inferred=true"]
            mods += [f"probability={src.probability:g}"] if src.probability is not None else []
            rows.append({**base, "snippet": "", "offset": "", "lexical_variant": value, "term_exists": "Y",
                         "term_temporal": "present", "term_modifiers": ";".join(mods)})
    for i, row in enumerate(rows, start=start_id):
        row["note_nlp_id"] = i
    return [{c: row[c] for c in COLUMNS} for row in rows]


def write_note_nlp(rows: list[dict[str, Any]], out: str | Path, records: list[ExportRecord] | None = None) -> Path:
    """Write rows as ``.csv`` (header, RFC 4180 quoting) or ``.parquet`` (pyarrow, typed columns).

    With ``records`` whose ids are not all integers, also writes ``<out>.note_ids.csv`` (note_id, source_id).

    Raises:
        ConfigError: another suffix. ResourceError: ``.parquet`` without pyarrow.
    """
    path = Path(out)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"--out: got {str(path)!r}, expected a .csv or .parquet file")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "nlp_datetime": row["nlp_datetime"].isoformat(sep=" ")})
    else:
        _write_parquet(rows, path)
    if records and any(not r.id.isdigit() for r in records):
        with open(path.with_name(path.name + ".note_ids.csv"), "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["note_id", "source_id"])
            writer.writerows((note_id_int(r.id), r.id) for r in records)
    return path


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ResourceError("writing .parquet needs pyarrow: pip install pyarrow, or write .csv") from None
    types = {"note_nlp_id": pa.int64(), "note_id": pa.int64(), "section_concept_id": pa.int32(),
             "note_nlp_concept_id": pa.int32(), "note_nlp_source_concept_id": pa.int32(), "nlp_date": pa.date32(),
             "nlp_datetime": pa.timestamp("s")}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])
    table = pa.Table.from_pylist(rows, schema=schema)
    pq.write_table(table, path)
