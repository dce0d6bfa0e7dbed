"""The plug-in registries: a pinned snapshot (renaming an entry breaks users' configs) and clear lookup errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.errors import ConfigError
from cancerllm.registry import Registry, all_registries

SNAPSHOT = {
    "retriever": ["bm25.v1", "contriever.v1", "dense.v1", "hybrid.v1", "medcpt.v1", "random.v1", "sgpt.v1",
                  "specter2.v1"],
    "perturbation": ["abbrev_swap.v1", "ocr.v1", "typo.clinical.v1", "typo.keyboard.v1"],
    "metric": ["bleu2.v1", "exact_match.v1", "rouge1.v1", "rouge_l.v1"],
    "prompt_style": ["json.v1", "qa.v1"],
}


def test_registry_snapshot_is_pinned():
    assert {kind: reg.names() for kind, reg in all_registries().items()} == SNAPSHOT


def test_registry_ls_prints_every_entry():
    res = CliRunner().invoke(app, ["ls"])
    assert res.exit_code == 0
    for names in SNAPSHOT.values():
        for name in names:
            assert name in res.output


def test_registry_bare_name_resolves_to_latest_version_and_unknown_lists_choices():
    reg = Registry("thing")
    reg.register("a.v1")(lambda: 1)
    reg.register("a.v2")(lambda: 2)
    assert reg.get("a")() == 2 and "a" in reg and "b" not in reg
    with pytest.raises(ConfigError, match=r"got 'b', expected one of \['a.v1', 'a.v2'\]"):
        reg.get("b")
    with pytest.raises(ValueError, match="versioned"):
        reg.register("unversioned")
