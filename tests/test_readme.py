"""The README's promises: its two commands exist, CI calls the test command, every CLI verb it lists answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_two_commands_are_make_targets_and_ci_runs_the_test_one():
    assert "make demo" in README and "make test" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: setup$", makefile, re.MULTILINE) and re.search(r"^test: setup$", makefile, re.MULTILINE)
    assert "cancerllm demo" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()


VERBS = sorted({m.group(1).strip() for m in re.finditer(r"^\| `cancerllm ([a-z\- ]+?)(?:`| \\\|| /)", README, re.MULTILINE)})


def test_readme_lists_the_verbs():
    assert {"demo", "pretrain", "sft", "extract", "diagnose", "evaluate", "ls", "validate"} <= set(VERBS)


@pytest.mark.parametrize("verb", VERBS)
def test_readme_every_listed_verb_answers_help(verb):
    res = CliRunner().invoke(app, verb.split() + ["--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output


def test_readme_package_tree_names_existing_modules():
    tree = README.split("## Package tree", 1)[1].split("```")[1]
    pkg = ROOT / "src" / "cancerllm"
    for name in re.findall(r"^\s+([a-z_]+\.py)\b", tree, re.MULTILINE):
        assert list(pkg.rglob(name)), f"README tree names {name}, which does not exist"
