"""Multi-GPU training by name: ``cancerllm sft --launch ddp|fsdp|zero2|zero3 [--nproc N]``.

The recipes are plain Hugging Face Trainer/TRL loops, so every strategy is an ``accelerate launch`` config
(``configs/accelerate/NAME.yaml``) and nothing else: ``--launch NAME`` re-runs the same command under
``accelerate launch --config_file configs/accelerate/NAME.yaml --num_processes N -m cancerllm <verb> ...``. The
Trainer reads the strategy from the environment accelerate sets (FSDP plugin, DeepSpeed plugin with ``auto`` values
filled from ``train.*``); precision stays ``train.precision``'s.

:class:`AccelerateConfig` is the schema ``cancerllm validate`` checks those files against (the keys we ship, their
allowed values, and nested keys accelerate's launcher knows); the tests also load each file with accelerate itself.

Example:
    >>> from cancerllm.config import load_config
    >>> cfg = load_config(AccelerateConfig, accelerate_config("zero3"))
    >>> cfg.distributed_type, cfg.deepspeed_config["zero_stage"]
    ('DEEPSPEED', 3)
    >>> launch_argv("sft", "ddp", ["--config", "configs/sft/tiny.yaml"], nproc=4)[3:8]
    ['--config_file', '.../configs/accelerate/ddp.yaml', '--num_processes', '4', '-m']
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cancerllm.errors import ConfigError

__all__ = ["LAUNCH_NAMES", "AccelerateConfig", "accelerate_config", "launch_argv", "relaunch"]

LAUNCH_NAMES = ("ddp", "fsdp", "zero2", "zero3")

# Nested keys accelerate launch turns into --fsdp_* / DeepSpeed options (accelerate 1.15); a typo would be dropped
# silently by accelerate, so validate refuses it. tests/scale/test_launch.py checks this list against accelerate.
_FSDP_KEYS = {"fsdp_version", "fsdp_auto_wrap_policy", "fsdp_reshard_after_forward", "fsdp_offload_params",
              "fsdp_cpu_ram_efficient_loading", "fsdp_state_dict_type", "fsdp_activation_checkpointing",
              "fsdp_transformer_layer_cls_to_wrap", "fsdp_min_num_params", "fsdp_sharding_strategy",
              "fsdp_backward_prefetch", "fsdp_forward_prefetch", "fsdp_use_orig_params", "fsdp_sync_module_states"}
_DEEPSPEED_KEYS = {"zero_stage", "offload_optimizer_device", "offload_param_device", "zero3_init_flag",
                   "zero3_save_16bit_model", "deepspeed_multinode_launcher", "deepspeed_config_file",
                   "offload_optimizer_nvme_path", "offload_param_nvme_path"}


@dataclass
class AccelerateConfig:
    """The keys of an ``accelerate launch`` config file as shipped in ``configs/accelerate/``."""

    compute_environment: Literal["LOCAL_MACHINE"] = "LOCAL_MACHINE"
    distributed_type: Literal["NO", "MULTI_GPU", "FSDP", "DEEPSPEED", "MULTI_CPU"] = "MULTI_GPU"
    num_machines: int = 1
    machine_rank: int = 0
    num_processes: int = 2
    """Processes per run (all machines); `--nproc` overrides it."""
    gpu_ids: str = "all"
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"
    """Kept 'no': the Trainer's train.precision decides, so the two never disagree."""
    rdzv_backend: str = "static"
    same_network: bool = True
    main_training_function: str = "main"
    downcast_bf16: Literal["no", "yes"] = "no"
    use_cpu: bool = False
    debug: bool = False
    main_process_ip: str | None = None
    main_process_port: int | None = None
    fsdp_config: Any = None
    deepspeed_config: Any = None

    def validate(self) -> list[str]:
        problems = []
        if self.num_processes < 1 or self.num_machines < 1:
            problems.append(f"num_processes/num_machines: got {self.num_processes}/{self.num_machines}, expected >= 1")
        for name, section, known in (("fsdp_config", self.fsdp_config, _FSDP_KEYS),
                                     ("deepspeed_config", self.deepspeed_config, _DEEPSPEED_KEYS)):
            if section is not None and not isinstance(section, dict):
                problems.append(f"{name}: got {section!r}, expected a mapping")
            for key in sorted(set(section or {}) - known):
                problems.append(f"{name}.{key}: unknown to accelerate launch, expected one of {sorted(known)}")
        wanted = {"FSDP": "fsdp_config", "DEEPSPEED": "deepspeed_config"}.get(self.distributed_type)
        if wanted and not getattr(self, wanted):
            problems.append(f"{wanted}: missing for distributed_type {self.distributed_type}")
        if self.deepspeed_config and self.deepspeed_config.get("zero_stage") not in (0, 1, 2, 3):
            problems.append(f"deepspeed_config.zero_stage: got {self.deepspeed_config.get('zero_stage')!r}, "
                            "expected 0, 1, 2 or 3")
        return problems


def accelerate_config(name: str) -> Path:
    """The config file of a launch ``name`` (``ddp``, ``fsdp``, ``zero2``, ``zero3``) or of a path to a YAML file.

    Raises:
        ConfigError: neither a known name nor an existing file.
    """
    if Path(name).suffix in (".yaml", ".yml") and Path(name).is_file():
        return Path(name)
    # configs/ sits at the repository root (src layout); an installed copy falls back to ./configs.
    for root in (Path(__file__).resolve().parents[3], Path.cwd()):
        path = root / "configs" / "accelerate" / f"{name}.yaml"
        if name in LAUNCH_NAMES and path.is_file():
            return path
    raise ConfigError(f"--launch: got {name!r}, expected one of {list(LAUNCH_NAMES)} (configs/accelerate/NAME.yaml) "
                      "or the path of an accelerate config .yaml")


def launch_argv(verb: str, name: str, args: list[str], nproc: int | None = None) -> list[str]:
    """The ``accelerate launch`` command that runs ``cancerllm <verb> <args>`` with the ``name`` strategy.

    ``nproc`` None: every visible GPU (at least 2 on a CPU-only machine, where DDP runs with gloo).
    """
    if nproc is None:
        import torch

        nproc = torch.cuda.device_count() or 2
    if nproc < 1:
        raise ConfigError(f"--nproc: got {nproc}, expected >= 1 processes")
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(accelerate_config(name)),
            "--num_processes", str(nproc), "-m", "cancerllm", verb, *args]


def relaunch(verb: str, name: str, args: list[str], nproc: int | None = None) -> int:
    """Run ``cancerllm <verb>`` under ``accelerate launch`` (see :func:`launch_argv`); returns its exit status."""
    if os.environ.get("LOCAL_RANK") is not None:  # already a launched worker: never launch again
        raise ConfigError("--launch: this process was itself started by a launcher (LOCAL_RANK is set); drop --launch")
    return subprocess.run(launch_argv(verb, name, args, nproc), check=False).returncode
