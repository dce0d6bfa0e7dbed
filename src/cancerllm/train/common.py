"""Plain helpers shared by the pretraining and SFT recipes: data sources, Trainer arguments, checkpoints, outputs.

No base class: each recipe (:mod:`~cancerllm.train.pretrain`, :mod:`~cancerllm.train.sft`) reads top to bottom and
calls these functions. Everything that writes files does so on the main process only, so the recipes also run
under ``accelerate launch --num_processes N``.

Example:
    >>> summarize_losses([(1, 3.0), (2, 2.5), (3, 2.0)])["train_loss_last"]
    2.0
    >>> perplexity(0.0)
    1.0
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.errors import ResourceError

__all__ = [
    "LossHistory",
    "RunResult",
    "is_main_process",
    "load_notes",
    "perplexity",
    "precision_flags",
    "resume_checkpoint",
    "summarize_losses",
    "trainer_kwargs",
    "write_run_folder",
]

log = logging.getLogger("cancerllm.train")


@dataclass
class RunResult:
    """What a recipe returns: the run folder and its metrics (the same dict as ``metrics.json``)."""

    out: Path
    metrics: dict[str, Any] = field(default_factory=dict)


def is_main_process() -> bool:
    """True on rank 0 (or without a distributed launcher); only it writes run files."""
    return int(os.environ.get("RANK", "0")) == 0


def load_notes(spec: str, split: str, synth_n: int = 400, seed: int = 0) -> tuple[list[Any], list[Path], str]:
    """Notes from a path, or ``"auto"``: the shared TCGA split when present, else synthetic notes.

    Args:
        spec: ``"auto"``, a .jsonl/.txt file or a folder of them.
        split: ``train`` or ``dev`` (used by ``auto`` only).
        synth_n: synthetic notes to generate when the shared data is absent (dev gets a tenth, at least 8).
    Returns:
        ``(notes, data_files, source)``: the files are hashed into ``meta.json``; source is a short description.
    """
    from cancerllm.data.io import read_notes

    if spec != "auto":
        bad: list[Any] = []
        notes = read_notes(spec, errors=bad)
        for err in bad[:5]:  # report broken records and train on the rest
            log.warning("skipped a bad record: %s", err)
        if bad:
            log.warning("skipped %d bad record(s) in %s", len(bad), spec)
        if not notes:
            raise ResourceError(f"data: {spec!r} holds no usable notes; give a JSONL of notes with 'id' and 'text'")
        p = Path(spec)
        files = sorted(f for f in p.iterdir() if f.suffix in (".txt", ".jsonl")) if p.is_dir() else [p]
        return notes, files, str(spec)
    try:
        from cancerllm.data.paths import dataset_dir
        from cancerllm.data.tcga import DATASET, SPLITS, load_tcga

        notes = load_tcga(split)
        return notes, [dataset_dir(DATASET) / SPLITS[split]], f"tcga_path_reports/{split}"
    except ResourceError as err:
        log.info("shared TCGA data not found (%s); using synthetic notes", str(err).split(";")[0])
    from cancerllm.data.synth import synthesize

    n = synth_n if split == "train" else max(8, synth_n // 10)
    # A different seed per split keeps the synthetic dev notes disjoint from the training notes.
    return synthesize(n, seed + (0 if split == "train" else 1)), [], f"synthetic(n={n}, seed={seed})"


def precision_flags(precision: str, device: str) -> tuple[dict[str, bool], str]:
    """Trainer autocast flags for ``train.precision`` on ``device``: ``({"bf16": .., "fp16": ..}, reason)``."""
    from cancerllm.runtime import resolve_dtype

    if precision == "fp32":
        return {"bf16": False, "fp16": False}, "asked: fp32"
    dtype, reason = resolve_dtype("bf16" if precision == "bf16" else "auto", device)
    name = str(dtype).split(".")[-1]
    # fp16 autocast (pre-Ampere GPUs) runs with Trainer's loss scaler; never on CPU (resolve_dtype refuses it).
    return {"bf16": name == "bfloat16", "fp16": name == "float16"}, f"autocast {name} ({reason})"


def trainer_kwargs(t: Any, out: Path, device: str, has_eval: bool) -> dict[str, Any]:
    """Keyword arguments for ``transformers.TrainingArguments`` / ``trl.SFTConfig`` from TrainArgs."""
    flags, reason = precision_flags(t.precision, device)
    log.info("training precision: %s", reason)
    return dict(
        output_dir=str(out / "checkpoints"), per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size, gradient_accumulation_steps=t.grad_accum, learning_rate=t.lr,
        max_steps=t.max_steps, num_train_epochs=t.epochs, warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay, max_grad_norm=t.max_grad_norm, lr_scheduler_type="linear",
        logging_steps=t.logging_steps, logging_first_step=True,
        eval_strategy="steps" if has_eval and t.eval_steps > 0 else "no", eval_steps=t.eval_steps or None,
        save_strategy="steps", save_steps=t.save_steps, save_total_limit=t.save_total_limit, seed=t.seed,
        data_seed=t.seed, use_cpu=device == "cpu", report_to="none", dataloader_num_workers=0,
        # LoRA leaves most parameters frozen but every adapter gets a gradient each step: no unused-param search.
        ddp_find_unused_parameters=False,
        ddp_backend="gloo" if device == "cpu" and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        **flags,
    )


def resume_checkpoint(out: Path, resume: bool) -> str | None:
    """Newest ``out/checkpoints/checkpoint-N`` when resuming; a fresh run first clears stale checkpoints."""
    from transformers.trainer_utils import get_last_checkpoint

    ckpt_dir = out / "checkpoints"
    last = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
    if resume:
        if last is None:
            log.warning("train.resume=true but %s holds no checkpoint; starting from scratch", ckpt_dir)
        else:
            log.info("resuming from %s", last)
        return last
    if last is not None and is_main_process():
        # A later resume must never pick up a checkpoint of an older, differently configured run.
        log.info("train.resume=false: removing previous checkpoints in %s", ckpt_dir)
        shutil.rmtree(ckpt_dir)
    return None


class LossHistory:
    """A ``TrainerCallback`` (duck-typed) collecting ``(step, loss)`` and ``(step, eval_loss)`` from the logs."""

    def __init__(self) -> None:
        self.train: list[tuple[int, float]] = []
        self.dev: list[tuple[int, float]] = []

    def __getattr__(self, name: str) -> Any:  # the other TrainerCallback events are no-ops
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kw: Any) -> None:
        logs = logs or {}
        if "loss" in logs:
            self.train.append((state.global_step, float(logs["loss"])))
        if "eval_loss" in logs:
            self.dev.append((state.global_step, float(logs["eval_loss"])))


def train_and_dev_loss(trainer: Any, history: LossHistory, out: Path, resume: bool
                       ) -> tuple[int, int, float, float | None]:
    """Train (resuming from the newest checkpoint when asked), then the final dev loss.

    Returns ``(steps, start_step, runtime_s, dev_loss)``; ``start_step`` > 0 after a resume, so throughput counts
    only the steps run in this process.
    """
    import time

    ckpt = resume_checkpoint(out, resume)
    t0 = time.perf_counter()
    trainer.train(resume_from_checkpoint=ckpt)
    runtime = time.perf_counter() - t0
    start_step = int(Path(ckpt).name.split("-")[-1]) if ckpt else 0
    steps = trainer.state.global_step
    dev_loss = None
    if trainer.eval_dataset is not None:  # the Trainer may already have evaluated at the last step: don't pay twice
        done = history.dev and history.dev[-1][0] == steps
        dev_loss = history.dev[-1][1] if done else trainer.evaluate()["eval_loss"]
    return steps, start_step, runtime, dev_loss


def perplexity(loss: float | None) -> float | None:
    """``exp(loss)``, capped to avoid overflow; None stays None."""
    return None if loss is None else math.exp(min(loss, 50.0))


def summarize_losses(curve: list[tuple[int, float]], max_points: int = 100) -> dict[str, Any]:
    """First/last/min train loss plus the curve thinned to at most ``max_points`` points."""
    if not curve:
        return {"train_loss_first": None, "train_loss_last": None, "train_loss_min": None, "train_loss_curve": []}
    stride = max(1, math.ceil(len(curve) / max_points))
    thin = curve[::stride] + ([curve[-1]] if (len(curve) - 1) % stride else [])
    return {"train_loss_first": curve[0][1], "train_loss_last": curve[-1][1],
            "train_loss_min": min(v for _, v in curve), "train_loss_curve": [[s, round(v, 5)] for s, v in thin]}


def write_run_folder(out: Path, model: Any, tokenizer: Any, cfg: Any, run_info: dict[str, Any],
                     metrics: dict[str, Any], data_files: list[Path], base_chain: list[Path] | None = None) -> None:
    """Write ``adapter/ tokenizer/ config.yaml meta.json metrics.json run.json`` (main process only).

    ``base_chain`` (adapters merged into the base before training) is copied into ``base_adapters/0..N-1`` so the
    run folder alone reproduces the trained model (see :func:`cancerllm.model.load.adapter_chain`).
    """
    if not is_main_process():
        return
    from cancerllm.config import save_config
    from cancerllm.runtime import write_run_meta

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out / "adapter"))
    shutil.rmtree(out / "base_adapters", ignore_errors=True)
    for i, src in enumerate(base_chain or []):
        shutil.copytree(src, out / "base_adapters" / str(i))
    tokenizer.save_pretrained(str(out / "tokenizer"))
    save_config(cfg, out)
    write_run_meta(out, data_files=data_files, run=run_info)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "run.json").write_text(json.dumps(run_info, indent=2))
    log.info("wrote %s (adapter/, tokenizer/, config.yaml, meta.json, metrics.json, run.json)", out)
