"""The ``extract`` / ``diagnose`` recipe: read notes lazily, predict, append one JSONL record per note, report.

Output folder (``out``): ``predictions.jsonl``, ``config.yaml`` (resolved), ``meta.json`` (versions, hardware,
input hash) and ``summary.json`` (counts, failures, timing, tokens/s). Without ``out`` the records are printed.

Nothing is all-or-nothing:

* the output folder is created and probed before the model loads (``--out /dev/null/x`` fails at once);
* notes are read lazily and predicted a window at a time; each record is appended and flushed as its note
  finishes, so a run killed late keeps everything done so far;
* rerunning with the same ``--out`` skips the notes already written (matched by id, counting repeats, so
  duplicate ids stay exact) and redoes a note whose line was cut by the kill; records made with other settings
  or another model are moved aside (``predictions.jsonl.prev``) instead of being mixed with new ones;
* a bad input line, an empty note, or a note whose generation fails costs that line or note only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Literal

from cancerllm.config import GenerateArgs, ModelArgs, save_config
from cancerllm.errors import ConfigError, DataFormatError, ResourceError

__all__ = ["ExtractConfig", "load_predictor", "read_done_ids", "run"]

log = logging.getLogger(__name__)

PREDICTIONS = "predictions.jsonl"
_RESUME_FREE = ("limit", "window")  # settings that may change between an interrupted run and its resumption


@dataclass
class ExtractConfig:
    input: str = ""
    """A .txt note, a folder of .txt/.jsonl/.json files, or a Note JSONL file (read lazily, any size)."""
    out: str | None = None
    """Output folder; records are appended as notes finish and a rerun resumes. None prints JSONL to stdout."""
    task: Literal["phenotype", "diagnosis"] = "phenotype"
    run: str | None = None
    """A training run folder (sft/pretrain): its base model, adapter, prompt style and entity types are used."""
    method: Literal["auto", "llm", "rules", "scoring"] = "llm"
    """llm = the language model (the run's, else ``model``); rules = the grounded knowledge extractor, no model
    (:mod:`cancerllm.infer.rules`); scoring = T/N/M read where stated, the rest by closed-set scoring with the
    language model, no generation (:mod:`cancerllm.infer.closed_set`); auto (the ``cancerllm extract`` default) =
    rules when nothing trained or chosen is given (no ``run``, the embedded base model, no adapter: it writes no
    usable JSON), else llm."""
    labels: str | None = None
    """A ``cancerllm classify`` output folder: its calibrated heads add document labels (T/N/M, cancer type) with
    their source, evidence span or inferred probability, to the rules method. Default: the one ``make model``
    builds (``$CANCERLLM_CACHE/classify/default``) when present."""
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
    """Only the first N valid notes (>= 1; unset = all), for quick looks; logged."""
    window: int = 0
    """Notes predicted together before their records are written (0 = 4 x generate.batch_size). Larger fills
    batches and sorts prompts by length better (32 TCGA notes at batch 8, 2 cores: 150-180 s vs 300 s with 8);
    smaller writes records sooner, so a kill loses less work."""
    seed: int = 0

    def validate(self) -> list[str]:
        problems = []  # `input` may be absent from a shipped YAML: the command line gives it (checked in run)
        if self.k > 0 and not self.index:
            problems.append(f"k: got {self.k} retrieved examples but no --index; build one with `cancerllm rag index`")
        if self.k < 0:
            problems.append(f"k: got {self.k}, expected >= 0")
        if self.method == "scoring" and self.task != "phenotype":
            problems.append(f"method: scoring labels T/N/M (task phenotype); got task {self.task!r}")
        if self.window < 0:
            problems.append(f"window: got {self.window}, expected >= 1 notes, or 0 for 4 x generate.batch_size")
        if self.limit is not None and self.limit < 1:
            problems.append(f"limit: got {self.limit}, expected a number of notes >= 1 (or leave --limit unset "
                            "for all notes)")
        from cancerllm.knowledge.phenotypes import type_problems

        return problems + type_problems(self.types)


def resolved_method(cfg: ExtractConfig) -> str:
    """``llm`` or ``rules`` (``auto`` = llm with a run, a model or adapter, or a language-model engine other than the
    default ``hf`` chosen; rules without)."""
    if cfg.method != "auto":
        return cfg.method
    chosen = cfg.run or cfg.model.adapter or cfg.model.path != ModelArgs().path or cfg.generate.engine != "hf"
    return "llm" if chosen else "rules"


def default_labels() -> Path:
    """Where ``make model`` puts the default document labeller (a ``cancerllm classify`` output folder)."""
    from cancerllm.model.load import cache_root

    return cache_root() / "classify" / "default"


def resolved_labels(cfg: ExtractConfig) -> str | None:
    """The classify folder the rules method labels with: ``cfg.labels``, else ``make model``'s default when built."""
    if cfg.labels is not None or resolved_method(cfg) != "rules":
        return cfg.labels
    return str(default_labels()) if (default_labels() / "model.joblib").is_file() else None


def load_predictor(cfg: ExtractConfig) -> Any:
    """Load the model (base + adapters of ``cfg.run``) and build a Predictor (or the rule extractor)."""
    from cancerllm.infer.predictor import Predictor

    if resolved_method(cfg) == "rules":
        from cancerllm.infer.rules import RulePredictor

        labels = resolved_labels(cfg)
        log.info("method rules: grounded knowledge extractor%s", f", document labels from {labels}" if labels else
                 " (no labels model: T/N/M only where stated; `make model` builds one, or give --labels)")
        if cfg.method == "auto":
            log.info("no --run: the untrained base model writes no usable JSON, so the grounded rule extractor "
                     "answers; give a trained run (cancerllm sft) for the language-model extractor")
        return RulePredictor(types=cfg.types, labels=labels)
    from cancerllm.model.load import load_model, model_args_for_run, read_run

    style, types, model_args = cfg.generate.prompt_style, cfg.types, cfg.model
    budget = cfg.generate.max_prompt_tokens
    if cfg.run:
        info = read_run(cfg.run)
        model_args = model_args_for_run(cfg.run, cfg.model)
        style = info.get("prompt_style") or style
        types = types or info.get("types")
        trained = info.get("max_prompt_tokens")
        if budget is None:
            budget = trained  # chunk exactly as the model saw notes in training
        elif trained and budget != trained:
            log.warning("generate.max_prompt_tokens=%d overrides the %d tokens run %s was trained with: notes are "
                        "chunked differently from training", budget, trained, cfg.run)
    if cfg.generate.engine == "vllm":  # same prompts and records, decoded by vLLM (its own venv: `make vllm`)
        from cancerllm.infer.vllm_engine import load_vllm

        model, tok, minfo = load_vllm(model_args, replace(cfg.generate, max_prompt_tokens=budget))
    else:
        model, tok, minfo = load_model(model_args)
    retriever = None
    if cfg.index:
        from cancerllm.rag.pipeline import load_retriever

        retriever = load_retriever(cfg.index)
        built_with = getattr(retriever, "name", None)
        if cfg.retriever and built_with and cfg.retriever.split(".")[0] != str(built_with).split(".")[0]:
            raise ConfigError(f"retriever: got {cfg.retriever!r} but index {cfg.index!r} was built with "
                              f"{built_with!r}; rebuild the index or drop --retriever")
    gen = GenerateArgs(**{**cfg.generate.__dict__, "prompt_style": style, "max_prompt_tokens": budget})
    if cfg.method == "scoring":
        from cancerllm.infer.closed_set import ScoringPredictor

        return ScoringPredictor(model, tok, gen=gen, types=types, info=minfo)
    return Predictor(model, tok, style=style, types=types, gen=gen, retriever=retriever, k=cfg.k, info=minfo)


# ------------------------------------------------------------------------------------------------ output folder

def read_done_ids(path: Path) -> Counter:
    """Ids already in ``predictions.jsonl`` (with repeat counts). A last line without its newline was cut by a
    kill mid-write: it is truncated away so that note is redone. Any other unreadable line is an error."""
    done: Counter = Counter()
    if not path.is_file() or path.stat().st_size == 0:
        return done
    with open(path, "rb+") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(size - 1)
        if fh.read(1) != b"\n":
            # Walk back block by block to the last complete line; the file may be large.
            pos, keep = size, 0
            while pos > 0:
                start = max(0, pos - (1 << 16))
                fh.seek(start)
                cut = fh.read(pos - start).rfind(b"\n")
                if cut >= 0:
                    keep = start + cut + 1
                    break
                pos = start
            fh.truncate(keep)
            log.warning("%s: the last line was cut off by an interrupted write (%d bytes); that note is redone",
                        path, size - keep)
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh, start=1):
            try:
                rec = json.loads(raw)
                done[rec["id"]] += 1
            except (ValueError, KeyError, TypeError, RecursionError):
                raise ResourceError(f"{path}:{i}: not a prediction record, so the run cannot be resumed safely; "
                                    f"move the file away or choose another --out") from None
    return done


def _fingerprint(cfg: ExtractConfig) -> dict[str, Any]:
    """What a resumed run must share with the interrupted one: the settings (bar ``limit``) and the size and
    modification time of every file of the model, adapter, run and index folders (a retrained adapter differs)."""
    import hashlib

    from cancerllm.config import to_dict

    settings = {k: v for k, v in to_dict(cfg).items() if k not in _RESUME_FREE}
    settings["method"] = resolved_method(cfg)  # `auto` and what it resolves to are the same run
    files = hashlib.sha256()
    settings["labels"] = resolved_labels(cfg)  # a labeller built by `make model` since the last run is another run
    for root in (cfg.run, cfg.model.path, cfg.model.adapter, cfg.index, settings["labels"]):
        p = Path(root) if root else None
        if p is None or not p.exists():
            continue
        for f in sorted(p.rglob("*"))[:10_000] if p.is_dir() else [p]:
            if f.is_file():
                st = f.stat()
                files.update(f"{f}|{st.st_size}|{st.st_mtime_ns}\n".encode("utf-8", "backslashreplace"))
    return {"settings": settings, "model_files": files.hexdigest()[:16]}


def _same_run_or_move_aside(cfg: ExtractConfig, out: Path, done: Counter) -> Counter:
    """Resume only into records of the same settings and model; otherwise keep the old records apart (renamed to
    ``predictions.jsonl.prev``, said in a warning) and start afresh, so two runs' records never mix."""
    state = out / "resume.json"
    now = _fingerprint(cfg)
    if sum(done.values()):
        try:
            before = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            before = {}
        changed = sorted(k for k in set(before.get("settings", {})) | set(now["settings"])
                         if before.get("settings", {}).get(k) != now["settings"].get(k))
        if before.get("model_files") != now["model_files"]:
            changed.append("model files")
        if changed:
            (out / PREDICTIONS).replace(out / (PREDICTIONS + ".prev"))
            log.warning("%s: %d records were made with other settings or model (%s); moved to %s.prev, starting "
                        "afresh", out / PREDICTIONS, sum(done.values()), ", ".join(changed[:5]), PREDICTIONS)
            done = Counter()
        else:
            log.info("%s: resuming, %d records already written are kept and their notes skipped",
                     out / PREDICTIONS, sum(done.values()))
    state.write_text(json.dumps(now, indent=1, default=str), encoding="utf-8")
    return done


def _open_output(cfg: ExtractConfig) -> tuple[IO[str], Counter]:
    """Create and probe ``cfg.out`` before anything is loaded; returns (append handle, ids already done)."""
    out = Path(cfg.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        done = _same_run_or_move_aside(cfg, out, read_done_ids(out / PREDICTIONS))
        fh = open(out / PREDICTIONS, "a", encoding="utf-8")  # noqa: SIM115 - held for the whole run, closed in run()
        save_config(cfg, out)
    except OSError as err:
        raise ResourceError(f"--out {str(out)!r}: cannot write the output folder ({type(err).__name__}: "
                            f"{err.strerror or err}); give a writable folder") from None
    return fh, done


# ------------------------------------------------------------------------------------------------ progress

class _Progress:
    """Notes/s and ETA on stderr (through logging): after the first window, then every ``every_s`` seconds, and
    once at the end."""

    def __init__(self, total: int, every_s: float = 10.0):
        self.total, self.every_s = total, every_s
        self.t0 = self.last = time.perf_counter()
        self.logged = False

    def update(self, written: int, consumed: int, errors: int, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and self.logged and now - self.last < self.every_s:
            return
        self.last, self.logged = now, True
        rate = written / (now - self.t0) if now > self.t0 else 0.0
        left = max(0, self.total - consumed)
        eta = f"{left / rate:.0f}s" if rate > 0 and not final else ("0s" if final else "?")
        log.info("%s: %d notes written, %d/%d input records read, %d with problems, %.2f notes/s, ETA %s",
                 "done" if final else "progress", written, consumed, self.total, errors, rate, eta)


# ------------------------------------------------------------------------------------------------ the recipe

def run(cfg: ExtractConfig, predictor: Any = None) -> dict[str, Any]:
    """Predict every note of ``cfg.input``, appending records as they finish; returns the summary (also written
    to ``summary.json``).

    Raises:
        ConfigError: invalid settings.
        ResourceError: missing input or an output folder that cannot be written (both before loading the model).
        DataFormatError: the input holds no usable note (empty, or every line rejected).
    """
    from cancerllm.data.io import count_records, dumps_record, iter_notes
    from cancerllm.infer.predictor import predict_isolated
    from cancerllm.runtime import seed_everything, write_run_meta

    seed_everything(cfg.seed)
    if not cfg.input:
        raise ConfigError("input: missing; give a .txt file, a folder or a Note JSONL file")
    problems = cfg.validate()  # load_config already did this; Python callers may build the config by hand
    if problems:
        raise ConfigError(problems)
    items = iter_notes(cfg.input, check_spans=False)  # gold spans are not used here: never a reason to skip a note
    total = count_records(cfg.input)
    if total == 0:
        raise DataFormatError(f"input {cfg.input!r} holds no notes (no non-blank line or .txt file); nothing to do")
    fh, done = _open_output(cfg) if cfg.out else (sys.stdout, Counter())
    state = {"predictor": predictor}
    load_s: list[float] = []
    counts = Counter()
    bad: list[str] = []
    seen: Counter = Counter()
    window: list[Any] = []
    window_size = cfg.window or max(1, 4 * cfg.generate.batch_size)  # see ExtractConfig.window for the trade-off
    progress = _Progress(min(total, cfg.limit) if cfg.limit else total)
    t0 = time.perf_counter()

    def flush() -> None:
        if not window:
            return
        if state["predictor"] is None:  # loaded only once a note needs it: bad or finished input never loads it
            t_load = time.perf_counter()
            state["predictor"] = load_predictor(cfg)
            loaded_in = time.perf_counter() - t_load
            load_s.append(loaded_in)
            progress.t0 += loaded_in  # notes/s and ETA count prediction time, not loading
        for pred in predict_isolated(state["predictor"], window, cfg.task):
            fh.write(dumps_record(pred.model_dump(mode="json")) + "\n")
            fh.flush()  # a kill after this line loses nothing written so far
            counts["written"] += 1
            counts["notes_with_errors"] += bool(pred.errors)
            counts["mentions"] += len(pred.mentions)
        if cfg.out:
            os.fsync(fh.fileno())
        window.clear()
        progress.update(counts["written"], counts["consumed"], len(bad) + counts["notes_with_errors"])

    try:
        for item in items:
            counts["consumed"] += 1
            if isinstance(item.value, DataFormatError):  # reported by file:line; the rest goes on
                log.warning("skipped input record: %s", item.value)
                bad.append(str(item.value))
                continue
            note = item.value
            if cfg.limit is not None and counts["valid"] >= cfg.limit:
                log.info("--limit %d: stopped after the first %d valid notes", cfg.limit, cfg.limit)
                counts["limit_reached"] = 1
                break
            counts["valid"] += 1
            seen[note.id] += 1
            counts["duplicate_ids"] += seen[note.id] > 1
            if seen[note.id] <= done[note.id]:  # written by an earlier, interrupted run
                counts["resumed"] += 1
                continue
            counts["empty_notes"] += not note.text.strip()
            window.append(note)
            if len(window) >= window_size:
                flush()
        flush()
    finally:
        if fh is not sys.stdout:
            fh.close()
    seconds = time.perf_counter() - t0 - sum(load_s)
    progress.update(counts["written"], counts["consumed"], len(bad) + counts["notes_with_errors"], final=True)
    pred_obj = state["predictor"]
    summary = {
        "task": cfg.task, "notes": counts["written"], "resumed": counts["resumed"],
        "records": counts["written"] + sum(done.values()), "input_errors": bad,
        "empty_notes": counts["empty_notes"], "duplicate_ids": counts["duplicate_ids"],
        "limit_reached": bool(counts["limit_reached"]),
        "notes_with_errors": counts["notes_with_errors"], "mentions": counts["mentions"], "seconds": round(seconds, 2),
        "load_seconds": round(sum(load_s), 2),
        "notes_per_s": round(counts["written"] / seconds, 3) if seconds and counts["written"] else None,
        "generation": pred_obj.stats.as_dict() if pred_obj else None, "model": pred_obj.info if pred_obj else None,
        "prompt_style": pred_obj.style_name if pred_obj else None, "types": pred_obj.types if pred_obj else None,
        "k": cfg.k,
    }
    if cfg.out:
        out = Path(cfg.out)
        write_run_meta(out, data_files=[cfg.input] if Path(cfg.input).is_file() else [], task=cfg.task)
        (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if counts["valid"] == 0:
        first = f" (first: {bad[0]})" if bad else ""
        raise DataFormatError(f"input {cfg.input!r} holds no usable note: {len(bad)} record(s) rejected{first}")
    return summary
