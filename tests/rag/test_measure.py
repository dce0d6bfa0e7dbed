"""Same-label neighbour metrics on a tiny index, and (when the shared data is present) on real TCGA reports."""

from __future__ import annotations

import pytest

from cancerllm.data.schema import Note
from cancerllm.rag.index import IndexConfig, build_index, load_index
from cancerllm.rag.measure import label_recall, score_neighbours


def test_measure_score_neighbours_hand_computed():
    q = Note(id="q", text="", cancer_type="BRCA", labels={"t_stage": None})
    nbs = [Note(id=str(i), text="", cancer_type=c) for i, c in enumerate(["LUAD", "BRCA", "BRCA"])]
    got = score_neighbours(q, nbs, ["cancer_type", "t_stage"], ks=(1, 3))
    assert got == {"cancer_type": {"hit@1": 0.0, "precision@1": 0.0, "hit@3": 1.0, "precision@3": 2 / 3}}


def test_measure_label_recall_on_tiny_index(corpus, tmp_path):
    path, notes = corpus
    build_index(IndexConfig(retriever="bm25.v1", corpus=str(path), out=str(tmp_path / "idx")))
    idx = load_index(tmp_path / "idx")
    q = Note(id="q", text="Invasive ductal carcinoma of the left breast, ER positive", patient_id="z",
             cancer_type="BRCA")
    res = label_recall(idx, [q], ["cancer_type"], ks=(1, 2))
    assert res == {"cancer_type": {"n": 1, "hit@1": 1.0, "precision@1": 1.0, "hit@2": 1.0, "precision@2": 0.5}}
    # The query's own note never counts: searching d0 for itself cannot hit d0 (BRCA is unique to d0).
    assert label_recall(idx, [notes[0]], ["cancer_type"], ks=(5,))["cancer_type"]["hit@5"] == 0.0


def test_measure_uses_the_inference_leakage_guard(corpus, tmp_path):
    """Issue 11(b): a verbatim copy of the query filed under another id and patient is a leak, not a hit."""
    from cancerllm.rag.pipeline import ExampleRetriever

    path, notes = corpus
    build_index(IndexConfig(retriever="bm25.v1", corpus=str(path), out=str(tmp_path / "idx")))
    idx = load_index(tmp_path / "idx")
    copy = Note(id="resubmitted", text=notes[0].text, patient_id="p-other", cancer_type="BRCA")  # BRCA: only d0
    same_patient = Note(id="addendum", text=notes[0].text[:60] + " breast carcinoma", patient_id="p0",
                        cancer_type="BRCA")
    for q in (copy, same_patient):
        assert label_recall(idx, [q], ["cancer_type"], ks=(5,))["cancer_type"]["hit@5"] == 0.0, q.id
        # one guard: what the measurement may see is exactly what inference may show
        shown = [e.id for e in ExampleRetriever(idx).examples_for(q, 5, "diagnosis", "json.v1", [])]
        assert "d0" not in shown and set(shown) <= {i for i, _ in idx.search_note(q, 5)}
    assert idx.leaks(copy) == ({"resubmitted", "d0"}, {"p-other"})


def _tcga_present() -> bool:
    from cancerllm.data.paths import dataset_dir
    from cancerllm.errors import ResourceError

    try:
        return (dataset_dir("tcga_path_reports") / "train.jsonl").is_file()
    except ResourceError:
        return False


@pytest.mark.skipif(not _tcga_present(), reason="shared TCGA data absent")
def test_measure_bm25_beats_random_on_tcga(tmp_path):
    from cancerllm.data.corpora.tcga import load_tcga
    from cancerllm.data.io import write_jsonl

    train, dev = load_tcga("train")[:300], load_tcga("dev")[:30]
    path = write_jsonl(train, tmp_path / "train.jsonl")
    res = {}
    for name in ("random.v1", "bm25.v1"):
        build_index(IndexConfig(retriever=name, corpus=str(path), out=str(tmp_path / name)))
        res[name] = label_recall(load_index(tmp_path / name), dev, ["cancer_type"], ks=(1,))["cancer_type"]["hit@1"]
    assert res["bm25.v1"] > res["random.v1"] + 0.3
