"""Notes as a Ray Dataset of *work units*: each unit is about ``window`` notes of one input file, read by the actor
that predicts them.

The driver only plans: it lists the input files (a sharded input is a folder of ``part-*.jsonl``, ``*.parquet`` or
``.txt`` files) and cuts each into units by a quick scan (byte ranges of JSONL lines, row ranges of Parquet row
groups, groups of .txt files), so no note text passes through the driver, and one big file spreads over every actor.

Why units and not Ray's readers plus a repartition: reading is light I/O next to generation, yet every Ray Data read
or repartition step reserves CPUs; with predictor actors holding every CPU of the cluster (the usual setting), those
steps waited forever (measured on a 2-CPU cluster with 2 one-CPU actors). Read inside the actor, the notes also keep
their exact ``file:line`` for errors, parsed line by line as :func:`cancerllm.data.io.iter_jsonl` does, so ``batch``
and ``extract`` accept and reject exactly the same lines.

Example:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> f = Path(tempfile.mkdtemp()) / "notes.jsonl"
    >>> _ = f.write_text("".join(json.dumps({"id": f"n{i}", "text": "pT2"}) + "\\n" for i in range(5)))
    >>> [(u["line"], len(read_unit(u, frozenset()))) for u in plan_units(f, window=2)]
    [(1, 2), (3, 2), (5, 1)]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cancerllm.errors import ResourceError

__all__ = ["input_files", "plan_units", "read_unit", "units_dataset"]

_PARQUET = ".parquet"


def input_files(path: str | Path) -> tuple[list[Path], list[Path]]:
    """``(note files, parquet files)`` of a file or a folder (folders read in name order, not recursively).

    Raises:
        ResourceError: the path does not exist, has another suffix, or is a folder with no input file.
    """
    from cancerllm.data.io import NOTE_SUFFIXES, note_files

    p = Path(path)
    if not p.exists():
        raise ResourceError(f"input {str(p)!r} does not exist; give a .jsonl/.txt/.parquet file or a folder of them")
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix == _PARQUET:
            return [], [p]
        if suffix in NOTE_SUFFIXES:
            return [p], []
        raise ResourceError(f"input {str(p)!r}: got suffix {p.suffix!r}, expected .jsonl, .json, .txt, .parquet "
                            "or a folder")
    parquet = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() == _PARQUET)
    notes = note_files(p, warn=False)
    if not notes and not parquet:
        raise ResourceError(f"input {str(p)!r}: the folder holds no .jsonl/.json/.txt/.parquet file")
    return notes, parquet


# ------------------------------------------------------------------------------------------------ planning (driver)

def _jsonl_units(path: Path, window: int) -> list[dict[str, Any]]:
    """Byte ranges of ``window`` non-blank lines each, with the number of their first line."""
    units, start, first, count, offset = [], 0, 1, 0, 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if count == 0:
                start, first = offset, lineno
            offset += len(raw)
            if raw.strip():
                count += 1
            if count == window:  # a unit is full: it ends after this line
                units.append({"kind": "jsonl", "path": str(path), "start": start, "end": offset, "line": first})
                count = 0
    if count:
        units.append({"kind": "jsonl", "path": str(path), "start": start, "end": offset, "line": first})
    return units


def _parquet_units(path: Path, window: int) -> list[dict[str, Any]]:
    """Row ranges of ``window`` rows inside each row group (an actor keeps its last row group in memory)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    return [{"kind": "parquet", "path": str(path), "group": g, "start": s, "end": min(s + window, n), "line": s + 1}
            for g in range(meta.num_row_groups) for n in [meta.row_group(g).num_rows] for s in range(0, n, window)]


def plan_units(path: str | Path, window: int) -> list[dict[str, Any]]:
    """The work units of an input (see the module docstring); each holds at most ``window`` notes.

    Raises:
        ResourceError: see :func:`input_files`, or a file that cannot be read.
    """
    notes, parquet = input_files(path)
    units: list[dict[str, Any]] = []
    txt = [f for f in notes if f.suffix.lower() == ".txt"]
    for i in range(0, len(txt), window):  # a .txt file is one note: group them
        units.append({"kind": "txt", "paths": [str(f) for f in txt[i:i + window]], "line": 1})
    try:
        for f in notes:
            if f.suffix.lower() != ".txt":
                units.extend(_jsonl_units(f, window))
        for f in parquet:
            units.extend(_parquet_units(f, window))
    except OSError as err:
        raise ResourceError(f"input {err.filename!r}: cannot be read ({type(err).__name__}: {err.strerror})") from None
    return units


# ------------------------------------------------------------------------------------------------ reading (actors)

def _jsonl_rows(unit: dict[str, Any]) -> list[Any]:
    """Notes or DataFormatErrors of a unit's lines: :func:`cancerllm.data.io.iter_jsonl` then Note validation, per
    line, with the file's own line numbers."""
    from cancerllm.data.io import _decode, _parse, _validate
    from cancerllm.data.schema import Note
    from cancerllm.errors import DataFormatError

    path = Path(unit["path"])
    with open(path, "rb") as fh:
        fh.seek(unit["start"])
        block = fh.read(unit["end"] - unit["start"])
    out = []
    for i, raw in enumerate(block.splitlines(keepends=True), start=unit["line"]):
        try:  # the same steps, in the same order, as iter_jsonl + iter_notes (check_spans=False)
            item = _decode(raw, path, i)
            if not isinstance(item, DataFormatError):
                if not item.strip():
                    continue
                item = _parse(item, path, i)
            if not isinstance(item, DataFormatError):
                item = _validate(Note, item, path, i)
        except Exception as err:  # noqa: BLE001 - whatever one line does, the next one is still read
            item = DataFormatError(f"not readable ({type(err).__name__})", path=path, line=i)
        out.append(item)
    return out


_GROUP_CACHE: dict[tuple[str, int], Any] = {}


def _parquet_rows(unit: dict[str, Any]) -> list[Any]:
    """Notes (or errors naming file, row and field) of a unit's rows of one Parquet row group."""
    import pyarrow.parquet as pq
    from pydantic import ValidationError

    from cancerllm.data.schema import Note
    from cancerllm.errors import DataFormatError

    key = (unit["path"], unit["group"])
    if key not in _GROUP_CACHE:  # consecutive units of one row group on this actor read it once
        _GROUP_CACHE.clear()
        _GROUP_CACHE[key] = pq.ParquetFile(unit["path"]).read_row_group(unit["group"], columns=["id", "text"])
    rows = _GROUP_CACHE[key].slice(unit["start"], unit["end"] - unit["start"]).to_pylist()
    out = []
    for i, row in enumerate(rows, start=unit["line"]):
        try:
            out.append(Note(**row))
        except ValidationError as err:  # the note text is never quoted
            field = ".".join(str(x) for x in err.errors()[0]["loc"])
            out.append(DataFormatError(f"row {i} of row group {unit['group']}: {err.errors()[0]['msg']}",
                                       path=unit["path"], field=field))
    return out


def read_unit(unit: dict[str, Any], skip: frozenset[str]) -> list[Any]:
    """The notes of one unit (``Note``, or ``DataFormatError`` for a bad line), less those whose id is in ``skip``.

    Raises nothing for content; an unreadable file becomes one error item, as in ``extract``.
    """
    from cancerllm.data.io import iter_notes
    from cancerllm.data.schema import Note
    from cancerllm.errors import DataFormatError

    try:
        if unit["kind"] == "txt":
            items = [r.value for p in unit["paths"] for r in iter_notes(p, check_spans=False, warn_duplicates=False)]
        elif unit["kind"] == "parquet":
            items = _parquet_rows(unit)
        else:
            items = _jsonl_rows(unit)
    except (OSError, ResourceError) as err:
        where = unit.get("path") or unit["paths"][0]
        items = [DataFormatError(f"cannot be read ({type(err).__name__})", path=where)]
    return [x for x in items if not (isinstance(x, Note) and x.id in skip)]


def units_dataset(units: list[dict[str, Any]]) -> Any:
    """A Ray Dataset with one row (column ``unit``, JSON) and one block per unit, so each actor call takes one."""
    import ray.data

    return ray.data.from_items([{"unit": json.dumps(u)} for u in units], override_num_blocks=max(1, len(units)))
