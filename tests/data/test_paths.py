"""Data-root lookup: explicit argument > $CANCERLLM_DATA > ../shared/data (repo root, then cwd)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cancerllm.data import paths
from cancerllm.errors import ResourceError


def test_paths_explicit_root_wins_over_env(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / "b"))
    assert paths.data_root(tmp_path / "a") == tmp_path / "a"
    assert paths.data_root() == tmp_path / "b"


def test_paths_missing_root_error_lists_what_was_tried(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(ResourceError, match=r"\$CANCERLLM_DATA: .*missing.*--root"):
        paths.data_root()


def test_paths_default_candidates_are_repo_then_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    origins = [o for o, _ in paths.candidate_roots()]
    assert origins == ["repo root/../shared/data", "cwd/../shared/data"]
    assert paths.candidate_roots()[1][1] == tmp_path.parent / "shared" / "data"


def test_paths_dataset_dir_names_present_folders(tmp_path):
    (tmp_path / "tcga_path_reports").mkdir()
    with pytest.raises(ResourceError, match=r"'bionlp13cg_ner' not found .*present: \['tcga_path_reports'\]"):
        paths.dataset_dir("bionlp13cg_ner", tmp_path)


# ------------------------------------------------------------------------ data.train=auto | tcga | synth

@pytest.fixture
def no_shared_data(tmp_path, monkeypatch):
    """A data root without tcga_path_reports/, as on a fresh machine."""
    monkeypatch.setenv(paths.ENV_VAR, str(tmp_path))
    return tmp_path


def test_paths_auto_without_tcga_warns_that_notes_are_synthetic(no_shared_data, caplog):
    from cancerllm.train.common import load_notes

    with caplog.at_level(logging.INFO, logger="cancerllm"):
        notes, files, source = load_notes("auto", "train", synth_n=12, seed=0)
    assert len(notes) == 12 and files == [] and source.startswith("synthetic")
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warned and "SYNTHETIC" in warned[0].getMessage() and "data.train=synth" in warned[0].getMessage()


def test_paths_synth_is_an_explicit_choice_without_warning(no_shared_data, caplog):
    from cancerllm.train.common import load_notes

    with caplog.at_level(logging.INFO, logger="cancerllm"):
        notes, _, source = load_notes("synth", "dev", synth_n=100, seed=3)
    assert len(notes) == 10 and source.startswith("synthetic")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_paths_tcga_without_the_data_is_an_error(no_shared_data):
    from cancerllm.train.common import load_notes

    with pytest.raises(ResourceError, match=r"'tcga' needs the shared TCGA reports.*data.train=synth"):
        load_notes("tcga", "train")


def test_paths_pretrain_documents_accept_the_source_words(no_shared_data):
    from cancerllm.train.pretrain import read_texts

    texts, files, source = read_texts("synth", "dev", synth_n=40, seed=0)
    assert source.startswith("synthetic")
    assert len(texts) == 8 and all(isinstance(t, str) and t for t in texts) and files == []
    with pytest.raises(ResourceError, match="'tcga' needs the shared TCGA reports"):
        read_texts("tcga", "train", synth_n=40, seed=0)


def test_paths_gpu_configs_require_the_real_reports():
    from cancerllm.config import load_config
    from cancerllm.train.pretrain import PretrainConfig
    from cancerllm.train.sft import SFTConfig

    root = Path(__file__).resolve().parents[2] / "configs"
    for cls, path in ((SFTConfig, root / "sft" / "mistral7b-qlora.yaml"),
                      (PretrainConfig, root / "pretrain" / "mistral7b-qlora.yaml")):
        assert load_config(cls, path).data.train == "tcga", path
