"""``cancerllm pretrain`` and ``cancerllm sft``: thin wrappers over :func:`cancerllm.train.pretrain.run` and
:func:`cancerllm.train.sft.run`. Only typer and the standard library are imported here; the recipes (torch,
transformers, peft, trl) load inside the commands so ``cancerllm --help`` stays instant.

Both take ``--config FILE.yaml`` and any number of ``section.key=value`` overrides, e.g.::

    cancerllm pretrain --config configs/pretrain/tiny.yaml train.max_steps=20 --model.path=/models/mistral-7b
    accelerate launch --num_processes 2 --cpu -m cancerllm pretrain --config configs/pretrain/tiny.yaml
    cancerllm sft --launch fsdp --nproc 8 --config configs/sft/tiny.yaml   # configs/accelerate/fsdp.yaml
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors

_CONFIG_HELP = "YAML config (configs/<verb>/*.yaml); values below override it as section.key=value."


_LAUNCH_HELP = "Run on several GPUs: ddp, fsdp, zero2, zero3 (configs/accelerate/NAME.yaml) or an accelerate YAML."
_NPROC_HELP = "Processes for --launch (default: every visible GPU)."


def _run(module: str, cls_name: str, config: Path | None, overrides: list[str], launch: str | None = None,
         nproc: int | None = None) -> None:
    import importlib

    from cancerllm.config import load_config
    from cancerllm.train.common import is_main_process

    mod = importlib.import_module(module)
    cfg = load_config(getattr(mod, cls_name), config, overrides)
    if launch:  # checked above, then the same command again under `accelerate launch` (cancerllm.scale.launch)
        from cancerllm.scale.launch import relaunch

        code = relaunch(module.rsplit(".", 1)[-1], launch, ([f"--config={config}"] if config else []) + overrides,
                        nproc)
        if code:
            raise typer.Exit(code)
        return
    result = mod.run(cfg)
    if is_main_process():
        keys = ("steps", "train_loss_first", "train_loss_last", "dev_loss", "perplexity", "tokens_per_s", "runtime_s")
        typer.echo(json.dumps({"out": str(result.out), **{k: result.metrics.get(k) for k in keys}}))


def register(app: typer.Typer) -> None:
    """Add the ``pretrain`` and ``sft`` verbs to the top-level app."""

    @app.command("pretrain", context_settings=EXTRA_ARGS)
    @handle_errors
    def pretrain_cmd(ctx: typer.Context,
                     config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
                     launch: str | None = typer.Option(None, "--launch", help=_LAUNCH_HELP),
                     nproc: int | None = typer.Option(None, "--nproc", help=_NPROC_HELP)) -> None:
        """LoRA continued pretraining (causal-LM loss, packed blocks) on clinical text; writes out/pretrain/<name>.

        Overrides, e.g.: model.path=embedded|DIR  data.train=auto|FILE|DIR  data.max_seq_len=512  lora.r=8
        train.max_steps=100  train.grad_accum=2  train.resume=true  out=out/pretrain/mine
        """
        _run("cancerllm.train.pretrain", "PretrainConfig", config, list(ctx.args), launch, nproc)

    @app.command("sft", context_settings=EXTRA_ARGS)
    @handle_errors
    def sft_cmd(ctx: typer.Context, config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
                launch: str | None = typer.Option(None, "--launch", help=_LAUNCH_HELP),
                nproc: int | None = typer.Option(None, "--nproc", help=_NPROC_HELP)) -> None:
        """Multi-task instruction tuning (phenotypes + diagnosis), completion-only loss; writes out/sft/<name>.

        Overrides, e.g.: base_adapter=out/pretrain/embedded  tasks=phenotype,diagnosis  prompt_style=json.v1|qa.v1
        data.train=auto|NOTES.jsonl  lora.r=64  train.max_steps=80  out=out/sft/mine
        """
        _run("cancerllm.train.sft", "SFTConfig", config, list(ctx.args), launch, nproc)
