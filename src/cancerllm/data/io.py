"""Reading and writing notes: JSONL, a single .txt file, or a folder of .txt/.jsonl files.

Errors name the file, the 1-based line and the field, never the note text. ``read_notes(..., errors=list)``
collects broken records instead of raising, so a batch with one bad line still processes the rest.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text('{"id": "n1", "text": "pT2 N0"}\\n{"id": "n2"}\\n')
    >>> bad = []
    >>> [n.id for n in read_notes(d / "a.jsonl", errors=bad)]
    ['n1']
    >>> str(bad[0]).endswith("a.jsonl:2, document 'n2', field 'text': missing")
    True
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cancerllm.data.schema import Note
from cancerllm.errors import DataFormatError, ResourceError

__all__ = ["read_jsonl", "write_jsonl", "read_notes", "iter_jsonl_dicts", "convert_records"]


def iter_jsonl_dicts(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, dict)``; raise DataFormatError naming the line for invalid JSON."""
    p = Path(path)
    if not p.is_file():
        raise ResourceError(f"file {str(p)!r} does not exist")
    with open(p, encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFormatError(f"not valid JSON ({err.msg} at column {err.colno})", path=p, line=i) from None
            if not isinstance(obj, dict):
                raise DataFormatError(f"expected a JSON object, got {type(obj).__name__}", path=p, line=i)
            yield i, obj


def convert_records(path: Path, convert: Callable[[dict[str, Any]], Any],
                    errors: list[DataFormatError] | None = None) -> list[Any]:
    """``convert`` every JSONL record of ``path``; a record it rejects is named by file:line and, with ``errors``
    given, collected there while the rest is converted (used by the corpus converters)."""
    out = []
    for line, rec in iter_jsonl_dicts(path):
        try:
            out.append(convert(rec))
        except DataFormatError as err:
            err.path, err.line = path, line
            err.args = (f"{path}:{line}: {err}",)
            if errors is None:
                raise
            errors.append(err)
    return out


def _validation_error(err: ValidationError, path: Path, line: int, doc_id: str | None) -> DataFormatError:
    first = err.errors()[0]
    field = ".".join(str(x) for x in first["loc"]) or None
    msg = "missing" if first["type"] == "missing" else first["msg"]
    extra = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return DataFormatError(msg + extra, path=path, line=line, field=field, doc_id=doc_id)


def read_jsonl(path: str | Path, model: type[BaseModel], errors: list[DataFormatError] | None = None) -> list[Any]:
    """Parse every line into ``model``. With ``errors`` given, bad lines are collected there and skipped."""
    out = []
    p = Path(path)
    lines = iter_jsonl_dicts(p)
    while True:
        try:
            i, obj = next(lines)
        except StopIteration:
            break
        except DataFormatError as err:
            if errors is None:
                raise
            errors.append(err)
            continue
        try:
            out.append(model.model_validate(obj))
        except ValidationError as err:
            exc = _validation_error(err, p, i, obj.get("id") if isinstance(obj.get("id"), str) else None)
            if errors is None:
                raise exc from None
            errors.append(exc)
    return out


def write_jsonl(records: Iterable[BaseModel | dict[str, Any]], path: str | Path) -> Path:
    """Write records, one JSON object per line (UTF-8, non-ASCII kept as is)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as fh:
        for r in records:
            obj = r.model_dump(mode="json", exclude_none=False) if isinstance(r, BaseModel) else r
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return p


def _note_from_txt(path: Path) -> Note:
    return Note(id=path.stem, text=path.read_text(encoding="utf-8"))


def read_notes(path: str | Path, errors: list[DataFormatError] | None = None) -> list[Note]:
    """Read notes from a .jsonl file, a .txt file (one note) or a folder of either (sorted by name).

    Gold spans, when present, are checked against the text: a mismatch is a DataFormatError for that record.
    """
    p = Path(path)
    if not p.exists():
        raise ResourceError(f"input {str(p)!r} does not exist; give a .txt file, a .jsonl file or a folder")
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix in (".txt", ".jsonl"))
        if not files:
            raise ResourceError(f"folder {str(p)!r} holds no .txt or .jsonl files")
        return [n for f in files for n in read_notes(f, errors)]
    if p.suffix == ".txt":
        return [_note_from_txt(p)]
    if p.suffix not in (".jsonl", ".json"):
        raise ResourceError(f"input {str(p)!r}: got suffix {p.suffix!r}, expected .txt, .jsonl or a folder")
    notes = read_jsonl(p, Note, errors)
    good = []
    for n in notes:
        try:
            n.check_spans()
            good.append(n)
        except DataFormatError as err:
            err.path = p
            if errors is None:
                raise
            errors.append(err)
    return good
