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
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.errors import ResourceError

__all__ = [
    "LossHistory",
    "RunResult",
    "checkpoint_problem",
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
    from cancerllm.data.io import note_files, read_notes
    from cancerllm.data.paths import DATA_SOURCES, notes_from_source

    if spec not in DATA_SOURCES:  # 'auto' / 'tcga' / 'synth' are resolved by data.paths (auto warns on fallback)
        bad: list[Any] = []
        notes = read_notes(spec, errors=bad)
        for err in bad[:5]:  # report broken records and train on the rest
            log.warning("skipped a bad record: %s", err)
        if bad:
            log.warning("skipped %d bad record(s) in %s", len(bad), spec)
        if not notes:
            raise ResourceError(f"data: {spec!r} holds no usable notes; give a JSONL of notes with 'id' and 'text'")
        p = Path(spec)
        files = note_files(p, warn=False) if p.is_dir() else [p]
        return notes, files, str(spec)
    return notes_from_source(spec, split, synth_n, seed)


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


def checkpoint_problem(folder: Path) -> str | None:
    """Why ``folder`` (a Trainer ``checkpoint-N``) cannot be resumed from, or None when it is complete.

    The Trainer writes weights, optimizer, scheduler and RNG state first and ``trainer_state.json`` last, so a
    process killed mid-write leaves a folder without it (or with a cut-short copy). Weights, optimizer and
    scheduler are required too: without them the Trainer would silently restart the optimizer, and a resumed run
    would no longer equal an uninterrupted one.

    Example:
        >>> checkpoint_problem(Path("/no/such/checkpoint-3"))
        'no trainer_state.json'
    """
    try:
        state = folder / "trainer_state.json"
        if not state.is_file():
            return "no trainer_state.json"
        try:
            json.loads(state.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return "trainer_state.json is not valid JSON (cut short)"
        if not any(_nonempty(folder / w) for w in ("adapter_model.safetensors", "model.safetensors")):
            return "no adapter_model.safetensors or model.safetensors"
        for name in ("optimizer.pt", "scheduler.pt"):
            if not _nonempty(folder / name):
                return f"no {name}"
    except OSError as err:  # e.g. set aside by the main process while another rank was looking
        return f"unreadable ({err.strerror or err})"
    return None


def _nonempty(f: Path) -> bool:
    return f.is_file() and f.stat().st_size > 0


def _checkpoints_newest_first(ckpt_dir: Path) -> list[Path]:
    if not ckpt_dir.is_dir():
        return []
    found = [d for d in ckpt_dir.iterdir() if _CHECKPOINT.match(d.name) and d.is_dir()]
    return sorted(found, key=lambda d: int(d.name.split("-")[1]), reverse=True)


_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")  # the Trainer's own folder pattern


def resume_checkpoint(out: Path, resume: bool) -> str | None:
    """The newest *complete* ``out/checkpoints/checkpoint-N`` when resuming; a fresh run clears old checkpoints.

    Incomplete checkpoints newer than the one chosen (a kill -9 during a save) are logged with the reason and moved
    to ``checkpoints/torn/`` by the main process, so the Trainer neither writes into them nor keeps one of them
    instead of a good checkpoint when it rotates (``save_total_limit``).
    """
    ckpt_dir = out / "checkpoints"
    found = _checkpoints_newest_first(ckpt_dir)
    if not resume:
        if ckpt_dir.is_dir() and any(ckpt_dir.iterdir()) and is_main_process():
            # A later resume must never pick up a checkpoint of an older, differently configured run.
            log.info("train.resume=false: removing previous checkpoints in %s", ckpt_dir)
            shutil.rmtree(ckpt_dir)
        return None
    chosen, torn = None, []
    for d in found:  # newest first: stop at the first complete one
        problem = checkpoint_problem(d)
        if problem is None:
            chosen = d
            break
        log.warning("skipping incomplete checkpoint %s: %s", d.name, problem)
        torn.append(d)
    if torn and is_main_process():
        for d in torn:
            target = ckpt_dir / "torn" / d.name
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(exist_ok=True)
            d.rename(target)
        log.info("moved %d incomplete checkpoint(s) to %s", len(torn), ckpt_dir / "torn")
    if chosen is None:
        log.warning("train.resume=true but %s holds no complete checkpoint; starting from scratch", ckpt_dir)
        return None
    log.info("resuming from %s (the newest complete checkpoint%s)", chosen,
             f"; skipped {', '.join(d.name for d in torn)}" if torn else "")
    return str(chosen)


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
