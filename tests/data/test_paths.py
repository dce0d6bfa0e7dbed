"""Data-root lookup: explicit argument > $CANCERLLM_DATA > ../shared/data (repo root, then cwd)."""

from __future__ import annotations

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
