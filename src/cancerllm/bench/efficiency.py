"""``cancerllm bench``: inference (and optionally LoRA training) efficiency, measured the same way every time.

Recipe, top to bottom: build (threads, notes) -> for each dtype: load the model, then for each task x batch size:
warm up, repeat, measure -> optional training throughput -> report (``bench.json``, ``bench.md``, ``config.yaml``,
``meta.json`` in ``<out_root>/<name>/``).

What one measurement means:

* a *call* is ``Predictor.predict`` on ``batch_size`` notes (prompts are also generated ``batch_size`` at a time);
  its wall time is the latency every note of that call waits for its record. ``latency_ms`` summarises calls
  (p50/p90/mean with a 95% bootstrap CI of the mean); ``per_note_ms`` is that time divided by the notes in the call.
* ``notes_per_s`` = notes / summed call time, with a bootstrap CI that resamples calls.
* ``prompt_tokens_per_s`` / ``new_tokens_per_s``: tokens read / generated per second of end-to-end ``predict`` time
  (chunking, prompt rendering and parsing included); ``generate_fraction`` says how much of it was ``generate``.
* ``peak_rss_mib``: the highest resident set size sampled during that configuration (the process already holds
  the model, so it is the serving footprint, not the increment).

Timings on a shared machine are only comparable within one run, so ``bench.md`` gives ratios to the first
configuration. The machine load average is recorded before and after.

Example:
    >>> from cancerllm.config import load_config
    >>> cfg = load_config(BenchConfig, overrides=["batch_sizes=[1,4]", "dtypes=fp32"])
    >>> cfg.batch_sizes, cfg.dtypes, cfg.tasks
    ([1, 4], ['fp32'], ['phenotype', 'diagnosis'])
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cancerllm.config import GenerateArgs, ModelArgs, save_config

__all__ = ["BenchConfig", "NamedOutput", "measure_inference", "run"]

log = logging.getLogger("cancerllm.bench")


class NamedOutput:
    """For bench configs: ``out`` = ``out_root/name``, and the check that ``name`` is a plain folder name."""

    name: str
    out_root: str

    def name_problems(self) -> list[str]:
        if "/" in self.name or not self.name:
            return [f"name: got {self.name!r}, expected a plain folder name (no '/')"]
        return []

    @property
    def out(self) -> Path:
        return Path(self.out_root) / self.name


@dataclass
class BenchConfig(NamedOutput):
    """``cancerllm bench`` settings; any field can be set as ``key=value`` or ``section.key=value``."""

    name: str = "default"
    """Results go to ``<out_root>/<name>/``."""
    out_root: str = "out/bench"
    run: str | None = None
    """A training run folder (sft/pretrain): its base model, adapters, prompt style and types are benchmarked."""
    model: ModelArgs = field(default_factory=ModelArgs)
    """Base model; ``model.dtype`` is ignored (``dtypes`` lists the ones to measure)."""
    generate: GenerateArgs = field(default_factory=GenerateArgs)
    """Decoding settings; ``generate.batch_size`` is replaced by each of ``batch_sizes``."""
    types: list[str] | None = None
    """Entity types to ask for; default = the run's types, else every schema type."""
    tasks: list[Literal["phenotype", "diagnosis"]] = field(default_factory=lambda: ["phenotype", "diagnosis"])
    input: str | None = None
    """A Note JSONL file (or .txt / folder); None = synthetic notes from ``cancerllm.data.synth``."""
    n_notes: int = 8
    """Notes per repeat (the first N of ``input``)."""
    synth_seed: int = 0
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8])
    """Notes per predict call (and prompts per forward pass). Bigger raises throughput, costs latency and memory."""
    dtypes: list[Literal["bf16", "fp32", "fp16"]] = field(default_factory=lambda: ["bf16", "fp32"])
    warmup: int = 1
    """Untimed calls before each configuration (first calls pay for kernel selection and allocator growth)."""
    repeats: int = 2
    """Timed passes over all notes per configuration."""
    threads: int | None = None
    """torch intra-op threads; None = every core of this machine. Recorded in the output."""
    n_boot: int = 1000
    """Bootstrap resamples for the 95% intervals."""
    seed: int = 0
    train: bool = False
    """Also measure LoRA training throughput (a few ``cancerllm pretrain`` steps)."""
    train_steps: int = 5
    train_seq_len: int = 128
    train_batch_size: int = 2

    def validate(self) -> list[str]:
        from cancerllm.knowledge.phenotypes import type_problems

        problems = []
        for key in ("n_notes", "repeats", "n_boot", "train_steps", "train_batch_size"):
            if getattr(self, key) < 1:
                problems.append(f"{key}: got {getattr(self, key)}, expected >= 1")
        if self.warmup < 0:
            problems.append(f"warmup: got {self.warmup}, expected >= 0 calls")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            problems.append(f"batch_sizes: got {self.batch_sizes}, expected a non-empty list of integers >= 1")
        if not self.dtypes:
            problems.append("dtypes: empty, expected e.g. dtypes=bf16,fp32")
        if not self.tasks:
            problems.append("tasks: empty, expected phenotype and/or diagnosis")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads: got {self.threads}, expected >= 1 or null (= all cores)")
        if self.train_seq_len < 8:
            problems.append(f"train_seq_len: got {self.train_seq_len}, expected >= 8 tokens")
        return problems + type_problems(self.types) + self.name_problems()


def _notes(cfg: BenchConfig) -> tuple[list[Any], dict[str, Any]]:
    """The benchmark notes and a description of where they came from (no note text)."""
    if cfg.input:
        from cancerllm.data.io import read_notes_reporting
        from cancerllm.runtime import sha256_file

        notes = read_notes_reporting(cfg.input, "bench input")[: cfg.n_notes]
        source = {"input": cfg.input, "sha256": sha256_file(cfg.input)}
    else:
        from cancerllm.data.synth import synthesize

        notes = synthesize(cfg.n_notes, cfg.synth_seed)
        source = {"input": f"synthetic (cancerllm.data.synth, seed {cfg.synth_seed})"}
    chars = [len(n.text) for n in notes]
    return notes, {**source, "notes": len(notes), "chars_mean": round(sum(chars) / max(len(chars), 1), 1),
                   "chars_max": max(chars, default=0)}


def measure_inference(predictor: Any, notes: list[Any], task: str, batch_size: int, warmup: int, repeats: int,
                      n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Time ``predictor.predict`` on ``notes`` in calls of ``batch_size`` notes (see the module docstring).

    Args:
        predictor: a :class:`~cancerllm.infer.predictor.Predictor`; its ``gen.batch_size`` is set here.
        notes: the notes of one pass.
        task: ``phenotype`` or ``diagnosis``.
        batch_size: notes per call and prompts per forward pass.
        warmup: untimed calls first (cycling through the notes).
        repeats: timed passes over every note.
    Returns:
        A result row: latency/throughput/token rates/peak RSS plus counts of notes with errors.
    """
    from cancerllm.bench.stats import RssSampler, ratio_ci, summarize
    from cancerllm.infer.generate import GenerationStats

    predictor.gen = dataclasses.replace(predictor.gen, batch_size=batch_size)
    calls = [notes[i:i + batch_size] for i in range(0, len(notes), batch_size)]
    for i in range(warmup):  # results discarded: these calls pay one-off costs the timed ones should not
        predictor.predict(calls[i % len(calls)], task)
    predictor.stats = GenerationStats()
    seconds: list[float] = []
    sizes: list[int] = []
    with_errors = 0
    with RssSampler() as rss:
        for _ in range(repeats):
            for call in calls:
                t0 = time.perf_counter()
                preds = predictor.predict(call, task)
                seconds.append(time.perf_counter() - t0)
                sizes.append(len(call))
                with_errors += sum(1 for p in preds if p.errors)
    total = sum(seconds)
    st = predictor.stats
    lo, hi = ratio_ci(sizes, seconds, n_boot, seed)
    return {
        "task": task, "batch_size": batch_size, "notes": len(notes), "repeats": repeats, "warmup": warmup,
        "calls": len(seconds), "seconds": round(total, 3),
        "latency_ms": summarize([s * 1000 for s in seconds], n_boot, seed),
        "per_note_ms": summarize([s * 1000 / n for s, n in zip(seconds, sizes)], n_boot, seed),
        "notes_per_s": round(sum(sizes) / total, 4), "notes_per_s_ci95": [round(lo, 4), round(hi, 4)],
        "prompts": st.prompts, "prompt_tokens": st.prompt_tokens, "new_tokens": st.new_tokens,
        "prompt_tokens_per_s": round(st.prompt_tokens / total, 1), "new_tokens_per_s": round(st.new_tokens / total, 1),
        "generate_fraction": round(st.seconds / total, 3),
        "peak_rss_mib": round(rss.peak_mib, 1), "notes_with_errors": with_errors,
    }


def _load(cfg: BenchConfig, dtype: str) -> tuple[Any, float, float]:
    """Predictor for ``dtype`` (through the same loader as ``cancerllm extract``), load seconds, peak RSS."""
    from cancerllm.bench.stats import RssSampler
    from cancerllm.infer.extract import ExtractConfig, load_predictor

    ecfg = ExtractConfig(input="-", run=cfg.run, model=dataclasses.replace(cfg.model, dtype=dtype),
                         generate=cfg.generate, types=cfg.types)
    with RssSampler() as rss:
        t0 = time.perf_counter()
        predictor = load_predictor(ecfg)
        seconds = time.perf_counter() - t0
    return predictor, seconds, rss.peak_mib


def run(cfg: BenchConfig) -> dict[str, Any]:
    """Run every configuration and write the report; returns the ``bench.json`` content."""
    import torch

    from cancerllm.bench.report import markdown, summary_line
    from cancerllm.runtime import offline_env, seed_everything, write_run_meta

    # ---- build: threads are set explicitly (torch's default depends on the machine and on OMP_NUM_THREADS)
    offline_env()
    seed_everything(cfg.seed)
    threads = cfg.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    load_before = [round(x, 2) for x in os.getloadavg()]
    notes, source = _notes(cfg)
    log.info("bench %s: %d notes, tasks %s, batch sizes %s, dtypes %s, %d thread(s)", cfg.name, len(notes),
             cfg.tasks, cfg.batch_sizes, cfg.dtypes, threads)

    # Libraries are imported before the first timed load, so load_s compares dtypes, not import order.
    t0 = time.perf_counter()
    import transformers  # noqa: F401
    from transformers import AutoModelForCausalLM  # noqa: F401

    import_s = time.perf_counter() - t0

    # ---- loop: one model load per dtype, then every task x batch size on it
    loads, rows = [], []
    for dtype in cfg.dtypes:
        predictor, load_s, load_rss = _load(cfg, dtype)
        loads.append({"dtype": dtype, "load_s": round(load_s, 3), "peak_rss_mib": round(load_rss, 1),
                      "model": predictor.info})
        for task in cfg.tasks:
            for b in cfg.batch_sizes:
                row = measure_inference(predictor, notes, task, b, cfg.warmup, cfg.repeats, cfg.n_boot, cfg.seed)
                rows.append({"dtype": dtype, "threads": torch.get_num_threads(), **row})
                log.info("%s %s batch %d: %.3f notes/s, p50 %.0f ms", dtype, task, b, row["notes_per_s"],
                         row["latency_ms"]["p50"])
        del predictor  # the next dtype's weights should not share memory with this one's
        gc.collect()
    training = None
    if cfg.train:
        try:
            training = _train_throughput(cfg, threads)
        except Exception as err:  # noqa: BLE001 - a failed training probe must not discard the inference numbers
            log.warning("training throughput failed: %s: %s", type(err).__name__, err)
            training = {"error": f"{type(err).__name__}: {str(err)[:300]}"}

    # ---- report
    out = cfg.out
    meta = json.loads(write_run_meta(out, data_files=[cfg.input] if cfg.input else [], kind="bench").read_text())
    result = {
        "name": cfg.name, "kind": "bench", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": meta.get("commit"), "hardware": meta.get("hardware"), "versions": meta.get("versions"),
        "threads": {"intra_op": threads, "inter_op": torch.get_num_interop_threads(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")},
        "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
        "input": source, "config": _config_dict(cfg), "import_s": round(import_s, 3), "loads": loads, "inference": rows, "training": training,
        "definitions": _DEFINITIONS,
    }
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    (out / "bench.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "bench.md").write_text(markdown(result))
    result["summary"] = summary_line(result)
    return result


_DEFINITIONS = {
    "call": "one Predictor.predict on batch_size notes; prompts are generated batch_size at a time",
    "latency_ms": "wall time of a call (what each note of the call waits), summarised over calls",
    "per_note_ms": "call wall time / notes in the call",
    "notes_per_s": "notes / summed call time; ci95 resamples calls (bootstrap of the ratio)",
    "tokens_per_s": "prompt or generated tokens / end-to-end predict time (not generate time alone)",
    "generate_fraction": "share of predict time spent inside model.generate",
    "peak_rss_mib": "highest process RSS sampled every 20 ms during the configuration (model included)",
    "load_s": "from_pretrained + move to device (+ adapters), after transformers is imported (import_s); a later "
              "load of the same files reads them from the OS page cache",
    "ratios": "bench.md divides each row by the first row of its table (same process, same machine state)",
}


def _config_dict(cfg: BenchConfig) -> dict[str, Any]:
    from cancerllm.config import to_dict

    return to_dict(cfg)


def _train_throughput(cfg: BenchConfig, threads: int) -> dict[str, Any]:
    """A few LoRA continued-pretraining steps through the real recipe: steps/s, tokens/s, peak RSS."""
    from cancerllm.bench.stats import RssSampler
    from cancerllm.config import DataArgs, TrainArgs
    from cancerllm.data.io import write_jsonl
    from cancerllm.data.synth import synthesize
    from cancerllm.train.pretrain import PretrainConfig
    from cancerllm.train.pretrain import run as pretrain

    work = cfg.out / "train"
    # Synthetic notes fixed by the seed, so two bench runs train on the same blocks; a separate dev file (one block
    # is evaluated) because a held-out short note may not fill a single block.
    corpus = write_jsonl(synthesize(max(cfg.n_notes, 20), cfg.synth_seed), work / "corpus.jsonl")
    dev = write_jsonl(synthesize(8, cfg.synth_seed + 1), work / "dev.jsonl")
    steps = cfg.train_steps
    pcfg = PretrainConfig(
        model=dataclasses.replace(cfg.model, dtype="auto", adapter=None),
        data=DataArgs(train=str(corpus), dev=str(dev), max_seq_len=cfg.train_seq_len,
                      max_examples=steps * cfg.train_batch_size, max_dev_examples=1),
        train=TrainArgs(max_steps=steps, batch_size=cfg.train_batch_size, logging_steps=1, eval_steps=0,
                        save_steps=steps, save_total_limit=1, seed=cfg.seed),
        out=str(work / "run"))
    with RssSampler() as rss:
        t0 = time.perf_counter()
        result = pretrain(pcfg)
        wall = time.perf_counter() - t0
    m = result.metrics
    return {"recipe": "pretrain (LoRA r=8, all-linear)", "steps": m["steps"], "batch_size": cfg.train_batch_size,
            "seq_len": cfg.train_seq_len, "precision": m["precision"], "threads": threads,
            "train_runtime_s": m["runtime_s"], "steps_per_s": m["steps_per_s"], "tokens_per_s": m["tokens_per_s"],
            "wall_s_with_load": round(wall, 2), "peak_rss_mib": round(rss.peak_mib, 1),
            "trainable_params": m["trainable_params"], "train_loss_first": m.get("train_loss_first"),
            "train_loss_last": m.get("train_loss_last")}
