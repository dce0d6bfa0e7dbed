"""Every shipped YAML loads and validates; config errors are collected and name the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cancerllm.cli import CONFIG_CLASSES, app
from cancerllm.config import TrainArgs, load_config
from cancerllm.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_configs_every_shipped_yaml_validates():
    res = CliRunner().invoke(app, ["validate", str(ROOT / "configs")])
    assert res.exit_code == 0, res.output
    n = int(res.output.split()[0])
    assert n == len(list((ROOT / "configs").glob("*/*.yaml")))


def test_configs_every_config_folder_is_a_known_verb():
    for folder in (ROOT / "configs").iterdir():
        assert folder.name in CONFIG_CLASSES, folder


def test_configs_problems_are_collected_and_name_the_flag(tmp_path):
    from dataclasses import dataclass, field

    @dataclass
    class C:
        train: TrainArgs = field(default_factory=TrainArgs)

    with pytest.raises(ConfigError) as err:
        load_config(C, overrides=["train.lr=-1", "train.batch_size=x", "train.nope=1"])
    text = str(err.value)
    assert "train.batch_size: got 'x', expected int" in text and "train.nope: unknown key" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(C, bad)


def test_configs_validate_reports_a_broken_yaml(tmp_path):
    (tmp_path / "sft").mkdir()
    (tmp_path / "sft" / "x.yaml").write_text("train:\n  lr: fast\n")
    res = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert res.exit_code == 2
    assert "train.lr: got 'fast', expected float" in res.output


def test_configs_list_fields_take_comma_lists_and_single_values():
    from dataclasses import dataclass, field

    @dataclass
    class C:
        sizes: list[int] = field(default_factory=lambda: [1])

    assert load_config(C, overrides=["sizes=1,8"]).sizes == [1, 8]
    assert load_config(C, overrides=["sizes=8"]).sizes == [8]
    assert load_config(C, overrides=["sizes=[2,4]"]).sizes == [2, 4]
    with pytest.raises(ConfigError, match=r"sizes\[1\]: got 'x', expected int"):
        load_config(C, overrides=["sizes=1,x"])
