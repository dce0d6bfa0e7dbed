"""What the exporters read: prediction records of ``extract``/``diagnose``/``classify``, joined by note id.

All three commands write :class:`~cancerllm.data.schema.Prediction` records, one JSON line per note:

* ``extract`` fills ``mentions`` (spans, assertion, value; ``inferred`` for unquoted ones) and derived ``labels``;
* ``diagnose`` fills ``diagnosis`` (ICD-10-CM code);
* ``classify`` fills ``labels`` (t/n/m stage, cancer type) and ``meta.label_sources``: per label either
  ``{"source": "evidence", "start", "end"}`` (with a matching mention) or ``{"source": "inferred",
  "probability"}``.

Given several files, records with the same id are joined (mentions of one, labels of another). A bad line (not
JSON, not a Prediction, a span that does not fit the note, a malformed ``label_sources`` entry, an id repeated
in one file) is named by file:line, document and field, never by its text, and left out; the rest is read.

Example:
    >>> import tempfile, pathlib, json
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.jsonl").write_text(json.dumps({"id": "n1", "task": "phenotype"}) + "\\n{oops\\n")
    >>> recs, bad = read_predictions([d / "p.jsonl"])
    >>> [r.id for r in recs], [str(e).split("p.jsonl")[1][:3] for e in bad]
    (['n1'], [':2:'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.data.schema import Mention, Prediction
from cancerllm.errors import DataFormatError

__all__ = ["ExportRecord", "LabelSource", "read_predictions", "text_digest"]


@dataclass(frozen=True)
class LabelSource:
    """Where a document label came from: quoted evidence (with its span) or inferred (with its probability)."""

    source: str
    """``evidence`` or ``inferred``."""
    probability: float | None = None
    start: int | None = None
    end: int | None = None


@dataclass
class ExportRecord:
    """One note's predictions (joined across files) and, when notes were given, its text and kind."""

    id: str
    mentions: list[Mention] = field(default_factory=list)
    diagnosis: Any = None
    labels: dict[str, str | None] = field(default_factory=dict)
    sources: dict[str, LabelSource] = field(default_factory=dict)
    systems: list[str] = field(default_factory=list)
    """Which producers made the record (``cancerllm.classify.v1``, ``extract json.v1`` ...), for nlp_system."""
    where: str = ""
    """file:line of the first line of this record (for messages)."""
    text: str | None = None
    kind: str | None = None
    digest: dict[str, Any] | None = None
    """``{"sha256", "sha1_b64", "size"}`` of the text when the text itself is not kept (the server's store)."""

    def digests(self) -> dict[str, Any] | None:
        """The text's hashes: computed from ``text`` when it is here, else the stored ``digest``."""
        return text_digest(self.text) if self.text is not None else self.digest

    @classmethod
    def from_prediction(cls, pred: Prediction, where: str = "") -> ExportRecord:
        """An ExportRecord of one Prediction (``label_sources`` read from ``meta``).

        Raises:
            DataFormatError: a malformed ``meta.label_sources`` entry (names the field).
        """
        rec = cls(id=pred.id, where=where)
        rec.merge(pred)
        return rec

    def merge(self, pred: Prediction) -> None:
        """Join another file's record of the same note: mentions added (exact repeats dropped), the first
        diagnosis kept, labels and their sources added where this record has none."""
        sources = _label_sources(pred)  # first: a malformed entry rejects the line before anything is joined
        seen = {m.model_dump_json() for m in self.mentions}
        self.mentions += [m for m in pred.mentions if m.model_dump_json() not in seen]
        self.diagnosis = self.diagnosis or pred.diagnosis
        for key, value in pred.labels.items():
            if self.labels.get(key) is None and value is not None:
                self.labels[key] = value
                if key in sources:
                    self.sources[key] = sources[key]
        system = _system(pred)
        if system not in self.systems:
            self.systems.append(system)

    def check_spans(self) -> None:
        """Raise DataFormatError unless every quoted mention slices the note text to its own text."""
        if self.text is None:
            return
        for i, m in enumerate(self.mentions):
            if m.start is not None and (m.end > len(self.text) or self.text[m.start:m.end] != m.text):
                raise DataFormatError(f"span [{m.start}, {m.end}) of a {m.type} mention does not match the note "
                                      f"text (note length {len(self.text)}); were these predictions made on "
                                      "another version of the notes?", doc_id=self.id, field=f"mentions.{i}")


def text_digest(text: str) -> dict[str, Any]:
    """SHA-256 (hex), SHA-1 (base64, what FHIR R4 ``Attachment.hash`` holds) and byte size of the UTF-8 text.

    >>> text_digest("pT2")["size"], text_digest("pT2")["sha256"][:12]
    (3, 'a43ad56601ad')
    """
    import base64
    import hashlib

    raw = text.encode("utf-8")
    return {"sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw),
            "sha1_b64": base64.b64encode(hashlib.sha1(raw).digest()).decode("ascii")}


def _system(pred: Prediction) -> str:
    meta = pred.meta or {}
    if meta.get("classifier"):
        return str(meta["classifier"])
    style = meta.get("prompt_style")
    task = {"phenotype": "extract", "diagnosis": "diagnose"}.get(pred.task, pred.task)
    return f"cancerllm {task}" + (f" {style}" if style else "")


def _label_sources(pred: Prediction) -> dict[str, LabelSource]:
    raw = (pred.meta or {}).get("label_sources") or {}
    if not isinstance(raw, dict):
        raise DataFormatError(f"expected an object {{label: {{source, ...}}}}, got {type(raw).__name__}",
                              doc_id=pred.id, field="meta.label_sources")
    out = {}
    for label, src in raw.items():
        where = f"meta.label_sources.{label}"
        if not isinstance(src, dict) or src.get("source") not in ("evidence", "inferred"):
            got = src.get("source") if isinstance(src, dict) else type(src).__name__
            raise DataFormatError(f"source: got {got!r}, expected 'evidence' or 'inferred'", doc_id=pred.id,
                                  field=f"{where}.source")
        p = src.get("probability")
        if p is not None and (isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0):
            raise DataFormatError(f"got {p!r}, expected a number in [0, 1]", doc_id=pred.id,
                                  field=f"{where}.probability")
        out[label] = LabelSource(src["source"], None if p is None else float(p), src.get("start"), src.get("end"))
    return out


def read_predictions(paths: list[str | Path], notes: str | Path | None = None
                     ) -> tuple[list[ExportRecord], list[DataFormatError]]:
    """Read and join prediction files (and, optionally, the notes they were made on).

    Args:
        paths: Prediction JSONL files (``extract``'s ``predictions.jsonl``, ``classify``'s ``<name>.jsonl``...).
        notes: the Note JSONL (or folder) the predictions were made on: gives each record its text (for the
            document hash, ``include_text`` and the span check) and kind. Records without a note are kept.

    Returns:
        ``(records in first-seen order, problems)``; every problem names file:line, document and field.

    Raises:
        ResourceError: a file does not exist.
    """
    from cancerllm.data.io import iter_jsonl, read_notes

    records: dict[str, ExportRecord] = {}
    problems: list[DataFormatError] = []
    for path in map(Path, paths):
        first_line: dict[str, int] = {}
        for line, obj in iter_jsonl(path):
            doc_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
            try:
                if isinstance(obj, DataFormatError):
                    raise obj
                if doc_id in first_line:  # the same id twice in one file: two notes, or a resumed run gone wrong
                    raise DataFormatError(f"id repeated (first at line {first_line[doc_id]}); ids must be unique "
                                          "within one predictions file", field="id")
                pred = Prediction.model_validate(obj)
                if pred.id in records:
                    records[pred.id].merge(pred)
                else:
                    records[pred.id] = ExportRecord.from_prediction(pred, f"{path}:{line}")
                first_line[pred.id] = line
            except DataFormatError as err:
                problems.append(_located(err, path, line, doc_id))
            except Exception as err:  # noqa: BLE001 - a pydantic ValidationError or anything else: this line only
                problems.append(_validation(err, path, line, doc_id))
    if notes is not None:
        bad_notes: list[DataFormatError] = []
        texts = {n.id: n for n in read_notes(notes, errors=bad_notes)}
        problems += bad_notes
        for rid in list(records):
            rec = records[rid]
            note = texts.get(rid)
            if note is None:
                continue
            rec.text, rec.kind = note.text, note.kind
            try:
                rec.check_spans()
            except DataFormatError as err:
                path, _, line = rec.where.rpartition(":")
                problems.append(_located(err, path, int(line), rid))
                del records[rid]
    return list(records.values()), problems


def _located(err: DataFormatError, path: Path | str, line: int, doc_id: str | None) -> DataFormatError:
    """``err`` with the file and line added (a DataFormatError raised deeper knows the document and field only)."""
    if err.path is not None:
        return err
    where = [f"document {err.doc_id!r}"] if err.doc_id is not None else []
    where += [f"field {err.field!r}"] if err.field is not None else []
    prefix = ", ".join(where) + ": " if where else ""
    msg = str(err).removeprefix(prefix)
    return DataFormatError(msg, path=path, line=line, field=err.field, doc_id=err.doc_id or doc_id)


def _validation(err: Exception, path: Path, line: int, doc_id: str | None) -> DataFormatError:
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        first = err.errors()[0]
        field_ = ".".join(str(x) for x in first["loc"]) or None
        msg = "missing" if first["type"] == "missing" else first["msg"]
        more = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
        return DataFormatError(msg + more, path=path, line=line, field=field_, doc_id=doc_id)
    return DataFormatError(f"not readable ({type(err).__name__})", path=path, line=line, doc_id=doc_id)
