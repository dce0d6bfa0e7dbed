"""``cancerllm demo``: the main job, end to end on the embedded model, on CPU.

1. prepare the embedded model (SmolLM2-135M-Instruct, converted once to a cached safetensors folder);
2. a short LoRA continued pretraining on pathology reports (causal-LM loss);
3. a short multi-task SFT (phenotypes + diagnosis) on top of the pretraining adapter;
4. extract and diagnose held-out reports with the untouched model (zero-shot) and the trained one;
5. label the same reports with ``cancerllm classify`` (evidence first, calibrated heads; fitted on the same
   training notes) and with the regex and TF-IDF baselines;
6. score all of them with ``cancerllm evaluate`` and print one table with every path written.

Data: the TCGA pathology reports in ``../shared/data`` when present (train split for training, test split for the
held-out reports), else the bundled synthetic generator, so the demo runs on any fresh clone. The step counts are
sized for ~15 minutes on 2 CPU cores; they are a demonstration, not a converged model.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cancerllm.config import (
    MIN_PROMPT_TOKENS,
    DataArgs,
    GenerateArgs,
    LoRAArgs,
    ModelArgs,
    TrainArgs,
    at_least,
    fraction,
    save_config,
)

__all__ = ["DemoConfig", "run"]

log = logging.getLogger("cancerllm.demo")


@dataclass
class DemoConfig:
    out: str = "out/demo"
    data: Literal["auto", "tcga", "synth"] = "auto"
    """'tcga' = the shared TCGA reports (an error when absent); 'synth' = synthetic notes; 'auto' = TCGA when
    present, else synthetic notes with a WARNING."""
    n_train: int = 400
    """Training notes sampled (seeded) from the train split."""
    n_eval: int = 12
    """Held-out notes scored for the before/after table."""
    n_dev: int = 100
    """Dev notes (seeded sample of the dev split) on which the classifier's confidences are calibrated."""
    pretrain_steps: int = 8
    sft_steps: int = 40
    """SFT steps of 4 examples. 40 rather than 48 (until 2026-12-01) keeps the whole demo under 15 minutes on a slow
    sitting of 2 cores: SFT took 431-676 s at 48 steps across sittings, the demo 9-15 min; the loss curve is flat
    after step 40 (0.216 -> 0.204 at step 48)."""
    lora_dropout: float = 0.0
    """LoRA dropout of both training stages. 0, not the paper's 0.05 / 0.1: the demo sees each example at most once
    (SFT 40 x 4 of ~1,070 examples), where dropout regularises nothing, and PEFT draws a fresh mask before every
    adapted layer (210 per forward pass), which made an SFT step ~1.5x as slow on 2 CPU cores (2026-12-01, one run:
    6 demo SFT steps took 76.9 and 79.7 s at 0.1, 52.9 s at 0; r=8 instead of 64 changed nothing, 77.1 s)."""
    sft_lr: float = 1e-3
    """Higher than the paper's 2e-4: with alpha/r = 16/64 the update is scaled by 0.25, and 48 steps at 2e-4 barely
    move the model (measured: the answers keep the base model's wording)."""
    max_seq_len: int = 448
    """Tokens per training block and per SFT example (prompt + answer)."""
    max_prompt_tokens: int = 384
    """Prompt budget at training and inference alike; long reports are chunked to fit (nothing is cut)."""
    max_new_tokens: int = 56
    """Phenotype answer cap (three stage mentions take ~50 tokens); diagnosis answers are capped at 32."""
    batch_size: int = 8
    seed: int = 0
    model: ModelArgs = field(default_factory=ModelArgs)

    def validate(self) -> list[str]:
        problems = []
        for name in ("n_train", "n_eval", "n_dev", "pretrain_steps", "sft_steps", "max_new_tokens", "batch_size"):
            problems += at_least(name, getattr(self, name), 1)
        problems += at_least("max_seq_len", self.max_seq_len, MIN_PROMPT_TOKENS + 8)
        problems += at_least("max_prompt_tokens", self.max_prompt_tokens, MIN_PROMPT_TOKENS)
        if self.max_prompt_tokens >= self.max_seq_len:
            problems.append(f"max_prompt_tokens: got {self.max_prompt_tokens}, expected < max_seq_len "
                            f"({self.max_seq_len}) to leave room for the answer")
        problems += fraction("lora_dropout", self.lora_dropout)
        if not self.sft_lr > 0:
            problems.append(f"sft_lr: got {self.sft_lr}, expected > 0")
        return problems + at_least("seed", self.seed, 0)


def _load_data(cfg: DemoConfig) -> tuple[list[Any], list[Any], list[Any], str]:
    """(train notes, dev notes for calibration, held-out notes, source description)."""
    from cancerllm.errors import ResourceError

    rng = random.Random(cfg.seed)
    if cfg.data != "synth":
        try:
            from cancerllm.data.corpora.tcga import load_tcga

            train, dev, test = load_tcga("train"), load_tcga("dev"), load_tcga("test")
            # Held-out reports with a gold T label, so every scored row has stage and type gold.
            test = [n for n in test if n.labels.get("t_stage")]
            # Train on reports whose labels the text supports (evidence spans), plus some without, so the model
            # also learns to answer with an empty list.
            with_ev = [n for n in train if n.mentions]
            without = [n for n in train if not n.mentions]
            k = min(len(with_ev), int(cfg.n_train * 0.75))
            picked = rng.sample(with_ev, k) + rng.sample(without, min(len(without), cfg.n_train - k))
            return (picked, rng.sample(dev, min(cfg.n_dev, len(dev))), rng.sample(test, min(cfg.n_eval, len(test))),
                    "TCGA pathology reports (shared data)")
        except ResourceError as err:
            if cfg.data == "tcga":
                raise ResourceError(f"data: 'tcga' needs the shared TCGA reports, not found ({err}); "
                                    "or choose data=synth for synthetic notes") from None
            log.warning("data=auto: shared TCGA reports not found (%s); the demo uses SYNTHETIC notes. Choose "
                        "explicitly with data=synth, or require the real reports with data=tcga",
                        str(err).split(";")[0])
    from cancerllm.data.synth import synthesize

    # The generator's patient split is ~81/10/9 train/dev/test: make enough notes for every requested count.
    notes = synthesize(cfg.n_train * 2 + 12 * (cfg.n_dev + cfg.n_eval), cfg.seed)
    train = [n for n in notes if n.split == "train"][:cfg.n_train]
    dev = [n for n in notes if n.split == "dev"][:cfg.n_dev]
    test = [n for n in notes if n.split == "test"][:cfg.n_eval]
    return train, dev, test, "synthetic notes (cancerllm data synth)"


def _predict(run_dir: str | None, cfg: DemoConfig, gold: Path, out: Path, types: list[str]) -> tuple[dict, float]:
    """Extract + diagnose the held-out notes with one model; return (evaluate metrics, seconds)."""
    from cancerllm.evaluate.run import evaluate
    from cancerllm.infer.extract import ExtractConfig, load_predictor
    from cancerllm.infer.extract import run as run_extract
    from cancerllm.infer.generate import GenerationStats

    gen = GenerateArgs(max_new_tokens=cfg.max_new_tokens, batch_size=cfg.batch_size,
                       max_prompt_tokens=cfg.max_prompt_tokens)
    t0 = time.perf_counter()
    base = ExtractConfig(input=str(gold), run=run_dir, model=cfg.model, generate=gen, types=types)
    predictor = load_predictor(base)
    for task in ("phenotype", "diagnosis"):
        # A diagnosis answer is ~20 tokens; a lower cap stops a rambling zero-shot model early.
        predictor.gen.max_new_tokens = cfg.max_new_tokens if task == "phenotype" else min(32, cfg.max_new_tokens)
        # One predictor serves both tasks; fresh counters so each summary.json counts only its own generations.
        predictor.stats = GenerationStats()
        sub = ExtractConfig(**{**base.__dict__, "task": task, "out": str(out / task)})
        run_extract(sub, predictor=predictor)
    seconds = time.perf_counter() - t0
    merged = out / "predictions.jsonl"
    merged.write_text("".join((out / t / "predictions.jsonl").read_text() for t in ("phenotype", "diagnosis")))
    return evaluate(merged, gold, out=out / "eval", task="all", bootstrap=1000, seed=cfg.seed), seconds


def _classify_and_baselines(cfg: DemoConfig, train_file: Path, dev_file: Path, gold: Path,
                            out: Path) -> tuple[list[tuple[str, dict]], float]:
    """The document-level classifier and the two baselines on the held-out notes: [(row name, metrics)], seconds."""
    from cancerllm.classify.recipe import ClassifyConfig
    from cancerllm.classify.recipe import run as run_classify
    from cancerllm.evaluate.baselines import run_baseline
    from cancerllm.evaluate.run import evaluate

    t0 = time.perf_counter()
    # Same training notes as the LLM; 3 folds and 60 boosting rounds: a few hundred notes, sized for the demo.
    ccfg = ClassifyConfig(train=str(train_file), dev=str(dev_file), predict=[str(gold)], hard=False,
                          out=str(out / "classify"), folds=3, trees=60, seed=cfg.seed)
    written = run_classify(ccfg)["written"]
    rows = [("classifier (evidence + calibrated heads)",
             evaluate(written[gold.stem], gold, out=out / "classify" / "eval", task="all", bootstrap=1000,
                      seed=cfg.seed))]
    for name, label in (("regex", "regex baseline (stated TNM, else majority)"),
                        ("tfidf", "TF-IDF + logistic regression")):
        pred = run_baseline(name, train_file, gold, out / "baselines" / f"{name}.jsonl")
        rows.append((label, evaluate(pred, gold, out=out / "baselines" / f"{name}_eval", task="all",
                                     bootstrap=1000, seed=cfg.seed)))
    return rows, time.perf_counter() - t0


def _out_of_the_box(gold: Path, out: Path) -> str:
    """``cancerllm extract`` as a newcomer runs it, without a trained run: the grounded rule extractor, with the
    demo's classifier for document labels; returns one line saying what it found."""
    from collections import Counter

    from cancerllm.infer.extract import ExtractConfig
    from cancerllm.infer.extract import run as run_extract

    folder = out / "extract_rules"
    run_extract(ExtractConfig(input=str(gold), out=str(folder), method="auto", labels=str(out / "classify")))
    recs = [json.loads(line) for line in (folder / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    kinds = Counter(m["type"] for r in recs for m in r["mentions"])
    sources = Counter(s["source"] for r in recs for s in r["meta"].get("label_sources", {}).values())
    return (f"`cancerllm extract NOTES --labels {out / 'classify'}` (no --run: grounded rule extractor + classifier): "
            f"{sum(kinds.values())} mentions in {len(recs)} notes, every one with its span "
            f"({', '.join(f'{k} {v}' for k, v in kinds.most_common(6))}); document labels "
            f"{sources.get('evidence', 0)} read from a span, {sources.get('inferred', 0)} inferred with a probability.")


def _row(name: str, m: dict) -> dict[str, Any]:
    cls = m.get("classification", {})

    def acc(k: str) -> float | None:
        return cls.get(k, {}).get("accuracy")

    return {"model": name, "T acc": acc("t_stage"), "N acc": acc("n_stage"), "M acc": acc("m_stage"),
            "cancer type acc": acc("cancer_type"), "ICD-10 category acc": acc("icd10_category"),
            "outputs with errors": m.get("predictions_with_errors")}


def _cell(v: Any) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _table(rows: list[dict[str, Any]]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def _stage_configs(cfg: DemoConfig, out: Path, train_file: Path) -> tuple[Any, Any]:
    """The continued-pretraining and SFT configs the demo runs (SFT on top of the pretraining run's adapter)."""
    from cancerllm.train import pretrain, sft

    pt_cfg = pretrain.PretrainConfig(
        model=cfg.model, lora=LoRAArgs(dropout=cfg.lora_dropout), out=str(out / "pretrain"),
        data=DataArgs(train=str(train_file), max_seq_len=cfg.max_seq_len, max_dev_examples=8),
        train=TrainArgs(max_steps=cfg.pretrain_steps, batch_size=2, grad_accum=1, logging_steps=2,
                        eval_steps=10_000, save_steps=10_000, seed=cfg.seed))
    sft_cfg = sft.SFTConfig(
        model=cfg.model, base_adapter=pt_cfg.out, out=str(out / "sft"),
        lora=LoRAArgs(r=64, alpha=16, dropout=cfg.lora_dropout), tasks=["phenotype", "diagnosis"],
        prompt_style="json.v1", max_prompt_tokens=cfg.max_prompt_tokens,
        data=DataArgs(train=str(train_file), max_seq_len=cfg.max_seq_len, max_dev_examples=16),
        train=TrainArgs(max_steps=cfg.sft_steps, batch_size=4, grad_accum=1, lr=cfg.sft_lr, logging_steps=8,
                        eval_steps=10_000, save_steps=10_000, seed=cfg.seed))
    return pt_cfg, sft_cfg


def run(cfg: DemoConfig) -> dict[str, Any]:
    """Run the whole demo; returns the summary written to ``out/summary.json``."""
    from cancerllm.data.instruct import annotated_types
    from cancerllm.data.io import write_jsonl
    from cancerllm.model.load import embedded_model_dir
    from cancerllm.runtime import seed_everything, write_run_meta
    from cancerllm.train import pretrain, sft

    t_start = time.perf_counter()
    seed_everything(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    if cfg.model.path == "embedded":
        embedded_model_dir()
    timings["prepare model"] = time.perf_counter() - t0

    train, dev, held_out, source = _load_data(cfg)
    types = annotated_types(train) or ["stage_t", "stage_n", "stage_m"]
    data_dir = out / "data"
    train_file = write_jsonl(train, data_dir / "train.jsonl")
    gold_file = write_jsonl(held_out, data_dir / "held_out.jsonl")
    dev_file = write_jsonl(dev, data_dir / "dev.jsonl")
    log.info("demo data: %s; %d training notes, %d held-out notes, types %s", source, len(train), len(held_out), types)

    pt_cfg, sft_cfg = _stage_configs(cfg, out, train_file)
    t0 = time.perf_counter()
    pt = pretrain.run(pt_cfg)
    timings["pretrain"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ft = sft.run(sft_cfg)
    timings["sft"] = time.perf_counter() - t0

    zs_metrics, timings["zero-shot inference"] = _predict(None, cfg, gold_file, out / "zero_shot", types)
    ft_metrics, timings["trained inference"] = _predict(str(ft.out), cfg, gold_file, out / "trained", types)

    others, timings["classifier + baselines"] = _classify_and_baselines(cfg, train_file, dev_file, gold_file, out)
    t0 = time.perf_counter()
    box = _out_of_the_box(gold_file, out)
    timings["extract without --run"] = time.perf_counter() - t0
    rows = [_row("zero-shot (embedded)", zs_metrics), _row("trained (pretrain + SFT)", ft_metrics)]
    rows += [_row(name, m) for name, m in others]
    table = _table(rows)
    timings["total"] = time.perf_counter() - t_start
    summary = {"source": source, "n_train": len(train), "n_held_out": len(held_out), "types": types, "rows": rows,
               "timings_s": {k: round(v, 1) for k, v in timings.items()},
               "pretrain": pt.metrics, "sft": ft.metrics,
               "paths": {"pretrain run": str(pt.out), "sft run": str(ft.out),
                         "zero-shot report": str(out / "zero_shot" / "eval" / "report.html"),
                         "trained report": str(out / "trained" / "eval" / "report.html"),
                         "classifier run": str(out / "classify"),
                         "extract without --run": str(out / "extract_rules" / "predictions.jsonl"),
                         "held-out gold": str(gold_file), "summary": str(out / "summary.md")}}
    lines = ["# CancerLLM demo\n", f"Data: {source}; {len(train)} training notes, {len(held_out)} held-out notes.",
             f"Types extracted: {', '.join(types)}.\n", table, "",
             box, "",
             "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()), "",
             "Written:"] + [f"- {k}: {v}" for k, v in summary["paths"].items()]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    write_run_meta(out, data_files=[train_file, gold_file], kind="demo")
    return summary
