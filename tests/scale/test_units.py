"""The parts of ``cancerllm batch`` that need no Ray: work units read exactly what ``extract`` reads, the writer
writes each id once and resumes after a cut line, records of other settings are moved aside, and bad settings fail
before anything starts."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import load_config
from cancerllm.data.io import iter_notes
from cancerllm.data.schema import Note
from cancerllm.errors import ConfigError, DataFormatError, ResourceError
from cancerllm.scale.batch import BatchConfig, _prepare_out
from cancerllm.scale.sink import ShardWriter, read_records, shard_files, write_parquet
from cancerllm.scale.source import plan_units, read_unit


def _as_tuple(item):
    return ("note", item.id, item.text) if isinstance(item, Note) else ("error", str(item))


def test_units_read_the_same_notes_and_errors_as_iter_notes(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    lines = [json.dumps({"id": f"n{i}", "text": f"Report {i}: pT{i % 4 + 1}."}).encode() for i in range(7)]
    lines[2] = b"{broken"
    lines[4] = b'{"id": "bad\xff", "text": "x"}'  # invalid UTF-8: named by its line
    body = b"\n".join(lines[:3]) + b"\n\n   \n" + b"\r\n".join(lines[3:]) + b"\n"  # blank lines, CRLF endings
    (folder / "a.jsonl").write_bytes(body)
    (folder / "b.txt").write_text("Addendum: pN0.")
    (folder / "c.txt").write_text("Second addendum.")
    want = [_as_tuple(r.value) for r in iter_notes(folder, check_spans=False, warn_duplicates=False)]
    for window in (1, 2, 3, 50):
        units = plan_units(folder, window)
        got = [_as_tuple(x) for u in units for x in read_unit(u, frozenset())]
        assert sorted(got) == sorted(want), window
        assert all(len(read_unit(u, frozenset())) <= window for u in units)
    errors = [x for u in plan_units(folder, 2) for x in read_unit(u, frozenset()) if isinstance(x, DataFormatError)]
    assert sorted(e.line for e in errors) == [3, 7]  # the file's own line numbers, blank lines counted
    kept = [x.id for u in plan_units(folder, 2) for x in read_unit(u, frozenset({"n0", "b"})) if isinstance(x, Note)]
    assert "n0" not in kept and "b" not in kept and "n1" in kept


def test_units_parquet_rows_equal_jsonl_notes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": f"n{i}", "text": f"Report {i}."} for i in range(9)] + [{"id": None, "text": "no id"}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "p.parquet", row_group_size=4)
    units = plan_units(tmp_path / "p.parquet", 3)
    assert [(u["group"], u["start"], u["end"]) for u in units] == [(0, 0, 3), (0, 3, 4), (1, 0, 3), (1, 3, 4),
                                                                   (2, 0, 2)]
    got = [x for u in units for x in read_unit(u, frozenset())]
    assert [(n.id, n.text) for n in got if isinstance(n, Note)] == [(r["id"], r["text"]) for r in rows[:9]]
    (err,) = [x for x in got if isinstance(x, DataFormatError)]
    assert "p.parquet" in str(err) and "row 2 of row group 2" in str(err) and "'id'" in str(err)
    assert "no id" not in str(err)  # the note text is never quoted


def test_units_missing_or_wrong_input_is_a_resource_error(tmp_path):
    with pytest.raises(ResourceError, match="does not exist"):
        plan_units(tmp_path / "nope", 4)
    (tmp_path / "x.csv").write_text("id,text\n")
    with pytest.raises(ResourceError, match="got suffix '.csv'"):
        plan_units(tmp_path / "x.csv", 4)


def test_sink_writes_each_id_once_and_resumes_after_a_cut_line(tmp_path):
    with ShardWriter(tmp_path, shard_records=2) as w:
        assert [w.write(i, json.dumps({"id": i, "task": "phenotype"})) for i in "abac"] == [True, True, False, True]
    assert [f.name for f in shard_files(tmp_path)] == ["predictions-00000.jsonl", "predictions-00001.jsonl"]
    with open(tmp_path / "predictions-00001.jsonl", "a") as fh:
        fh.write('{"id": "d", "ta')  # a kill mid-write
    w = ShardWriter(tmp_path)
    assert w.done == {"a", "b", "c"} and w.resumed == 3  # the cut line is truncated: "d" will be redone
    assert w.write("d", json.dumps({"id": "d", "task": "phenotype"})) and not w.write("a", "{}")
    w.close()
    assert sorted(r["id"] for r in read_records(tmp_path)) == ["a", "b", "c", "d"]
    assert shard_files(tmp_path)[-1].name == "predictions-00002.jsonl"  # never appends to an old shard
    made = write_parquet(tmp_path)
    assert len(made) == 3 and write_parquet(tmp_path) == []  # up to date: not rewritten
    import pyarrow.parquet as pq

    ids = [i for f in made for i in pq.read_table(f).column("id").to_pylist()]
    assert sorted(ids) == ["a", "b", "c", "d"]


def test_sink_refuses_a_shard_that_is_not_records(tmp_path):
    (tmp_path / "predictions-00000.jsonl").write_text('{"id": "a"}\nnot json\n')
    with pytest.raises(ResourceError, match="predictions-00000.jsonl:2: not a prediction record"):
        ShardWriter(tmp_path)


def test_batch_records_of_other_settings_are_moved_aside(tmp_path):
    out = tmp_path / "out"
    base = [f"input={tmp_path}", f"out={out}", "generate.max_new_tokens=3"]
    _prepare_out(load_config(BatchConfig, overrides=base))
    (out / "predictions-00000.jsonl").write_text('{"id": "a", "task": "phenotype"}\n')
    _prepare_out(load_config(BatchConfig, overrides=[*base, "workers=4", "window=8"]))  # cluster-only: resumed
    assert (out / "predictions-00000.jsonl").exists()
    _prepare_out(load_config(BatchConfig, overrides=[*base, "generate.max_new_tokens=4"]))
    assert not shard_files(out) and (out / "prev" / "predictions-00000.jsonl").exists()


def test_batch_bad_settings_fail_before_anything_starts(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(BatchConfig, overrides=["workers=0", "limit=3", "gpus_per_worker=-1", "max_restarts=-2"])
    text = str(err.value)
    for part in ("workers: got 0", "limit: got 3", "gpus_per_worker: got -1.0", "max_restarts: got -2"):
        assert part in text
    res = CliRunner().invoke(app, ["batch", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "does not exist" in res.output
    assert not (tmp_path / "o").exists()  # refused before the output folder or Ray
    res = CliRunner().invoke(app, ["batch", str(tmp_path), "--out", str(tmp_path / "o"), "--engine", "tgi"])
    assert res.exit_code == 2 and "generate.engine: got 'tgi', expected one of ['hf', 'vllm']" in res.output
