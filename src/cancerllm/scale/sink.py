"""The batch output folder: sharded JSONL records written once per note id, resumable, with optional Parquet twins.

Layout of ``out``::

    predictions-00000.jsonl   one Prediction record per line, as `cancerllm extract` writes them
    predictions-00001.jsonl   a new shard every ``shard_records`` records, and at every (re)start
    predictions-00000.parquet (with parquet=true) id, task, record (the JSONL line): same rows, columnar
    config.yaml  meta.json  summary.json  resume.json

Why one writer on the driver and not one per actor: an actor killed after writing half a batch would have its batch
retried elsewhere, and those records would be written twice. Here Ray hands the driver each finished batch once;
the driver appends it, flushes and fsyncs, and keeps the set of ids on disk, so a record whose id is already written
(a rerun, a resume, a repeated input id) is dropped instead of duplicated. A kill of the driver itself leaves at most
one cut last line per shard, which :func:`cancerllm.infer.extract.read_done_ids` truncates so that note is redone.

Example:
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with ShardWriter(d, shard_records=2) as w:
    ...     [w.write(i, '{"id": "%s"}' % i) for i in ("a", "b", "a", "c")]
    [True, True, False, True]
    >>> sorted(p.name for p in Path(d).glob("predictions-*.jsonl")), sorted(ShardWriter(d).done)
    (['predictions-00000.jsonl', 'predictions-00001.jsonl'], ['a', 'b', 'c'])
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import IO, Any, Self

from cancerllm.errors import ResourceError

__all__ = ["SHARD_GLOB", "ShardWriter", "read_records", "shard_files", "write_parquet"]

log = logging.getLogger(__name__)

SHARD_GLOB = "predictions-*.jsonl"


def shard_files(out: str | Path) -> list[Path]:
    """The JSONL shards of ``out``, in shard order."""
    return sorted(Path(out).glob(SHARD_GLOB))


def read_records(out: str | Path) -> list[dict[str, Any]]:
    """Every record of every shard (for tests and small outputs; large outputs are read shard by shard)."""
    return [json.loads(line) for f in shard_files(out) for line in f.read_text(encoding="utf-8").splitlines()]


class ShardWriter:
    """Append records to ``out/predictions-NNNNN.jsonl``, at most once per id, rotating every ``shard_records``.

    Opening reads the ids of every existing shard (a cut last line is truncated so its note is redone) and never
    appends to an old shard: a resumed run starts the next shard number.

    Args:
        out: the output folder (created).
        shard_records: records per shard file before the next one is started (>= 1).
    Raises:
        ResourceError: an existing shard holds a line that is not a prediction record (file:line named).
    """

    def __init__(self, out: str | Path, shard_records: int = 10_000):
        from cancerllm.infer.extract import read_done_ids

        self.out, self.shard_records = Path(out), max(1, shard_records)
        self.out.mkdir(parents=True, exist_ok=True)
        self.done: set[str] = set()
        existing = shard_files(self.out)
        for f in existing:
            self.done.update(read_done_ids(f))  # also truncates a line cut by a kill mid-write
        self.next_index = 1 + max((int(f.stem.rsplit("-", 1)[1]) for f in existing), default=-1)
        self.resumed = len(self.done)
        self.written = self.duplicates = 0
        self._fh: IO[str] | None = None
        self._in_shard = 0

    def write(self, note_id: str, line: str) -> bool:
        """Append one record (a JSON line without its newline) unless ``note_id`` is already written; True if new."""
        if note_id in self.done:
            self.duplicates += 1  # a repeated input id, or a record Ray handed over twice: never written twice
            return False
        if self._fh is None or self._in_shard >= self.shard_records:
            self._rotate()
        self._fh.write(line + "\n")
        self._in_shard += 1
        self.done.add(note_id)
        self.written += 1
        return True

    def sync(self) -> None:
        """Flush and fsync the open shard: a kill after this loses nothing written so far."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None

    def _rotate(self) -> None:
        self.close()
        path = self.out / f"predictions-{self.next_index:05d}.jsonl"
        try:
            self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - held until the next rotation or close()
        except OSError as err:
            raise ResourceError(f"--out {str(self.out)!r}: cannot write {path.name} ({type(err).__name__}: "
                                f"{err.strerror or err}); give a writable folder") from None
        self.next_index += 1
        self._in_shard = 0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_parquet(out: str | Path) -> list[Path]:
    """Write a Parquet twin (columns ``id``, ``task``, ``record``) of every JSONL shard that lacks an up-to-date one.

    ``record`` is the JSONL line itself: one fixed schema for every shard whatever the records hold (an all-empty
    column would otherwise change type between shards), and ``json.loads(record)`` gives back the exact record.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    written = []
    for f in shard_files(out):
        target = f.with_suffix(".parquet")
        if target.exists() and target.stat().st_mtime_ns >= f.stat().st_mtime_ns:
            continue  # made from this shard already (a resumed run never appends to an old shard)
        lines = f.read_text(encoding="utf-8").splitlines()
        ids, tasks = [], []
        for line in lines:  # parsed only for the two key columns; the record text is kept byte for byte
            rec = json.loads(line)
            ids.append(rec["id"])
            tasks.append(rec["task"])
        table = pa.table({"id": pa.array(ids, pa.string()), "task": pa.array(tasks, pa.string()),
                          "record": pa.array(lines, pa.string())})
        pq.write_table(table, target)
        written.append(target)
    return written
