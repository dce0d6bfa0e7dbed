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


# ------------------------------------------------------------------------------------------------- verbs

def test_configs_verb_table_matches_what_each_stage_registers():
    import typer

    from cancerllm.cli import _VERB_MODULES, _register_verbs

    for mod, verbs in _VERB_MODULES.items():
        one = typer.Typer()
        assert _register_verbs(one, {mod: verbs}) == []
        names = {c.name for c in one.registered_commands} | {g.name for g in one.registered_groups}
        assert names == set(verbs), mod


def test_configs_a_verb_whose_module_fails_to_import_says_why():
    import typer

    from cancerllm.cli import _register_verbs

    one = typer.Typer()
    one.command("ok")(lambda: None)
    failed = _register_verbs(one, {"cancerllm.no_such_stage.cli": ("nostage",), "cancerllm.demo_cli": ("demo",)})
    assert [m for m, _ in failed] == ["cancerllm.no_such_stage.cli"]
    for args in (["nostage"], ["nostage", "--config", "x.yaml", "a.b=1"], ["nostage", "--help"]):
        res = CliRunner().invoke(one, args)
        assert res.exit_code == 2, args
        assert "`cancerllm nostage` is unavailable: importing cancerllm.no_such_stage.cli failed" in res.output
        assert "No module named 'cancerllm.no_such_stage'" in res.output
    assert "unavailable" in CliRunner().invoke(one, ["--help"]).output
    assert "demo" in CliRunner().invoke(one, ["--help"]).output


def test_configs_a_missing_plugin_module_is_a_warning_not_silence(monkeypatch, caplog):
    import logging

    from cancerllm import registry

    monkeypatch.setattr(registry, "_PLUGIN_MODULES", [*registry._PLUGIN_MODULES, "cancerllm.no_such_plugins"])
    with caplog.at_level(logging.WARNING, logger="cancerllm"):
        registry.load_all()
    assert any("cancerllm.no_such_plugins" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
