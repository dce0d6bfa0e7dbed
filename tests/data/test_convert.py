"""convert(): shared corpus split -> Note JSONL that read_notes accepts; source/split errors; mtsamples."""

from __future__ import annotations

import json

import pytest

from cancerllm.data.corpora.convert import SOURCES, convert
from cancerllm.data.corpora.mtsamples import load_mtsamples, note_from_record
from cancerllm.data.io import read_notes
from cancerllm.data.paths import has_dataset
from cancerllm.errors import ConfigError, ResourceError


def test_convert_rejects_unknown_source_and_split(tmp_path):
    with pytest.raises(ConfigError, match="source: got 'pubmed', expected one of \\['tcga', 'bionlp13cg'"):
        convert("pubmed", "train", tmp_path / "x.jsonl")
    with pytest.raises(ConfigError, match="--split: got 'dev', expected one of \\['train', 'all'\\] for mtsamples"):
        convert("mtsamples", "dev", tmp_path / "x.jsonl")
    assert set(SOURCES) == {"tcga", "bionlp13cg", "mtsamples", "chia"}


def test_convert_missing_root_is_resource_error(tmp_path):
    with pytest.raises(ResourceError, match="--root argument"):
        convert("tcga", "dev", tmp_path / "x.jsonl", root=tmp_path / "nowhere")


def test_convert_tcga_from_tiny_root_roundtrips(tmp_path):
    folder = tmp_path / "data" / "tcga_path_reports"
    folder.mkdir(parents=True)
    rec = {"id": "r1", "patient_id": "TCGA-XX-0001", "cancer_type": "READ", "split": "test", "icd_10": "C19",
           "text": "Rectum. Stage: pT3 pN1b.", "t_stage": "T3", "n_stage": "N1", "m_stage": None}
    (folder / "test.jsonl").write_text(json.dumps(rec) + "\n")
    path, count = convert("tcga", "test", tmp_path / "out" / "t.jsonl", root=tmp_path / "data")
    notes = read_notes(path)  # re-validates schema and every span
    assert count == 1 and notes[0].diagnosis.icd10 == "C20"
    assert [m.text for m in notes[0].mentions] == ["pT3", "pN1b"]
    stats = json.loads((tmp_path / "out" / "t.stats.json").read_text())
    assert stats["icd_changed"] == {"READ": 1} and stats["evidence"] == {"stage_t": 1, "stage_n": 1}


def test_convert_mtsamples_record_keeps_site_fields():
    note = note_from_record({"id": "mtsamples-0042", "text": "HISTORY: lymphoma.", "specialty": "Hematology - Oncology",
                             "title": "Lymphoma consult", "cancer_term_hits": 3})
    assert (note.kind, note.split, note.mentions, note.labels) == ("transcription", "train", [], {})
    assert note.meta == {"specialty": "Hematology - Oncology", "title": "Lymphoma consult", "cancer_term_hits": 3}


@pytest.mark.skipif(not has_dataset("mtsamples_onc"), reason="shared mtsamples_onc data absent")
def test_convert_real_mtsamples(tmp_path):
    notes = load_mtsamples()
    assert len(notes) == 354 and len({n.id for n in notes}) == 354
    path, count = convert("mtsamples", "all", tmp_path / "m.jsonl")
    assert count == 354 and len(read_notes(path)) == 354


@pytest.mark.skipif(not has_dataset("tcga_path_reports"), reason="shared tcga_path_reports data absent")
def test_convert_real_tcga_dev_via_cli(tmp_path):
    from typer.testing import CliRunner

    from cancerllm.cli import app

    out = tmp_path / "dev.jsonl"
    result = CliRunner().invoke(app, ["data", "convert", "tcga", "--split", "dev", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 309 notes" in result.output
    notes = read_notes(out)
    assert len(notes) == 309 and all(n.diagnosis and n.diagnosis.icd10 for n in notes)
