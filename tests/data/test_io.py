"""Readers never lose a good note: every bad line is one error naming file:line, every good line one note.

The property tests feed arbitrary bytes and mixed JSONL lines; the rest pin the failures issue 17 listed (a bad
line ending the reader, a BOM, invalid UTF-8, deep nesting, lone surrogates, folder suffixes, duplicate ids).
"""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cancerllm.data.io import convert_records, count_records, dumps_record, iter_notes, read_notes, write_jsonl
from cancerllm.errors import DataFormatError


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_io_bad_line_does_not_end_reading(tmp_path):
    path = _write(tmp_path, "n.jsonl", b'{"id":"a","text":"pT2 N0"}\n[1]\n{"id":"b","text":"pT3"}\n')
    errors: list[DataFormatError] = []
    assert [n.id for n in read_notes(path, errors=errors)] == ["a", "b"]
    assert len(errors) == 1 and f"{path}:2" in str(errors[0]) and "expected a JSON object, got list" in str(errors[0])
    assert errors[0].line == 2


def test_io_invalid_json_midway_keeps_later_lines(tmp_path):
    path = _write(tmp_path, "n.jsonl", b'{"id":"a","text":"x"}\n{"id": "b", "te\n\n{"id":"c","text":"y"}\n')
    errors: list[DataFormatError] = []
    assert [n.id for n in read_notes(path, errors=errors)] == ["a", "c"]
    assert [e.line for e in errors] == [2] and "not valid JSON" in str(errors[0])


def test_io_utf8_bom_is_accepted(tmp_path):
    path = _write(tmp_path, "bom.jsonl", b'\xef\xbb\xbf{"id":"a","text":"pT2"}\n{"id":"b","text":"pT3"}\n')
    errors: list[DataFormatError] = []
    assert [n.id for n in read_notes(path, errors=errors)] == ["a", "b"] and not errors
    txt = _write(tmp_path, "bom.txt", b"\xef\xbb\xbfpT2 N0")
    assert read_notes(txt)[0].text == "pT2 N0"


def test_io_invalid_utf8_is_one_line_error(tmp_path):
    path = _write(tmp_path, "n.jsonl", b'{"id":"a","text":"x"}\n{"id":"b","text":"caf\xe9"}\n{"id":"c","text":"y"}\n')
    errors: list[DataFormatError] = []
    assert [n.id for n in read_notes(path, errors=errors)] == ["a", "c"]
    assert f"{path}:2" in str(errors[0]) and "not valid UTF-8" in str(errors[0]) and "0xe9" in str(errors[0])


def test_io_invalid_utf8_txt_in_folder_costs_that_file_only(tmp_path):
    _write(tmp_path, "a.txt", b"pT2 N0")
    _write(tmp_path, "b.txt", b"line one\nline \xff two\n")
    _write(tmp_path, "c.txt", b"pT3 N1")
    errors: list[DataFormatError] = []
    assert [n.id for n in read_notes(tmp_path, errors=errors)] == ["a", "c"]
    assert f"{tmp_path / 'b.txt'}:2" in str(errors[0]) and "not valid UTF-8" in str(errors[0])


def test_io_deeply_nested_line_is_one_line_error(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000
    path = _write(tmp_path, "n.jsonl", b'{"id":"a","text":"x"}\n' + deep + b'\n{"id":"c","text":"y"}\n')
    errors: list[DataFormatError] = []
    assert [n.id for n in read_notes(path, errors=errors)] == ["a", "c"]
    assert errors[0].line == 2 and "nested too deeply" in str(errors[0])


def test_io_lone_surrogate_is_a_line_error_and_never_crashes_output(tmp_path):
    path = _write(tmp_path, "n.jsonl", b'{"id":"a\\ud800","text":"x"}\n{"id":"b","text":"y"}\n')
    errors: list[DataFormatError] = []
    assert [n.id for n in read_notes(path, errors=errors)] == ["b"]
    assert errors[0].line == 1 and "'id'" in str(errors[0]) and "surrogate" in str(errors[0])
    # a writer handed a lone surrogate anyway (e.g. from Python code) writes valid UTF-8 JSON, not a crash
    out = write_jsonl([{"id": "a\ud800", "text": "é"}], tmp_path / "o.jsonl")
    assert json.loads(out.read_bytes().decode("utf-8"))["id"] == "a\ud800"
    assert json.loads(dumps_record({"id": "é"})) == {"id": "é"} and "é" in dumps_record({"id": "é"})


def test_io_folder_reads_json_and_upper_case_suffixes_and_names_what_it_skips(tmp_path, caplog):
    _write(tmp_path, "a.TXT", b"pT2 N0")
    _write(tmp_path, "b.json", b'{"id":"b","text":"pT3"}\n')
    _write(tmp_path, "c.JSONL", b'{"id":"c","text":"pT4"}\n')
    _write(tmp_path, "d.csv", b"id,text\n")
    (tmp_path / "sub").mkdir()
    with caplog.at_level(logging.WARNING, logger="cancerllm.data.io"):
        assert [n.id for n in read_notes(tmp_path)] == ["a", "b", "c"]
    assert "d.csv" in caplog.text and "sub" in caplog.text and "skipped 2" in caplog.text


def test_io_duplicate_ids_are_warned_with_file_and_line(tmp_path, caplog):
    path = _write(tmp_path, "n.jsonl", b'{"id":"a","text":"x"}\n{"id":"b","text":"y"}\n{"id":"a","text":"z"}\n')
    with caplog.at_level(logging.WARNING, logger="cancerllm.data.io"):
        assert [n.id for n in read_notes(path)] == ["a", "b", "a"]  # kept (not ours to choose), but warned
    assert f"{path}:3" in caplog.text and f"{path}:1" in caplog.text and "duplicate id 'a'" in caplog.text


def test_io_gold_span_error_names_file_and_line(tmp_path):
    bad = {"id": "g", "text": "pT2 N0", "mentions": [{"type": "stage_t", "text": "pT2", "start": 1, "end": 4}]}
    path = _write(tmp_path, "g.jsonl", (json.dumps({"id": "a", "text": "x"}) + "\n" + json.dumps(bad) + "\n").encode())
    errors: list[DataFormatError] = []
    assert [n.id for n in read_notes(path, errors=errors)] == ["a"]
    assert f"{path}:2" in str(errors[0]) and "document 'g'" in str(errors[0]) and errors[0].line == 2
    with pytest.raises(DataFormatError, match=f"{path}:2"):  # strict mode (no errors list) still raises
        read_notes(path)


def test_io_strict_mode_raises_at_the_first_bad_line(tmp_path):
    path = _write(tmp_path, "n.jsonl", b'{"id":"a","text":"x"}\n[1]\n')
    with pytest.raises(DataFormatError, match="n.jsonl:2"):
        read_notes(path)


def test_io_convert_records_collects_broken_json(tmp_path):
    path = _write(tmp_path, "r.jsonl", b'{"k": 1}\n{broken\n{"k": 2}\n')
    errors: list[DataFormatError] = []
    assert convert_records(path, lambda r: r["k"], errors) == [1, 2]
    assert [e.line for e in errors] == [2]


def test_io_iter_notes_checks_the_input_before_the_first_item(tmp_path):
    from cancerllm.errors import ResourceError

    with pytest.raises(ResourceError, match="does not exist"):
        iter_notes(tmp_path / "missing.jsonl")  # at the call, not at the first next(): callers load models after
    with pytest.raises(ResourceError, match="expected .txt, .jsonl, .json or a folder"):
        iter_notes(_write(tmp_path, "notes.csv", b"id,text\n"))
    upper = _write(tmp_path, "NOTES.JSONL", b'{"id":"a","text":"x"}\n')
    assert [r.value.id for r in iter_notes(upper)] == ["a"]


def test_io_count_records_counts_lines_without_parsing(tmp_path):
    _write(tmp_path, "a.jsonl", b'{"id":"a","text":"x"}\n\n  \n[1]\n{"id":"b"')
    _write(tmp_path, "b.txt", b"note")
    assert count_records(tmp_path / "a.jsonl") == 3
    assert count_records(tmp_path) == 4


# ------------------------------------------------------------------------------------------------ properties

def _non_blank_lines(data: bytes) -> list[int]:
    """1-based numbers of the lines a reader must answer for (blank lines and a lone BOM are not records)."""
    out = []
    for i, raw in enumerate(data.split(b"\n"), start=1):
        if raw.decode("utf-8", "replace").lstrip("\ufeff").strip():
            out.append(i)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_io_property_any_bytes_give_one_item_per_line(tmp_path, data):
    path = _write(tmp_path, "any.jsonl", data)
    items = list(iter_notes(path))  # never raises
    assert [it.line for it in items] == _non_blank_lines(data)
    for it in items:
        assert it.path == path
        assert isinstance(it.value, DataFormatError) or it.value.text.strip() is not None


_good_id = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8)
_good = st.builds(lambda i, t: json.dumps({"id": i, "text": t}, ensure_ascii=bool(len(i) % 2)).encode(),
                  _good_id, st.text(max_size=30).filter(lambda t: "\ud800" not in t
                                                        and all(not 0xD800 <= ord(c) <= 0xDFFF for c in t)))
_bad = st.one_of(
    st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b),
    st.just(b"[1]"), st.just(b'{"id": "x"}'), st.just(b'{"id":"s\\udc80","text":"x"}'),
    st.just(b'{"id":"x","text":"caf\xe9"}'), st.just(b"[" * 5000), st.just(b'{"id": 3, "text": "x"}'),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(st.booleans(), _good, _bad), max_size=25), bom=st.booleans())
def test_io_property_mixed_lines_conserve_every_good_id(tmp_path, lines, bom):
    raw = [g if is_good else b for is_good, g, b in lines]
    data = (b"\xef\xbb\xbf" if bom else b"") + b"\n".join(raw) + b"\n"
    path = _write(tmp_path, "mixed.jsonl", data)
    items = list(iter_notes(path))
    assert [it.line for it in items] == _non_blank_lines(data)
    by_line = {it.line: it.value for it in items}
    for n, ((is_good, _, _), r) in enumerate(zip(lines, raw), start=1):
        if is_good:  # every good line comes out as its note, whatever surrounds it
            assert not isinstance(by_line[n], DataFormatError) and by_line[n].id == json.loads(r)["id"]
    for it in items:
        if isinstance(it.value, DataFormatError):
            assert f"{path}:{it.line}" in str(it.value)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies=st.lists(st.binary(max_size=60), min_size=1, max_size=5))
def test_io_property_any_txt_folder_gives_one_item_per_file(tmp_path_factory, bodies):
    folder = tmp_path_factory.mktemp("txt")
    for i, body in enumerate(bodies):
        _write(folder, f"n{i}.txt", body)
    items = list(iter_notes(folder))  # never raises, whatever the bytes
    assert [it.path.name for it in items] == [f"n{i}.txt" for i in range(len(bodies))]
    for it, body in zip(items, bodies):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            assert isinstance(it.value, DataFormatError) and "not valid UTF-8" in str(it.value)
        else:
            assert it.value.id == it.path.stem and it.value.text == text.lstrip("\ufeff")
