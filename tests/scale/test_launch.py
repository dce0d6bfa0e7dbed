"""Multi-GPU launch configs: each ships, loads with accelerate itself, uses only keys accelerate's launcher knows,
resolves by name, and `--launch NAME` builds the accelerate command (a real 2-process CPU run is the slow test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import load_config
from cancerllm.errors import ConfigError
from cancerllm.scale.launch import (
    _DEEPSPEED_KEYS,
    _FSDP_KEYS,
    LAUNCH_NAMES,
    AccelerateConfig,
    accelerate_config,
    launch_argv,
)

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {"ddp": ("MULTI_GPU", None), "fsdp": ("FSDP", None), "zero2": ("DEEPSPEED", 2), "zero3": ("DEEPSPEED", 3)}


def _launch_options() -> set[str]:
    from accelerate.commands.launch import launch_command_parser

    return set(vars(launch_command_parser().parse_args(["x.py"])))


def test_launch_every_name_resolves_and_loads_with_accelerate():
    from accelerate.commands.config.config_args import load_config_from_file

    options = _launch_options()
    assert _FSDP_KEYS <= options and _DEEPSPEED_KEYS <= options  # our allow-list is accelerate's, not a guess
    assert sorted(p.stem for p in (ROOT / "configs" / "accelerate").glob("*.yaml")) == sorted(LAUNCH_NAMES)
    for name in LAUNCH_NAMES:
        path = accelerate_config(name)
        ours = load_config(AccelerateConfig, path)  # what `cancerllm validate` checks
        theirs = load_config_from_file(str(path))  # accelerate's own loader refuses unknown top-level keys
        kind, stage = EXPECTED[name]
        assert ours.distributed_type == kind and theirs.distributed_type.value == kind, name
        assert ours.mixed_precision == "no"  # train.precision decides
        for key in ours.fsdp_config or {}:
            assert (key if key.startswith("fsdp") else f"fsdp_{key}") in options, key
        if stage is not None:
            assert ours.deepspeed_config["zero_stage"] == stage
            assert set(ours.deepspeed_config) <= options
            # left to the Trainer ('auto' from train.grad_accum / train.max_grad_norm): one setting governs both
            assert not {"gradient_accumulation_steps", "gradient_clipping"} & set(ours.deepspeed_config)


def test_launch_bad_config_keys_and_names_are_refused(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("distributed_type: FSDP\nfsdp_config:\n  fsdp_sharding_stratgy: FULL_SHARD\n")
    with pytest.raises(ConfigError, match="fsdp_config.fsdp_sharding_stratgy: unknown to accelerate launch"):
        load_config(AccelerateConfig, bad)
    (tmp_path / "ds.yaml").write_text("distributed_type: DEEPSPEED\n")
    with pytest.raises(ConfigError, match="deepspeed_config: missing for distributed_type DEEPSPEED"):
        load_config(AccelerateConfig, tmp_path / "ds.yaml")
    with pytest.raises(ConfigError, match=r"--launch: got 'zero4', expected one of \['ddp', 'fsdp', 'zero2'"):
        accelerate_config("zero4")
    assert accelerate_config(str(bad)) == bad  # any accelerate YAML by path


def test_launch_argv_runs_the_same_verb_under_accelerate():
    argv = launch_argv("sft", "zero3", ["--config=configs/sft/tiny.yaml", "train.max_steps=5"], nproc=8)
    assert argv[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    assert argv[3:7] == ["--config_file", str(ROOT / "configs" / "accelerate" / "zero3.yaml"), "--num_processes", "8"]
    assert argv[7:] == ["-m", "cancerllm", "sft", "--config=configs/sft/tiny.yaml", "train.max_steps=5"]


def test_launch_unknown_name_or_bad_settings_fail_before_launching(tmp_path):
    res = CliRunner().invoke(app, ["sft", "--launch", "zero4", f"out={tmp_path / 'o'}", "train.max_steps=1"])
    assert res.exit_code == 2 and "--launch: got 'zero4'" in res.output
    res = CliRunner().invoke(app, ["pretrain", "--launch", "ddp", "train.lr=fast"])
    assert res.exit_code == 2 and "train.lr: got 'fast'" in res.output  # checked here, not in N processes


@pytest.mark.slow  # two torchrun workers loading torch on a 2-core machine: about a minute
def test_launch_ddp_two_cpu_processes_train(tiny_model_dir, tiny_corpus, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "cancerllm", "pretrain", "--launch", "ddp", "--nproc", "2", "--config",
           "configs/pretrain/tiny.yaml", f"model.path={tiny_model_dir}", f"data.train={tiny_corpus}",
           "data.max_seq_len=32", "train.max_steps=2", "train.save_steps=2", "train.eval_steps=0",
           "data.max_dev_examples=4", "train.precision=fp32", "model.dtype=fp32", f"out={out}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["steps"] == 2
