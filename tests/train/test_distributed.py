"""Two CPU processes (accelerate launch -> torchrun, gloo) train exactly like one process with the global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from cancerllm.config import load_config
from cancerllm.train.pretrain import PretrainConfig, run

ARGS = ["data.max_seq_len=32", "train.precision=fp32", "model.dtype=fp32", "train.max_steps=3", "train.save_steps=2",
        "lora.dropout=0", "train.lr=1e-2", "train.eval_steps=0", "data.max_dev_examples=4"]


def test_distributed_two_process_cpu_equals_single_process_global_batch(tiny_model_dir, tiny_corpus, tmp_path):
    common = ["--config", "configs/pretrain/tiny.yaml", f"model.path={tiny_model_dir}", f"data.train={tiny_corpus}",
              *ARGS]
    # accelerate 1.15 runs `--cpu --num_processes 2` as ONE process; `--multi_gpu` on a CPU-only machine launches
    # torchrun workers, and the recipe picks the gloo backend because the device resolves to cpu.
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "cancerllm", "pretrain", *common, f"out={tmp_path / 'ddp'}", "train.batch_size=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert ddp["world_size"] == 2 and ddp["steps"] == 3

    cfg = load_config(PretrainConfig, "configs/pretrain/tiny.yaml", common[2:] + [f"out={tmp_path / 'one'}",
                                                                                   "train.batch_size=4"])
    single = run(cfg)
    assert single.metrics["world_size"] == 1
    assert ddp["train_loss_last"] == pytest.approx(single.metrics["train_loss_last"], rel=1e-4)
    a = load_file(str(tmp_path / "ddp" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "one" / "adapter" / "adapter_model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
