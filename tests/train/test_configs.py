"""Every shipped pretrain/sft YAML loads against its dataclass and starts with the command that runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cancerllm.config import load_config
from cancerllm.train.pretrain import PretrainConfig
from cancerllm.train.sft import SFTConfig

ROOT = Path(__file__).resolve().parents[2] / "configs"
CASES = [(p, PretrainConfig) for p in sorted((ROOT / "pretrain").glob("*.yaml"))] + \
        [(p, SFTConfig) for p in sorted((ROOT / "sft").glob("*.yaml"))]


@pytest.mark.parametrize(("path", "cls"), CASES, ids=[f"{p.parent.name}/{p.name}" for p, _ in CASES])
def test_configs_ship_valid_with_their_command(path, cls):
    cfg = load_config(cls, path)
    verb = path.parent.name
    assert path.read_text().startswith(f"# cancerllm {verb} --config configs/{verb}/{path.name}")
    assert cfg.out == f"out/{verb}/{path.stem}"  # one name: config file <-> output folder
