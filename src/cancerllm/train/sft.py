"""``cancerllm sft``: multi-task instruction tuning (phenotype extraction + diagnosis) with TRL, top to bottom.

Phases: build (config, base model with the pretraining adapter merged, fresh LoRA, prompt/completion examples) ->
loop (TRL ``SFTTrainer``) -> save -> report.

**On top of the pretraining adapter: merge (in fp32), then add a new LoRA.** ``base_adapter`` (a pretraining run
folder or adapter) is merged into the base weights and a fresh SFT adapter (paper: r=64, alpha=16, dropout 0.1) is
trained on top. Why this and not "load the pretraining adapter trainable and keep training it":

* the two stages want different adapter shapes (r=8 for pretraining, r=64 for SFT); one adapter cannot be both;
* the domain knowledge from continued pretraining stays frozen, so a small instruction set cannot wash it out
  (and SFT's higher-rank update is the only thing that moves);
* inference applies the same chain (pretraining adapter, then the SFT adapter), and the SFT run folder copies
  the pretraining adapter into ``base_adapters/0`` so ``--run out/sft/x`` alone rebuilds the model.
The merge happens in **fp32 weights** (``load_model`` loads fp32 when a base adapter is given and ``model.dtype`` is
auto, and refuses an explicit bf16): a LoRA update of ~0.1% of a weight is below bf16 resolution and merging into
bf16 weights erased most of it. ``train.precision=auto`` still trains with bf16 autocast for speed; like any bf16
forward pass that blurs updates this small, merged or not, so use ``train.precision=fp32`` when that matters.
On a 4-bit base PEFT re-quantizes after merging, which adds rounding noise of the order of the 4-bit quantization.

Examples come from :func:`cancerllm.data.instruct.build_examples` as prompt/completion pairs, tokenized here
(``input_ids`` + ``completion_mask``) with the prompt ids inference uses, so TRL puts the loss on completion tokens
only and the prompt tokens equal the served ones (one BOS; the chat-``messages`` format cannot mask the prompt with
SmolLM2's template, which lacks generation markers). Long notes are windowed into ``max_prompt_tokens`` chunks exactly as inference does;
an example still longer than ``data.max_seq_len`` is dropped and counted rather than silently truncated.

Example:
    >>> from cancerllm.config import load_config
    >>> cfg = load_config(SFTConfig, overrides=["tasks=diagnosis"])
    >>> cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.tasks
    (64, 16, 0.1, ['diagnosis'])
    >>> load_config(SFTConfig, overrides=["tasks=staging"]).tasks
    Traceback (most recent call last):
    ...
    cancerllm.errors.ConfigError: 1 configuration problem(s):
      - tasks: got ['staging'], expected a subset of ['phenotype', 'diagnosis', 'trial']
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.config import DataArgs, LoRAArgs, ModelArgs, TrainArgs
from cancerllm.errors import ResourceError
from cancerllm.train.common import RunResult

__all__ = ["SFTConfig", "build_records", "run"]

log = logging.getLogger("cancerllm.train")


@dataclass
class SFTConfig:
    """``cancerllm sft`` settings; any field can be set as ``--section.key=value`` (top-level: ``--tasks=...``)."""

    model: ModelArgs = field(default_factory=ModelArgs)
    lora: LoRAArgs = field(default_factory=lambda: LoRAArgs(r=64, alpha=16, dropout=0.1))
    """Paper SFT adapter: r=64, alpha=16, dropout 0.1 (all linear layers)."""
    data: DataArgs = field(default_factory=DataArgs)
    train: TrainArgs = field(default_factory=TrainArgs)
    base_adapter: str | None = None
    """Pretraining run folder (or adapter folder) merged into the (fp32) base before the SFT adapter is added."""
    tasks: list[str] = field(default_factory=lambda: ["phenotype", "diagnosis"])
    prompt_style: str = "json.v1"
    """'json.v1' (all entities in one JSON answer) or 'qa.v1' (the paper's per-entity Alpaca questions)."""
    max_prompt_tokens: int | None = None
    """Prompt budget (template + note chunk); None = 3/4 of data.max_seq_len, leaving the rest for the answer."""
    out: str = "out/sft/default"

    def validate(self) -> list[str]:
        from cancerllm.data.schema import TASKS
        from cancerllm.registry import prompt_styles

        problems = []
        if not self.tasks or not set(self.tasks) <= set(TASKS):
            problems.append(f"tasks: got {self.tasks}, expected a subset of {list(TASKS)}")
        import cancerllm.data.prompts  # noqa: F401  (registers the prompt styles)

        if self.prompt_style not in prompt_styles:
            problems.append(f"prompt_style: got {self.prompt_style!r}, expected one of {prompt_styles.names()}")
        if self.base_adapter and self.model.adapter:
            problems.append("base_adapter and model.adapter are both set; give the pretraining run as --base_adapter")
        if self.base_adapter and self.model.dtype in ("bf16", "fp16") and self.model.quantize != "4bit":
            # Merging the pretraining adapter into half-precision weights erases updates below their resolution.
            problems.append(f"model.dtype: got {self.model.dtype!r} with base_adapter set; use 'auto' or 'fp32' (the "
                            "pretraining adapter is merged in fp32; train.precision still gives bf16 autocast)")
        if self.max_prompt_tokens is not None and self.max_prompt_tokens >= self.data.max_seq_len:
            problems.append(f"max_prompt_tokens: got {self.max_prompt_tokens}, expected < data.max_seq_len "
                            f"({self.data.max_seq_len}) to leave room for the answer")
        return problems

    @property
    def prompt_budget(self) -> int:
        return self.max_prompt_tokens or (3 * self.data.max_seq_len) // 4


def build_records(notes: list[Any], cfg: SFTConfig, tok: Any, types: list[str], cap: int | None,
                  split: str) -> list[dict[str, list[int]]]:
    """Tokenized examples for TRL (``input_ids``, ``completion_mask``); drops (and counts) those too long.

    Tokenized here, not by TRL: TRL tokenizes a prompt string with special tokens, which put a second BOS after the
    one a Mistral/Llama chat template writes (and one in front of an Alpaca prompt that inference did not add). The
    prompt ids come from :func:`cancerllm.data.instruct.prompt_token_ids`, the function inference uses; the
    completion follows with the EOS the model must learn to stop on, and only it carries the loss.
    """
    from cancerllm.data.instruct import build_examples, prompt_token_ids

    examples = build_examples(notes, style=cfg.prompt_style, tokenizer=tok, tasks=cfg.tasks, types=types,
                              max_prompt_tokens=cfg.prompt_budget, seed=cfg.train.seed)
    pairs = []
    for e in examples:
        prompt = prompt_token_ids(tok, e.prompt)
        answer = tok(e.completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        pairs.append((e.task, {"input_ids": prompt + answer, "completion_mask": [0] * len(prompt) + [1] * len(answer)}))
    kept = [(t, r) for t, r in pairs if len(r["input_ids"]) <= cfg.data.max_seq_len]
    if len(kept) < len(pairs):
        log.warning("%s: dropped %d of %d examples longer than data.max_seq_len=%d tokens (raise it, or lower "
                    "max_prompt_tokens)", split, len(pairs) - len(kept), len(pairs), cfg.data.max_seq_len)
    if cap is not None and len(kept) > cap:
        log.info("%s: using %d of %d examples (cap)", split, cap, len(kept))
        kept = random.Random(cfg.train.seed).sample(kept, cap)
    by_task = {t: sum(task == t for task, _ in kept) for t in cfg.tasks}
    log.info("%s: %d examples %s", split, len(kept), by_task)
    return [r for _, r in kept]


def run(cfg: SFTConfig) -> RunResult:
    """Instruction-tune a LoRA adapter on both tasks and write the run folder (see module docstring)."""
    from datasets import Dataset
    from trl import SFTConfig as TrlConfig
    from trl import SFTTrainer

    from cancerllm.data.instruct import annotated_types
    from cancerllm.model.load import adapter_chain, load_model
    from cancerllm.model.lora import attach_lora, trainable_parameters
    from cancerllm.runtime import seed_everything
    from cancerllm.train import common

    # ---- build: notes, then the base with the pretraining adapter merged (in fp32 weights), then the fresh SFT LoRA
    out = Path(cfg.out)
    seed_everything(cfg.train.seed)
    notes, files, source = common.load_notes(cfg.data.train, "train", cfg.data.synth_n, cfg.train.seed)
    dev_notes: list[Any] = []
    if cfg.data.dev is not None or cfg.data.train in ("auto", "tcga", "synth"):  # a source word brings its dev split
        dev_notes, dev_files, _ = common.load_notes(cfg.data.dev or cfg.data.train, "dev", cfg.data.synth_n,
                                                    cfg.train.seed)
        files += dev_files
    elif len(notes) >= 2:  # hold out whole notes so no dev report was trained on
        dev_notes, notes = notes[::10], [n for i, n in enumerate(notes) if i % 10]
    types = annotated_types(notes) if "phenotype" in cfg.tasks else []
    log.info("sft data %s: %d train / %d dev notes; entity types %s", source, len(notes), len(dev_notes), types)

    chain = adapter_chain(cfg.base_adapter)
    model, tok, info = load_model(dataclasses.replace(cfg.model, adapter=cfg.base_adapter), for_training=True)
    model = attach_lora(model, cfg.lora, cfg.train.gradient_checkpointing)
    train_records = build_records(notes, cfg, tok, types, cfg.data.max_examples, "train")
    dev_records = build_records(dev_notes, cfg, tok, types, cfg.data.max_dev_examples, "dev") if dev_notes else []
    if not train_records:
        raise ResourceError(f"sft: no training example fits data.max_seq_len={cfg.data.max_seq_len} for tasks "
                            f"{cfg.tasks}; raise --data.max_seq_len or check the notes carry gold labels")
    train_ds = Dataset.from_list(train_records)
    dev_ds = Dataset.from_list(dev_records) if dev_records else None

    args = TrlConfig(**common.trainer_kwargs(cfg.train, out, info["device"], dev_ds is not None),
                     max_length=cfg.data.max_seq_len, completion_only_loss=True, packing=False)
    history = common.LossHistory()
    trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=dev_ds, processing_class=tok,
                         callbacks=[history])

    # ---- loop
    steps, start_step, runtime, dev_loss = common.train_and_dev_loss(trainer, history, out, cfg.train.resume)

    # ---- report: dev loss is on completion tokens only, so its perplexity is the answer's, not the note's
    mean_len = sum(len(x) for x in trainer.train_dataset["input_ids"]) / max(1, len(trainer.train_dataset))
    seqs = (steps - start_step) * cfg.train.batch_size * cfg.train.grad_accum * args.world_size
    n_train, _ = trainable_parameters(model)
    metrics: dict[str, Any] = {
        **common.summarize_losses(history.train), "dev_loss": dev_loss, "perplexity": common.perplexity(dev_loss),
        "dev_curve": history.dev, "steps": steps, "resumed_from_step": start_step, "runtime_s": round(runtime, 2),
        "steps_per_s": round((steps - start_step) / runtime, 4),
        "tokens_per_s": round(seqs * mean_len / runtime, 1), "mean_example_tokens": round(mean_len, 1),
        "train_examples": len(train_records), "dev_examples": len(dev_records), "world_size": args.world_size,
        "trainable_params": n_train, "device": info["device"], "dtype": info["dtype"],
        "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
    }
    log.info("sft done: %d steps, train loss %s -> %s, dev loss %s, %.0f tokens/s", steps,
             metrics["train_loss_first"], metrics["train_loss_last"], dev_loss, metrics["tokens_per_s"])

    # ---- save
    run_info = {"kind": "sft", "base_model": cfg.model.path, "base_adapter": cfg.base_adapter,
                "prompt_style": cfg.prompt_style, "tasks": list(cfg.tasks), "types": types,
                "max_prompt_tokens": cfg.prompt_budget, "max_seq_len": cfg.data.max_seq_len, "data": source}
    common.write_run_folder(out, trainer.model, tok, cfg, run_info, metrics, files, base_chain=chain)
    return RunResult(out=out, metrics=metrics)
