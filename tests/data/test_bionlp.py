"""BioNLP13CG sentences -> Note: Cancer entities become cancer_diagnosis mentions, all entities kept."""

from __future__ import annotations

import json

import pytest

from cancerllm.data.corpora.bionlp import load_bionlp, note_from_record
from cancerllm.data.paths import has_dataset
from cancerllm.errors import ConfigError, DataFormatError

needs_bionlp = pytest.mark.skipif(not has_dataset("bionlp13cg_ner"), reason="shared bionlp13cg_ner data absent")

REC = {"id": "bionlp13cg-dev-00001", "split": "dev", "text": "TP53 loss in breast cancer and glioma cells .",
       "entities": [{"start": 0, "end": 4, "label": "Gene_or_gene_product", "text": "TP53"},
                    {"start": 13, "end": 26, "label": "Cancer", "text": "breast cancer"},
                    {"start": 31, "end": 43, "label": "Cell", "text": "glioma cells"}]}


def test_bionlp_cancer_entities_become_mentions():
    note = note_from_record(REC)
    note.check_spans()
    assert note.id == "bionlp13cg-dev-00001" and note.split == "dev" and note.kind == "abstract_sentence"
    assert [(m.type, m.text, m.start, m.end, m.assertion) for m in note.mentions] == \
        [("cancer_diagnosis", "breast cancer", 13, 26, "present")]
    assert [e["label"] for e in note.entities] == ["Gene_or_gene_product", "Cancer", "Cell"]
    assert note.model_dump()["entities"][2] == REC["entities"][2]  # extra field survives serialisation


def test_bionlp_bad_span_is_reported_without_text():
    bad = {**REC, "entities": [{"start": 13, "end": 20, "label": "Cancer", "text": "breast cancer"}]}
    with pytest.raises(DataFormatError, match="entity span \\[13, 20\\)") as err:
        note_from_record(bad)
    assert "breast" not in str(err.value)


def test_bionlp_split_check_and_bad_line_collection(tmp_path):
    with pytest.raises(ConfigError, match="expected one of \\['train', 'dev', 'test', 'all'\\]"):
        load_bionlp("devel", tmp_path)
    folder = tmp_path / "bionlp13cg_ner"
    folder.mkdir()
    (folder / "dev.jsonl").write_text(json.dumps(REC) + "\n" + json.dumps({"id": "x"}) + "\n")
    errors = []
    assert [n.id for n in load_bionlp("dev", tmp_path, errors=errors)] == [REC["id"]]
    assert errors[0].line == 2


@needs_bionlp
def test_bionlp_real_counts_and_spans():
    expected = {"train": (3033, 1226), "dev": (1003, 432), "test": (1525, 804)}  # from the corpus README
    for split, (n_sent, n_cancer) in expected.items():
        notes = load_bionlp(split)
        assert len(notes) == n_sent
        assert sum(len(n.mentions) for n in notes) == n_cancer
        for n in notes:
            n.check_spans()
            assert all(n.text[e["start"]:e["end"]] == e["text"] for e in n.entities)
