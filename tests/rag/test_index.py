"""Index build / persist / reload, and refusal of a changed corpus or a different encoder."""

from __future__ import annotations

import json

import pytest

from cancerllm.errors import ConfigError, ResourceError
from cancerllm.rag.index import IndexConfig, build_index, load_index


def _build(corpus_path, out, retriever="bm25.v1", **kw):
    return build_index(IndexConfig(retriever=retriever, corpus=str(corpus_path), out=str(out), **kw))


@pytest.mark.parametrize("name", ["random.v1", "bm25.v1"])
def test_index_round_trip_lexical(corpus, tmp_path, name):
    path, notes = corpus
    out = _build(path, tmp_path / "idx", name, seed=3)
    manifest = json.loads((out / "index.json").read_text())
    assert manifest["corpus"]["n_docs"] == 6 and manifest["ids"] == [n.id for n in notes]
    assert manifest["patient_ids"][5] == "p0" and manifest["encoder"] is None
    fresh = load_index(out)
    q = "adenocarcinoma of the lung, EGFR"
    assert fresh.search(q, 3) == load_index(out).search(q, 3)
    if name == "bm25.v1":
        assert fresh.search(q, 1)[0][0] == "d1"


def test_index_round_trip_dense_reuses_stored_embeddings(corpus, tmp_path, bert_dir):
    path, _ = corpus
    out = _build(path, tmp_path / "idx", "contriever.v1", model_path=str(bert_dir))
    assert (out / "embeddings.npy").is_file()
    idx = load_index(out)
    q = "Prostate adenocarcinoma, Gleason score 3+4=7"
    hits = idx.search(q, 6)
    assert len(hits) == 6 and [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert [i for i, _ in load_index(out, backend="faiss").search(q, 3)] == [i for i, _ in hits[:3]]


def test_index_refuses_changed_corpus(corpus, tmp_path):
    path, _ = corpus
    out = _build(path, tmp_path / "idx")
    with open(path, "a") as fh:
        fh.write(json.dumps({"id": "new", "text": "extra note"}) + "\n")
    with pytest.raises(ConfigError, match="built from a corpus with sha256"):
        load_index(out)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"id": "x", "text": "y"}) + "\n")
    with pytest.raises(ConfigError, match="pass the original --corpus or rebuild"):
        load_index(out, corpus=other)


def test_index_refuses_different_encoder(corpus, tmp_path, bert_dir, bert_dir_b):
    path, _ = corpus
    out = _build(path, tmp_path / "idx", "contriever.v1", model_path=str(bert_dir))
    with pytest.raises(ConfigError) as err:
        load_index(out, model_path=str(bert_dir_b))
    assert "encoder.fingerprint" in str(err.value) and "not comparable" in str(err.value)
    with pytest.raises(ConfigError, match="encoder.max_length"):
        load_index(out, max_length=16)
    import shutil

    moved = tmp_path / "moved-model"  # the same model in another folder is accepted
    shutil.copytree(bert_dir, moved)
    assert load_index(out, model_path=str(moved)).search("kidney", 1)


def test_index_config_errors(corpus, tmp_path):
    path, _ = corpus
    with pytest.raises(ConfigError, match=r"retriever: got 'bm99.v1'"):
        _build(path, tmp_path / "i", "bm99.v1")
    with pytest.raises(ResourceError, match="does not exist"):
        _build(tmp_path / "missing.jsonl", tmp_path / "i")
    with pytest.raises(ResourceError, match="not an index folder"):
        load_index(tmp_path)
    dup = tmp_path / "dup.jsonl"
    dup.write_text(json.dumps({"id": "a", "text": "x"}) + "\n" + json.dumps({"id": "a", "text": "y"}) + "\n")
    with pytest.raises(ConfigError, match="duplicate note id"):
        _build(dup, tmp_path / "i")


def test_index_cli_index_and_search(corpus, tmp_path):
    from typer.testing import CliRunner

    from cancerllm.cli import app

    path, _ = corpus
    runner = CliRunner()
    res = runner.invoke(app, ["rag", "index", "--retriever", "bm25.v1", "--corpus", str(path),
                              "--out", str(tmp_path / "idx")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["rag", "search", "--index", str(tmp_path / "idx"), "--query-file", str(path), "--k", "2"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.splitlines() if line.startswith("{")]
    assert len(rows) == 6
    for row in rows:  # the leakage guard holds in the inspection command too
        got = {r["id"] for r in row["retrieved"]}
        assert row["id"] not in got and not ({"d0", "d5"} >= {row["id"]} and got & {"d0", "d5"})
    res = runner.invoke(app, ["rag", "index", "--retriever", "nope.v1", "--corpus", str(path), "--out", "x"])
    assert res.exit_code == 2 and "expected one of" in res.output


def test_index_shipped_configs_validate():
    from pathlib import Path

    from cancerllm.config import load_config

    files = sorted((Path(__file__).resolve().parents[2] / "configs" / "rag").glob("*.yaml"))
    assert len(files) >= 8
    for f in files:
        cfg = load_config(IndexConfig, f)
        assert cfg.retriever and cfg.corpus and f.read_text().startswith("# cancerllm rag index")


@pytest.mark.parametrize("name", ["random.v1", "bm25.v1", "dense.v1", "medcpt.v1", "contriever.v1", "sgpt.v1",
                                  "specter2.v1", "hybrid.v1"])
def test_index_cli_every_retriever(corpus, tmp_path, bert_dir, bert_dir_b, tiny_model_dir, name):
    """All eight retrievers build and reload through the CLI (tiny random models stand in for real weights)."""
    from typer.testing import CliRunner

    from cancerllm.cli import app

    from .test_specter2 import write_adapter

    path, _ = corpus
    extra = {"dense.v1": ["--model-path", str(bert_dir)], "hybrid.v1": ["--model-path", str(bert_dir)],
             "contriever.v1": ["--model-path", str(bert_dir)], "sgpt.v1": ["--model-path", str(tiny_model_dir)],
             "medcpt.v1": ["--model-path", str(bert_dir), "--query-model-path", str(bert_dir_b)],
             "specter2.v1": ["--model-path", str(bert_dir), "--adapter-path", str(tmp_path / "adapter")]}
    if name == "specter2.v1":
        write_adapter(tmp_path / "adapter")
    runner = CliRunner()
    res = runner.invoke(app, ["rag", "index", "--retriever", name, "--corpus", str(path), "--out",
                              str(tmp_path / "idx"), *extra.get(name, [])])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["rag", "search", "--index", str(tmp_path / "idx"), "--query-file", str(path), "--k", "3"])
    assert res.exit_code == 0, res.output
    # Model-loading progress bars may share a line with the first record; each record starts at '{"id"'.
    rows = [json.loads(line[line.index('{"id"'):]) for line in res.output.splitlines() if '{"id"' in line]
    assert len(rows) == 6 and all(len(r["retrieved"]) == 3 and r["id"] not in {x["id"] for x in r["retrieved"]}
                                  for r in rows)
