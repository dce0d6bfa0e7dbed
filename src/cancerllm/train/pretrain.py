"""``cancerllm pretrain``: LoRA continued pretraining (causal-LM loss) on clinical text, top to bottom.

Phases: build (config, model + LoRA, packed blocks) -> loop (transformers ``Trainer``) -> save -> report.

Why ``Trainer`` and not a hand-written loop: it gives gradient accumulation with correct per-token loss
normalisation, checkpoints that carry optimizer, scheduler, RNG and data-order state (so resume equals an
uninterrupted run), a progress bar, and runs unchanged under ``accelerate launch`` (DDP, gloo on CPU). Those are
exactly the parts that silently break in a home-made loop; the invariant tests in ``tests/train`` pin them.

Data: documents are tokenized, joined with an EOS token between them and cut into blocks of ``data.max_seq_len``
tokens (the paper packs 3,000-token blocks). Every token is a target, EOS included; the tail shorter than a block is
dropped and logged. Dev loss comes from ``data.dev`` (or the TCGA dev split with ``data.train=auto``); with an
explicit training file and no dev file, every 20th document is held out.

Paper defaults: LoRA r=8, alpha=16, dropout 0.05 on all linear layers, lr 2e-4, warmup 0.05, weight decay 0.01.

Example:
    >>> from cancerllm.config import load_config
    >>> cfg = load_config(PretrainConfig, overrides=["data.max_seq_len=256"])
    >>> cfg.lora.r, cfg.lora.alpha, cfg.data.max_seq_len
    (8, 16, 256)
    >>> pack([[1, 2, 3], [4, 5, 6]], eos_id=0, block=3)
    ([[1, 2, 3], [0, 4, 5]], 1)
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.config import DataArgs, LoRAArgs, ModelArgs, TrainArgs
from cancerllm.errors import ConfigError, ResourceError
from cancerllm.train.common import RunResult

__all__ = ["PretrainConfig", "pack", "read_texts", "run"]

log = logging.getLogger("cancerllm.train")


@dataclass
class PretrainConfig:
    """``cancerllm pretrain`` settings; any field can be set as ``--section.key=value``."""

    model: ModelArgs = field(default_factory=ModelArgs)
    lora: LoRAArgs = field(default_factory=LoRAArgs)
    """Paper: r=8, alpha=16, dropout 0.05, all linear layers."""
    data: DataArgs = field(default_factory=DataArgs)
    train: TrainArgs = field(default_factory=TrainArgs)
    out: str = "out/pretrain/default"
    """Run folder: adapter/, tokenizer/, checkpoints/, config.yaml, meta.json, metrics.json, run.json."""

    def validate(self) -> list[str]:
        return [] if self.data.max_seq_len >= 8 else [
            f"data.max_seq_len: got {self.data.max_seq_len}, expected >= 8 tokens per packed block"]


def read_texts(spec: str, split: str, synth_n: int, seed: int) -> tuple[list[str], list[Path], str]:
    """Documents for pretraining: ``auto`` (TCGA / synthetic notes), a .txt, a JSONL with a ``text`` field, a folder.

    A .txt file is one document; a JSONL line needs only ``text`` (an ``id`` is optional, unlike note files).
    """
    from cancerllm.data.io import iter_jsonl_dicts, note_files
    from cancerllm.data.paths import DATA_SOURCES
    from cancerllm.errors import DataFormatError
    from cancerllm.train.common import load_notes

    if spec in DATA_SOURCES:  # auto / tcga / synth
        notes, files, source = load_notes(spec, split, synth_n, seed)
        return [n.text for n in notes], files, source
    p = Path(spec)
    if not p.exists():
        raise ResourceError(f"data.train/dev: {spec!r} does not exist; give a .txt, a .jsonl with a 'text' field, "
                            "a folder of them, or auto/tcga/synth")
    files = note_files(p) if p.is_dir() else [p]
    texts: list[str] = []
    bad: list[DataFormatError] = []
    for f in files:
        if f.suffix.lower() == ".txt":
            texts.append(f.read_text(encoding="utf-8", errors="replace"))
            continue
        for line, obj in iter_jsonl_dicts(f, errors=bad):
            if not isinstance(obj.get("text"), str):
                bad.append(DataFormatError("missing or not a string", path=f, line=line, field="text",
                                           doc_id=obj.get("id")))
                continue
            texts.append(obj["text"])
    # One broken record must not stop a long run, nor vanish: each is named (file:line, field), the rest is used.
    for err in bad:
        log.warning("pretraining data: skipped: %s", err)
    if bad:
        log.warning("pretraining data: %d bad record(s) skipped in %s, %d document(s) read", len(bad), spec,
                    len(texts))
    if not any(t.strip() for t in texts):
        raise ResourceError(f"data: {spec!r} holds no text; give .txt files or JSONL lines with a 'text' field")
    return texts, files, str(spec)


def pack(token_lists: list[list[int]], eos_id: int, block: int) -> tuple[list[list[int]], int]:
    """Concatenate documents with ``eos_id`` between them and cut into ``block``-token rows.

    Returns:
        ``(blocks, dropped_tokens)``: the tail shorter than a block is dropped (and counted, never silently).
    """
    stream: list[int] = []
    for i, ids in enumerate(token_lists):
        if i:
            stream.append(eos_id)  # EOS separates documents so the model learns where a report ends
        stream.extend(ids)
    n = len(stream) // block
    return [stream[i * block:(i + 1) * block] for i in range(n)], len(stream) - n * block


def _blocks(texts: list[str], tok: Any, block: int) -> list[list[int]]:
    ids = tok(texts, add_special_tokens=False)["input_ids"]
    blocks, dropped = pack(ids, tok.eos_token_id, block)
    if not blocks:
        raise ConfigError(f"data.max_seq_len={block}: the corpus has only {dropped} tokens, less than one block; "
                          "lower --data.max_seq_len or give more text")
    if dropped:
        log.info("packing: %d blocks of %d tokens; dropped a %d-token tail", len(blocks), block, dropped)
    return blocks


def run(cfg: PretrainConfig) -> RunResult:
    """Train a LoRA adapter with the causal-LM loss and write the run folder (see module docstring)."""
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments, default_data_collator

    from cancerllm.model.load import adapter_chain, load_model
    from cancerllm.model.lora import attach_lora, trainable_parameters
    from cancerllm.runtime import seed_everything
    from cancerllm.train import common

    # ---- build: data first (cheap failures before the model load), then model + fresh LoRA
    out = Path(cfg.out)
    seed_everything(cfg.train.seed)
    texts, files, source = read_texts(cfg.data.train, "train", cfg.data.synth_n, cfg.train.seed)
    if cfg.data.dev is not None or cfg.data.train in ("auto", "tcga", "synth"):  # a source word brings its dev split
        dev_texts, dev_files, _ = read_texts(cfg.data.dev or cfg.data.train, "dev", cfg.data.synth_n, cfg.train.seed)
        files += dev_files
    else:  # hold out whole documents (not blocks) so no dev text was seen in training
        dev_texts = texts[::20] if len(texts) >= 2 else []
        texts = [t for i, t in enumerate(texts) if i % 20] if len(texts) >= 2 else texts
    log.info("pretraining corpus %s: %d train / %d dev documents", source, len(texts), len(dev_texts))

    model, tok, info = load_model(cfg.model, for_training=True)
    model = attach_lora(model, cfg.lora, cfg.train.gradient_checkpointing)
    block = cfg.data.max_seq_len
    train_blocks = _blocks(texts, tok, block)
    if cfg.data.max_examples is not None and len(train_blocks) > cfg.data.max_examples:
        log.info("data.max_examples=%d: using %d of %d blocks", cfg.data.max_examples, cfg.data.max_examples,
                 len(train_blocks))
        train_blocks = random.Random(cfg.train.seed).sample(train_blocks, cfg.data.max_examples)
    dev_blocks = _blocks(dev_texts, tok, block)[: cfg.data.max_dev_examples] if dev_texts else []
    # labels == input_ids: the model shifts them itself; nothing is padding, so nothing is masked (not even EOS,
    # which a pad-masking collator would hide because SmolLM2's pad token *is* its EOS token).
    train_ds = Dataset.from_dict({"input_ids": train_blocks, "labels": train_blocks})
    dev_ds = Dataset.from_dict({"input_ids": dev_blocks, "labels": dev_blocks}) if dev_blocks else None

    args = TrainingArguments(**common.trainer_kwargs(cfg.train, out, info["device"], dev_ds is not None),
                             label_names=["labels"])
    history = common.LossHistory()
    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=dev_ds,
                      data_collator=default_data_collator, callbacks=[history])

    # ---- loop
    steps, start_step, runtime, dev_loss = common.train_and_dev_loss(trainer, history, out, cfg.train.resume)

    # ---- report: dev loss / perplexity on the final adapter, throughput of the steps run in this process
    tokens = (steps - start_step) * cfg.train.batch_size * cfg.train.grad_accum * args.world_size * block
    n_train, _ = trainable_parameters(model)
    metrics: dict[str, Any] = {
        **common.summarize_losses(history.train), "dev_loss": dev_loss, "perplexity": common.perplexity(dev_loss),
        "dev_curve": history.dev, "steps": steps, "resumed_from_step": start_step, "runtime_s": round(runtime, 2),
        "steps_per_s": round((steps - start_step) / runtime, 4), "tokens_per_s": round(tokens / runtime, 1),
        "train_blocks": len(train_blocks), "dev_blocks": len(dev_blocks), "block_size": block,
        "world_size": args.world_size, "trainable_params": n_train, "device": info["device"],
        "dtype": info["dtype"], "precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32",
    }
    log.info("pretrain done: %d steps, train loss %s -> %s, dev loss %s (ppl %s), %.0f tokens/s", steps,
             metrics["train_loss_first"], metrics["train_loss_last"], dev_loss, metrics["perplexity"],
             metrics["tokens_per_s"])

    # ---- save
    chain = adapter_chain(cfg.model.adapter)
    run_info = {"kind": "pretrain", "base_model": cfg.model.path, "base_adapter": cfg.model.adapter,
                "prompt_style": None, "tasks": [], "types": [], "max_seq_len": block, "data": source}
    common.write_run_folder(out, model, tok, cfg, run_info, metrics, files, base_chain=chain)
    return RunResult(out=out, metrics=metrics)
