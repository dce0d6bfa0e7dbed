"""Reading and writing notes: JSONL, a single .txt file, or a folder of .txt/.jsonl/.json files.

The readers never lose a good note and never stop at a bad one: every non-blank line gives exactly one item, a
``Note`` or a ``DataFormatError`` naming the file, the 1-based line and the field (never the note text). Invalid
JSON, a line that is not an object, invalid UTF-8, nesting too deep to parse, a lone surrogate escape and a gold
span that does not match its text are all per-line errors; the next line is read as if nothing happened.

* :func:`iter_notes` is lazy (one line in memory at a time) and yields ``Read(path, line, value)``.
* :func:`read_notes` builds a list; with ``errors=[]`` bad lines are collected there, without it the first one
  raises (for callers whose input must be clean, e.g. gold files that a metric relies on).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.jsonl").write_text('{"id": "n1", "text": "pT2 N0"}\\n[1]\\n{"id": "n2"}\\n{"id": "n3", "text": "M0"}\\n')
    >>> bad = []
    >>> [n.id for n in read_notes(d / "a.jsonl", errors=bad)]
    ['n1', 'n3']
    >>> [str(e).split("a.jsonl")[1] for e in bad]
    [':2: expected a JSON object, got list', ":3, document 'n2', field 'text': missing"]
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from cancerllm.data.schema import Note
from cancerllm.errors import DataFormatError, ResourceError

__all__ = ["CORPUS_SPLITS", "NOTE_SUFFIXES", "Read", "convert_records", "convert_split", "count_records",
           "dumps_record", "iter_jsonl", "iter_jsonl_dicts", "iter_notes", "note_files", "read_jsonl", "read_notes",
           "read_notes_reporting", "write_jsonl"]

log = logging.getLogger(__name__)

NOTE_SUFFIXES = (".txt", ".jsonl", ".json")
"""Suffixes read as notes (case-insensitive): .txt is one note, .jsonl/.json hold one JSON object per line."""
_BOM = "\ufeff"
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class Read(NamedTuple):
    """One item of :func:`iter_notes`: where it came from and what it is (a Note or the error that replaced it)."""

    path: Path
    line: int
    value: Any  # Note | DataFormatError


# ------------------------------------------------------------------------------------------------ JSONL lines

def _decode(raw: bytes, path: Path, line: int) -> str | DataFormatError:
    """UTF-8 text of one line without its newline and BOM, or the error naming the offending byte."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return DataFormatError(f"not valid UTF-8 (byte 0x{raw[err.start]:02x} at byte {err.start + 1} of the "
                               f"line); save the file as UTF-8", path=path, line=line)
    # A BOM opens files saved by some Windows editors, and concatenated files carry one mid-file.
    return text.rstrip("\r\n").lstrip(_BOM)


def _surrogate_field(obj: dict[str, Any]) -> str | None:
    """The first top-level field holding a lone UTF-16 surrogate (``"\\ud800"``), which no UTF-8 file can store."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return None
    except UnicodeEncodeError:
        for key, val in obj.items():
            try:
                json.dumps({key: val}, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                return str(key).encode("utf-8", "backslashreplace").decode("utf-8")
        return "?"


def _parse(text: str, path: Path, line: int) -> dict[str, Any] | DataFormatError:
    """One decoded line -> a dict, or the error that names why not."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        return DataFormatError(f"not valid JSON ({err.msg} at column {err.colno})", path=path, line=line)
    except RecursionError:
        return DataFormatError("not readable: JSON nested too deeply", path=path, line=line)
    except ValueError as err:  # e.g. an integer literal longer than Python's digit limit
        return DataFormatError(f"not readable JSON ({type(err).__name__})", path=path, line=line)
    if not isinstance(obj, dict):
        return DataFormatError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=line)
    # Valid UTF-8 holds no surrogates, so only a JSON escape in \uD800-\uDFFF makes one: check just those lines.
    field = _surrogate_field(obj) if _SURROGATE_ESCAPE.search(text) else None
    if field is not None:
        return DataFormatError("holds a lone surrogate escape (e.g. \\ud800): not valid Unicode, cannot be "
                               "written as UTF-8; fix the producer of this file", path=path, line=line, field=field)
    return obj


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | DataFormatError]]:
    """Yield ``(line, dict | DataFormatError)`` for every non-blank line, lazily; never raises for content.

    Raises:
        ResourceError: the file does not exist or cannot be opened.
    """
    p = Path(path)
    if not p.is_file():
        raise ResourceError(f"file {str(p)!r} does not exist")
    try:
        fh = open(p, "rb")  # noqa: SIM115 - opened apart so that only opening is a ResourceError
    except OSError as err:
        raise ResourceError(f"file {str(p)!r} cannot be read ({type(err).__name__}: {err.strerror})") from None
    with fh:
        # Binary lines split on b"\n" only, so one bad byte never shifts or merges the lines around it.
        for i, raw in enumerate(fh, start=1):
            try:
                text = _decode(raw, p, i)
                if isinstance(text, DataFormatError):
                    yield i, text
                elif text.strip():
                    yield i, _parse(text, p, i)
            except Exception as err:  # noqa: BLE001 - last resort: whatever one line does, the next one is still read
                yield i, DataFormatError(f"not readable ({type(err).__name__})", path=p, line=i)


def iter_jsonl_dicts(path: str | Path, errors: list[DataFormatError] | None = None
                     ) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, dict)``. A bad line raises DataFormatError naming it, or with ``errors`` given is
    appended there while reading goes on."""
    for i, obj in iter_jsonl(path):
        if isinstance(obj, DataFormatError):
            if errors is None:
                raise obj
            errors.append(obj)
            continue
        yield i, obj


def convert_records(path: Path, convert: Callable[[dict[str, Any]], Any],
                    errors: list[DataFormatError] | None = None) -> list[Any]:
    """``convert`` every JSONL record of ``path``; a record it rejects is named by file:line and, with ``errors``
    given, collected there while the rest is converted (used by the corpus converters)."""
    out = []
    for line, rec in iter_jsonl_dicts(path, errors):
        try:
            out.append(convert(rec))
        except DataFormatError as err:
            err.path, err.line = path, line
            err.args = (f"{path}:{line}: {err}",)
            if errors is None:
                raise
            errors.append(err)
    return out


CORPUS_SPLITS = ("train", "dev", "test", "all")
"""The splits :func:`convert_split` reads (``all`` = the three in order)."""


def convert_split(dataset: str, split: str, convert: Callable[[dict[str, Any]], Any], *, name: str,
                  root: str | Path | None = None, errors: list[DataFormatError] | None = None) -> list[Any]:
    """:func:`convert_records` over one split (``train`` / ``dev`` / ``test``) of a shared corpus folder, or ``all``
    three, in that order (the BioNLP13CG and Chia converters); ``name`` is the corpus in error messages.

    Raises:
        ConfigError: unknown split. ResourceError: data not found. DataFormatError: a bad record (without ``errors``).
    """
    from cancerllm.data.paths import dataset_dir
    from cancerllm.errors import ConfigError

    if split not in CORPUS_SPLITS:
        raise ConfigError(f"--split: got {split!r}, expected one of {list(CORPUS_SPLITS)} for {name}")
    folder = dataset_dir(dataset, root)
    parts = ("train", "dev", "test") if split == "all" else (split,)
    return [n for part in parts for n in convert_records(folder / f"{part}.jsonl", convert, errors)]


def _validation_error(err: ValidationError, path: Path, line: int, doc_id: str | None) -> DataFormatError:
    first = err.errors()[0]
    field = ".".join(str(x) for x in first["loc"]) or None
    msg = "missing" if first["type"] == "missing" else first["msg"]
    extra = f" (+{len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return DataFormatError(msg + extra, path=path, line=line, field=field, doc_id=doc_id)


def _validate(model: type[BaseModel], obj: dict[str, Any], path: Path, line: int) -> Any:
    """``model`` built from ``obj``, or the DataFormatError naming file:line, document and field."""
    try:
        return model.model_validate(obj)
    except ValidationError as err:
        return _validation_error(err, path, line, obj.get("id") if isinstance(obj.get("id"), str) else None)
    except Exception as err:  # noqa: BLE001 - e.g. RecursionError on a deep extra field: still one line's problem
        return DataFormatError(f"not readable ({type(err).__name__})", path=path, line=line)


def read_jsonl(path: str | Path, model: type[BaseModel], errors: list[DataFormatError] | None = None) -> list[Any]:
    """Parse every line into ``model``. With ``errors`` given, bad lines are collected there and skipped."""
    out = []
    p = Path(path)
    for i, obj in iter_jsonl(p):
        item = obj if isinstance(obj, DataFormatError) else _validate(model, obj, p, i)
        if isinstance(item, DataFormatError):
            if errors is None:
                raise item
            errors.append(item)
        else:
            out.append(item)
    return out


# ------------------------------------------------------------------------------------------------ writing

def dumps_record(obj: dict[str, Any]) -> str:
    """One JSON line (no newline): UTF-8 text kept as is, but a lone surrogate is written as a ``\\udXXX`` escape
    instead of crashing the writer after a whole run."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True)


def write_jsonl(records: Iterable[BaseModel | dict[str, Any]], path: str | Path) -> Path:
    """Write records, one JSON object per line (UTF-8, non-ASCII kept as is)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as fh:
        for r in records:
            obj = r.model_dump(mode="json", exclude_none=False) if isinstance(r, BaseModel) else r
            fh.write(dumps_record(obj) + "\n")
    return p


# ------------------------------------------------------------------------------------------------ notes

def note_files(folder: Path, warn: bool = True) -> list[Path]:
    """The note files of ``folder`` (suffixes in NOTE_SUFFIXES, any case), sorted by name; what else is there
    (other suffixes, sub-folders) is named in one warning so nothing is ignored silently."""
    files, skipped = [], []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_file() and Path(entry.name).suffix.lower() in NOTE_SUFFIXES:
            files.append(Path(entry.path))
        else:
            skipped.append(entry.name + ("/" if entry.is_dir() else ""))
    if skipped and warn:
        shown = ", ".join(skipped[:10]) + (f" (+{len(skipped) - 10} more)" if len(skipped) > 10 else "")
        log.warning("folder %s: skipped %d entr%s that are not %s files: %s", folder, len(skipped),
                    "y" if len(skipped) == 1 else "ies", "/".join(NOTE_SUFFIXES), shown)
    return files


def _txt_note(path: Path) -> Read:
    """A .txt file is one note whose id is the file stem; bad UTF-8 names the line of the first bad byte."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        return Read(path, 1, DataFormatError(f"cannot be read ({type(err).__name__}: {err.strerror})", path=path))
    try:
        text = raw.decode("utf-8").lstrip(_BOM)
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        return Read(path, line, DataFormatError(f"not valid UTF-8 (byte 0x{raw[err.start]:02x}); save the file as "
                                                f"UTF-8", path=path, line=line))
    if _surrogate_field({"id": path.stem}):  # a file name that is not UTF-8 (Linux keeps such bytes as surrogates)
        return Read(path, 1, DataFormatError("file name is not valid UTF-8; rename the file", path=path, field="id"))
    return Read(path, 1, Note(id=path.stem, text=text))


def _file_notes(path: Path, check_spans: bool) -> Iterator[Read]:
    if path.suffix.lower() == ".txt":
        yield _txt_note(path)
        return
    try:
        lines = iter_jsonl(path)
        for i, obj in lines:
            item = obj if isinstance(obj, DataFormatError) else _validate(Note, obj, path, i)
            if check_spans and isinstance(item, Note):
                try:
                    item.check_spans()
                except DataFormatError as err:  # the gold span message names the document; add file:line
                    err.path, err.line = path, i
                    err.args = (f"{path}:{i}: {err}",)
                    item = err
            yield Read(path, i, item)
    except ResourceError as err:  # unreadable file of a folder: its problem only
        yield Read(path, 1, DataFormatError(str(err), path=path))


def iter_notes(path: str | Path, check_spans: bool = True, warn_duplicates: bool = True) -> Iterator[Read]:
    """Lazily yield one :class:`Read` per note or bad line of a .jsonl/.json/.txt file or a folder of them.

    Args:
        path: a file or a folder (read in name order; other entries are named in a warning).
        check_spans: check gold mention spans against the text (a mismatch is that line's error).
        warn_duplicates: log a warning naming file:line of both places when an id repeats (evaluation and
            resumed extraction match records by id).

    Raises:
        ResourceError: ``path`` does not exist or has a suffix that is not a note file. Nothing else: every
            problem of the content is a ``DataFormatError`` item.
    """
    p = Path(path)
    # Checked now, not at the first next(): a wrong path must fail before the caller loads a model.
    if not p.exists():
        raise ResourceError(f"input {str(p)!r} does not exist; give a .txt file, a .jsonl file or a folder")
    if p.is_dir():
        files = note_files(p)
    elif p.suffix.lower() in NOTE_SUFFIXES:
        files = [p]
    else:
        raise ResourceError(f"input {str(p)!r}: got suffix {p.suffix!r}, expected .txt, .jsonl, .json or a folder")
    return _iter_files(files, check_spans, warn_duplicates)


def _iter_files(files: list[Path], check_spans: bool, warn_duplicates: bool) -> Iterator[Read]:
    first_seen: dict[str, str] = {}
    for f in files:
        for item in _file_notes(f, check_spans):
            if warn_duplicates and isinstance(item.value, Note):
                where = f"{item.path}:{item.line}"
                first = first_seen.setdefault(item.value.id, where)
                if first != where:
                    log.warning("%s: duplicate id %r (first at %s); records are matched by id", where,
                                item.value.id, first)
            yield item


def read_notes(path: str | Path, errors: list[DataFormatError] | None = None) -> list[Note]:
    """Read notes from a .jsonl/.json file, a .txt file (one note) or a folder of them (sorted by name).

    Gold spans, when present, are checked against the text: a mismatch is a DataFormatError for that record.
    With ``errors`` given every bad line is appended there and the rest is read; without it the first raises.
    """
    notes = []
    for item in iter_notes(path):
        if isinstance(item.value, DataFormatError):
            if errors is None:
                raise item.value
            errors.append(item.value)
        else:
            notes.append(item.value)
    return notes


def read_notes_reporting(path: str | Path, what: str = "input") -> list[Note]:
    """Every good note of ``path``; each bad line is logged (file:line, field, never the text) and skipped.

    The rule of every verb that reads a batch: one broken note must not take the good ones down, and it is never
    dropped silently. Raises DataFormatError only when not a single note could be read.
    """
    errors: list[DataFormatError] = []
    notes = read_notes(path, errors=errors)
    for err in errors:
        log.warning("%s: skipped: %s", what, err)
    if errors:
        log.warning("%s: %d bad line(s) skipped in %s, %d note(s) read", what, len(errors), path, len(notes))
    if not notes:
        raise DataFormatError(f"{what}: {path} has no readable note ({len(errors)} bad line(s); the first: "
                              f"{errors[0] if errors else 'the file is empty'})")
    return notes


def count_records(path: str | Path) -> int:
    """Non-blank lines of the note files under ``path`` (a .txt counts 1), counted without parsing: the total
    behind progress and ETA, read in 1 MB blocks so any size is fine."""
    p = Path(path)
    files = note_files(p, warn=False) if p.is_dir() else [p]
    total = 0
    for f in files:
        if f.suffix.lower() == ".txt":
            total += 1
            continue
        try:
            with open(f, "rb") as fh:
                tail = b""
                for block in iter(lambda: fh.read(1 << 20), b""):
                    lines = (tail + block).split(b"\n")
                    tail = lines.pop()
                    total += sum(1 for x in lines if x.strip())
                total += 1 if tail.strip() else 0
        except OSError:
            total += 1  # reported as one error when read
    return total
