"""The ``extract`` / ``diagnose`` recipe: read notes, predict, write one JSONL record per note, report.

Output folder (``out``): ``predictions.jsonl``, ``config.yaml`` (resolved), ``meta.json`` (versions, hardware,
input hash) and ``summary.json`` (counts, failures, timing, tokens/s). Without ``out`` the records are printed.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cancerllm.config import GenerateArgs, ModelArgs, save_config
from cancerllm.errors import ConfigError

__all__ = ["ExtractConfig", "run", "load_predictor"]

log = logging.getLogger(__name__)


@dataclass
class ExtractConfig:
    input: str = ""
    """A .txt note, a folder of .txt/.jsonl files, or a Note JSONL file."""
    out: str | None = None
    """Output folder; None prints JSONL records to stdout."""
    task: Literal["phenotype", "diagnosis"] = "phenotype"
    run: str | None = None
    """A training run folder (sft/pretrain): its base model, adapter, prompt style and entity types are used."""
    model: ModelArgs = field(default_factory=ModelArgs)
    generate: GenerateArgs = field(default_factory=GenerateArgs)
    types: list[str] | None = None
    """Entity types to ask for; default = the run's trained types, else every schema type."""
    index: str | None = None
    """A RAG index folder (cancerllm rag index); enables retrieved examples in the prompt."""
    retriever: str | None = None
    """Optional check: the retriever the index must have been built with."""
    k: int = 0
    """Retrieved examples per prompt (needs --index)."""
    limit: int | None = None
    """Only the first N notes (for quick looks); logged."""
    seed: int = 0

    def validate(self) -> list[str]:
        problems = []  # `input` may be absent from a shipped YAML: the command line gives it (checked in run)
        if self.k > 0 and not self.index:
            problems.append(f"k: got {self.k} retrieved examples but no --index; build one with `cancerllm rag index`")
        if self.k < 0:
            problems.append(f"k: got {self.k}, expected >= 0")
        from cancerllm.data.phenotypes import type_problems

        return problems + type_problems(self.types)


def load_predictor(cfg: ExtractConfig) -> Any:
    """Load the model (base + adapters of ``cfg.run``) and build a Predictor."""
    from cancerllm.infer.predictor import Predictor
    from cancerllm.model.load import load_model, model_args_for_run, read_run

    style, types, model_args = cfg.generate.prompt_style, cfg.types, cfg.model
    if cfg.run:
        info = read_run(cfg.run)
        model_args = model_args_for_run(cfg.run, cfg.model)
        style = info.get("prompt_style") or style
        types = types or info.get("types")
    model, tok, minfo = load_model(model_args)
    retriever = None
    if cfg.index:
        from cancerllm.rag.pipeline import load_retriever

        retriever = load_retriever(cfg.index)
        built_with = getattr(retriever, "name", None)
        if cfg.retriever and built_with and cfg.retriever.split(".")[0] != str(built_with).split(".")[0]:
            raise ConfigError(f"retriever: got {cfg.retriever!r} but index {cfg.index!r} was built with "
                              f"{built_with!r}; rebuild the index or drop --retriever")
    gen = GenerateArgs(**{**cfg.generate.__dict__, "prompt_style": style})
    return Predictor(model, tok, style=style, types=types, gen=gen, retriever=retriever, k=cfg.k, info=minfo)


def run(cfg: ExtractConfig, predictor: Any = None) -> dict[str, Any]:
    """Predict every note of ``cfg.input``; returns the summary (also written to ``summary.json``)."""
    from cancerllm.data.io import read_notes, write_jsonl
    from cancerllm.runtime import seed_everything, write_run_meta

    seed_everything(cfg.seed)
    if not cfg.input:
        raise ConfigError("input: missing; give a .txt file, a folder or a Note JSONL file")
    bad: list = []
    notes = read_notes(cfg.input, errors=bad)
    for err in bad:  # broken input records are reported (by file:line) and skipped; the rest is processed
        log.warning("skipped input record: %s", err)
    if cfg.limit is not None and len(notes) > cfg.limit:
        log.info("--limit %d: predicting %d of %d notes", cfg.limit, cfg.limit, len(notes))
        notes = notes[:cfg.limit]
    predictor = predictor or load_predictor(cfg)
    t0 = time.perf_counter()
    preds = predictor.predict(notes, cfg.task, progress=cfg.out is not None)
    seconds = time.perf_counter() - t0
    summary = {
        "task": cfg.task, "notes": len(notes), "input_errors": [str(e) for e in bad],
        "notes_with_errors": sum(1 for p in preds if p.errors),
        "mentions": sum(len(p.mentions) for p in preds), "seconds": round(seconds, 2),
        "notes_per_s": round(len(notes) / seconds, 3) if seconds else None,
        "generation": predictor.stats.as_dict(), "model": predictor.info,
        "prompt_style": predictor.style_name, "types": predictor.types, "k": cfg.k,
    }
    if cfg.out is None:
        for p in preds:
            print(p.model_dump_json())
        return summary
    out = Path(cfg.out)
    write_jsonl(preds, out / "predictions.jsonl")
    save_config(cfg, out)
    write_run_meta(out, data_files=[cfg.input] if Path(cfg.input).is_file() else [], task=cfg.task)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
