"""Batched greedy generation with left padding, returning only the new text of each prompt.

Prompts are tokenized by :func:`cancerllm.data.instruct.prompt_token_ids`, the function SFT builds its training
examples with, so the model sees the same tokens (one BOS, where the tokenizer puts it) it was trained on.
Prompts are sorted by token length before batching so each batch pads little (measured: batch 8 in bf16 gives
~3.5x the tokens/s of batch 1 on 2 CPU cores); results come back in the caller's order. A batch also holds at most
``max_batch_tokens`` padded prompt tokens (rows x longest prompt): prefill activations and the KV cache grow with
that product, so the budget bounds peak memory whatever ``batch_size`` and the prompt lengths are (issue 13, 1 GB);
a prompt longer than the budget gets a batch of its own. After each batch the freed heap is handed back to the OS
(:func:`release_memory`), so one long batch does not raise the resident size of everything after it. Left padding keeps greedy
output identical to unbatched decoding (checked in tests). With ``schema``, every prompt's generation is constrained
to that JSON schema (guided decoding, :mod:`cancerllm.infer.guided`); the grammar processor only sees generated
tokens, so batching stays exact under guidance too.

Example:
    >>> token_batches([400, 10, 300, 20], batch_size=8, max_batch_tokens=700)
    [[1, 3], [2], [0]]
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_BATCH_TOKENS", "GenerationCancelled", "GenerationStats", "generate", "release_memory",
           "token_batches"]

DEFAULT_BATCH_TOKENS = 2048
"""Padded prompt tokens per batch (2 prompts of ~1,000 tokens, 5 of 384). Measured on the embedded model (bf16, 1
thread, 4 TCGA json.v1 prompts of ~800 tokens, 96 new tokens): a 4,096 cap (batches of 4) peaked 897 MiB, 2,048
811 MiB for 5% more CPU time, 1,024 755 MiB for 85% more; batches of 4 x ~1,000 tokens reached 1,136 MiB."""


class GenerationCancelled(Exception):
    """Raised by a wrapped model when the caller stopped generation (a request timeout, a client gone).

    The Predictor lets it through untouched: a cancelled batch must not be retried note by note, and its
    half-generated outputs must never become records."""


@dataclass
class GenerationStats:
    """Counters for efficiency reports (prompt and new tokens, wall time)."""

    prompts: int = 0
    prompt_tokens: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    batches: int = 0
    per_batch_seconds: list[float] = field(default_factory=list)

    def add_batch(self, prompts: int, prompt_tokens: int, new_tokens: int, seconds: float) -> None:
        """Count one decoded batch (every engine reports through this)."""
        self.prompts += prompts
        self.prompt_tokens += prompt_tokens
        self.new_tokens += new_tokens
        self.seconds += seconds
        self.batches += 1
        self.per_batch_seconds.append(seconds)

    def as_dict(self) -> dict[str, Any]:
        tps = self.new_tokens / self.seconds if self.seconds else 0.0
        return {"prompts": self.prompts, "prompt_tokens": self.prompt_tokens, "new_tokens": self.new_tokens,
                "seconds": round(self.seconds, 3), "new_tokens_per_s": round(tps, 2), "batches": self.batches}


def token_batches(lengths: list[int], batch_size: int, max_batch_tokens: int | None = None) -> list[list[int]]:
    """Group prompt indices into batches: shortest first, at most ``batch_size`` rows, and at most
    ``max_batch_tokens`` padded tokens (rows x the batch's longest prompt; None = no token cap). A prompt longer
    than the cap alone forms a batch of one (it must still be decoded)."""
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda j: lengths[j]):
        # Sorted ascending, so prompt i is the longest of the batch it would join: the padded size is rows x its length.
        if cur and (len(cur) == batch_size or (max_batch_tokens and (len(cur) + 1) * lengths[i] > max_batch_tokens)):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS, Windows); looked up once."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


def release_memory() -> None:
    """Hand freed heap pages back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Why: glibc keeps freed blocks below its mmap threshold (which grows up to 32 MiB as tensors are freed) in the
    heap, so a batch's activations would stay resident after it finishes; measured here, trimming after a batch
    of 4 x 800 tokens returns ~110 MiB. It costs well under a millisecond next to a batch of seconds.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def generate(model: Any, tokenizer: Any, prompts: list[str], max_new_tokens: int = 128, batch_size: int = 8,
             stats: GenerationStats | None = None, progress: Callable[[int], None] | None = None,
             schema: dict[str, Any] | None = None, max_batch_tokens: int | None = DEFAULT_BATCH_TOKENS) -> list[str]:
    """Greedy-decode every prompt; returns the generated continuations (special tokens removed).

    Args:
        model: a causal LM (PEFT-wrapped or plain) already on its device, or an engine model with
            ``engine_name`` and ``generate_prompts`` (:class:`cancerllm.infer.vllm_engine.VLLMModel`) that gets
            these same arguments.
        tokenizer: its tokenizer; ``padding_side`` is forced to "left" here.
        prompts: fully rendered prompt strings (chat template already applied).
        max_new_tokens: generation cap; a generation that hits it is likely cut (callers repair or report).
        batch_size: prompts per forward pass (at most).
        max_batch_tokens: padded prompt tokens per batch (at most; see :func:`token_batches`); None = no cap.
        stats: optional counters to fill.
        progress: called with the number of prompts finished after each batch.
        schema: a JSON schema every output must follow (guided decoding; needs the ``guided`` extra). None
            decodes unconstrained.
    """
    if getattr(model, "engine_name", "hf") != "hf":  # another engine (infer.vllm_engine) decodes the same prompts
        return model.generate_prompts(tokenizer, prompts, max_new_tokens, batch_size, stats, progress, schema)
    import torch

    from cancerllm.data.instruct import prompt_token_ids

    tokenizer.padding_side = "left"
    out: list[str] = [""] * len(prompts)
    # Token ids exactly as in training (tokenizing is ~1 ms a prompt, nothing next to decoding it).
    all_ids = [prompt_token_ids(tokenizer, p) for p in prompts]
    device = next(model.parameters()).device
    for idx in token_batches([len(x) for x in all_ids], batch_size, max_batch_tokens):
        # Left-padded into one batch.
        ids = [all_ids[i] for i in idx]
        enc = tokenizer.pad({"input_ids": ids}, padding=True, return_tensors="pt")
        enc = {k: v.to(device) for k, v in enc.items()}
        t0 = time.perf_counter()
        extra = {}
        if schema is not None:  # a fresh processor per batch: its grammar matchers hold per-row state
            from cancerllm.infer.guided import logits_processor

            extra["logits_processor"] = logits_processor(model, tokenizer, schema, max_new_tokens)
        with torch.inference_mode():
            gen = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, **extra)
        dt = time.perf_counter() - t0
        new = gen[:, enc["input_ids"].shape[1]:]
        for row, i in enumerate(idx):
            out[i] = tokenizer.decode(new[row], skip_special_tokens=True)
        if stats is not None:
            pad = tokenizer.pad_token_id
            stats.add_batch(len(idx), int(enc["attention_mask"].sum()),
                            int((new != pad).sum()) if pad is not None else int(new.numel()), dt)
        del gen, new, enc  # the batch's last tensors, before the heap is trimmed
        release_memory()
        if progress is not None:
            progress(len(idx))
    return out
