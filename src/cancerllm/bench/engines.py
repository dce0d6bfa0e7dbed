"""``cancerllm bench --engines hf,vllm --styles qa.v1,json.v1,scoring``: engines x prompt styles on the same notes.

Each engine runs in its own process (vLLM in its own venv, ``.venv-vllm``; transformers in this one), started
here with ``subprocess`` one at a time, so start-up time, peak RSS and CPU time are each engine's own and two
engines never compete for the cores. A worker loads the model once (through ``infer.extract.load_predictor``, the
path ``extract`` and ``serve`` use), runs a prefill probe, then every style over the same notes:

* ``qa.v1``: the paper's per-entity questions (one generation per entity type and chunk);
* ``json.v1``: one JSON answer per chunk for every type; ``json.v1+guided``: the same, grammar-constrained;
* ``scoring``: closed-set scoring of T/N/M (``infer.scoring.classify_fields``: no generation, one prefill of each
  chunk shared by the three fields);
* ``scoring+evidence``: T/N/M read where the report states them (with their spans), M0 for a staged report without
  pM, the rest scored as ``scoring`` (``infer.scoring.evidence_first``); a fully stated report needs no forward.

Per cell: notes/s, prompt and generated tokens/s, p50/p95 latency of a call of ``batch_size`` notes, CPU-seconds
per note (process CPU time, every thread), peak RSS, start-up (process launch to model loaded, imports included),
the task score (accuracy of the T, N and M document labels against the gold labels, a missing answer counting
wrong), and outputs that do not parse. The parent also measures this CPU's matmul peak (bf16 and fp32 GFLOP/s of a
torch matmul loop, same thread count) and each engine's prefill rate as a fraction of it: the probe prefills every
note's json.v1 prompt once (1 new token); FLOPs = 2 x non-embedding parameters x prompt tokens (attention's own
FLOPs left out, so the fraction is a slight underestimate).

Example:
    >>> from cancerllm.config import load_config
    >>> cfg = load_config(EnginesConfig, overrides=["engines=hf", "styles=json.v1,scoring"])
    >>> cfg.engines, cfg.styles, cfg.n_notes
    (['hf'], ['json.v1', 'scoring'], 16)
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.bench.efficiency import NamedOutput
from cancerllm.config import GenerateArgs, ModelArgs, save_config

__all__ = ["ENGINES", "STYLES", "EnginesConfig", "matmul_peak", "run", "style_groups", "task_score"]

log = logging.getLogger("cancerllm.bench")

ENGINES = ("hf", "vllm")
STYLES = ("qa.v1", "json.v1", "json.v1+guided", "scoring", "scoring+evidence")
FIELDS = ("t_stage", "n_stage", "m_stage")
_TYPES = ["stage_t", "stage_n", "stage_m"]


@dataclass
class EnginesConfig(NamedOutput):
    """``cancerllm bench --engines ... --styles ...`` settings (any field also as ``key=value``)."""

    name: str = "engines"
    """Results go to ``<out_root>/<name>/`` (bench.json, bench.md)."""
    out_root: str = "out/bench"
    engines: list[str] = field(default_factory=lambda: ["hf", "vllm"])
    styles: list[str] = field(default_factory=lambda: ["qa.v1", "json.v1", "scoring"])
    input: str = "tcga:test"
    """``tcga:<split>`` (the shared TCGA reports, with gold T/N/M) or a Note JSONL file with ``labels``."""
    n_notes: int = 16
    """The first N notes of ``input``."""
    run: str | None = None
    """A training run folder (its base, adapters, types); None = ``model.path`` zero-shot."""
    runs: dict[str, str] = field(default_factory=dict)
    """Per-style training runs (style -> run folder), overriding ``run`` for those styles: comparing fine-tuned
    quality needs each style's model trained in that style (a json.v1 run asked qa.v1 questions is not the paper's
    system). Each (engine, run) pair loads in its own process."""
    labelled: bool = False
    """Keep only notes with a gold T, N or M label (then the first ``n_notes`` of them), so every note scores."""
    model: ModelArgs = field(default_factory=ModelArgs)
    generate: GenerateArgs = field(default_factory=lambda: GenerateArgs(max_new_tokens=96, batch_size=4,
                                                                        max_prompt_tokens=1024))
    """Decoding settings shared by every cell; ``prompt_style``, ``guided`` and ``engine`` are set per cell."""
    threads: int = 1
    """Compute threads of every engine and of the matmul probe (1 = steady on a shared machine)."""
    vllm_python: str = ".venv-vllm/bin/python"
    """The interpreter of the vLLM venv (``make vllm``)."""
    timeout_s: int = 3600
    """Per engine process."""
    n_boot: int = 200
    matmul_seconds: float = 2.0
    """Length of each precision's matmul-peak loop."""
    prefix_caching: bool = False
    """vLLM prefix caching. Off by default here: every cell reads the same notes, so a cache warmed by the probe
    or an earlier cell would time cache hits, not the engine (``extract``/``serve`` keep it on)."""

    def validate(self) -> list[str]:
        problems = []
        bad = [e for e in self.engines if e not in ENGINES]
        if not self.engines or bad:
            problems.append(f"engines: got {self.engines}, unknown {bad}; expected a list of {list(ENGINES)}")
        bad = [s for s in self.styles if s not in STYLES]
        if not self.styles or bad:
            problems.append(f"styles: got {self.styles}, unknown {bad}; expected a list of {list(STYLES)}")
        bad = [s for s in self.runs if s not in self.styles]
        if bad:
            problems.append(f"runs: got runs for styles {bad} that are not benchmarked; styles are {self.styles}")
        for key in ("n_notes", "threads", "timeout_s", "n_boot"):
            if getattr(self, key) < 1:
                problems.append(f"{key}: got {getattr(self, key)}, expected >= 1")
        return problems + self.name_problems()


# ------------------------------------------------------------------------------------------------ pure helpers

def task_score(gold: list[dict[str, Any]], pred: list[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy and macro-F1 of each field over the notes whose gold label is set (a missing prediction counts
    wrong: it is its own class "none" for F1), and their means over the fields.

    Example:
        >>> s = task_score([{"t_stage": "T2", "n_stage": None}], [{"t_stage": "T2", "n_stage": "N0"}])
        >>> s["t_stage"], s["n_stage"], s["mean"], s["macro_f1"], s["n_gold"]
        (1.0, None, 1.0, {'t_stage': 1.0, 'n_stage': None, 'm_stage': None, 'mean': 1.0}, 1)
    """
    out: dict[str, Any] = {}
    f1: dict[str, Any] = {}
    n_gold = 0
    for f in FIELDS:
        pairs = [(g.get(f), p.get(f) or "none") for g, p in zip(gold, pred, strict=True) if g.get(f)]
        n_gold += len(pairs)
        out[f] = round(sum(g == p for g, p in pairs) / len(pairs), 4) if pairs else None
        f1[f] = round(_macro_f1(pairs), 4) if pairs else None
    out["mean"] = _mean(out[f] for f in FIELDS)
    f1["mean"] = _mean(f1[f] for f in FIELDS)
    out["macro_f1"] = f1
    out["n_gold"] = n_gold
    return out


def _macro_f1(pairs: list[tuple[str, str]]) -> float:
    """Macro-F1 over the gold classes present (a class only ever predicted, e.g. "none", is not averaged in; F1 = 0
    for a class never predicted right), as scikit-learn's ``f1_score(average="macro", labels=gold classes,
    zero_division=0)``. Plain Python: the vLLM venv the worker may run in has no scikit-learn."""
    scores = []
    for c in sorted({g for g, _ in pairs}):
        tp = sum(g == c and p == c for g, p in pairs)
        wrong = sum((g == c) != (p == c) for g, p in pairs)  # false positives + false negatives
        scores.append(2 * tp / (2 * tp + wrong) if tp else 0.0)
    return sum(scores) / len(scores)


def _mean(values: Any) -> float | None:
    got = [v for v in values if v is not None]
    return round(sum(got) / len(got), 4) if got else None


def matmul_peak(threads: int, n: int = 1024, seconds: float = 2.0) -> dict[str, float]:
    """GFLOP/s of a square torch matmul loop in bf16 and fp32 on ``threads`` threads (best of the timed repeats)."""
    import torch

    torch.set_num_threads(threads)
    out = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        torch.mm(a, b)  # warm-up: kernel selection
        best, t_end = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < t_end:
            t0 = time.perf_counter()
            torch.mm(a, b)
            best = max(best, 2 * n ** 3 / (time.perf_counter() - t0) / 1e9)
        out[f"{name}_gflops"] = round(best, 1)
    return out


def _non_embedding_params(path: str) -> int | None:
    """Parameters that do matmul work per prompt token: all but the input embedding table (from config.json)."""
    cfg_file = Path(path) / "config.json"
    if not cfg_file.is_file():
        return None
    c = json.loads(cfg_file.read_text())
    h, layers, inter, vocab = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["vocab_size"]
    kv = h // c["num_attention_heads"] * c.get("num_key_value_heads", c["num_attention_heads"])
    per_layer = h * h * 2 + h * kv * 2 + 3 * h * inter  # q, o, k, v projections and the gated MLP
    # The output head is left out too: both engines project only the last prompt position onto the vocabulary.
    del vocab
    return layers * per_layer


# ------------------------------------------------------------------------------------------------ the worker

def _predictor(base: Any, style: str) -> Any:
    """A Predictor for ``style`` sharing ``base``'s loaded model and tokenizer."""
    from cancerllm.infer.predictor import Predictor

    prompt_style, guided = style.split("+")[0], style.endswith("+guided")
    gen = dataclasses.replace(base.gen, prompt_style=prompt_style, guided=guided)
    return Predictor(base.model, base.tokenizer, style=prompt_style, types=_TYPES, gen=gen, info=base.info)


def _score_call(base: Any, notes: list[Any], evidence: bool) -> tuple[list[dict[str, Any]], int]:
    """Closed-set scoring of T/N/M for ``notes`` (with ``evidence``: stated fields read, the rest scored); returns
    (labels per note, prompt tokens prefilled)."""
    from cancerllm.infer.generate import GenerationStats
    from cancerllm.infer.scoring import classify_fields, evidence_first

    stats = GenerationStats()
    kwargs = {"max_prompt_tokens": base.gen.max_prompt_tokens, "overlap_chars": base.gen.chunk_overlap_chars,
              "stats": stats}
    labels = []
    for note in notes:
        if evidence:
            got = evidence_first(base.model, base.tokenizer, note.text, FIELDS, **kwargs)
        else:
            got = classify_fields(base.model, base.tokenizer, note.text, FIELDS, **kwargs)
        labels.append({f: v["label"] if evidence else v.label for f, v in got.items()})
    return labels, stats.prompt_tokens


def _cell(base: Any, notes: list[Any], style: str, cfg: EnginesConfig) -> dict[str, Any]:
    """One engine x style measurement over ``notes`` in calls of ``generate.batch_size`` notes."""
    from cancerllm.bench.stats import RssSampler, summarize

    calls = [notes[i:i + cfg.generate.batch_size] for i in range(0, len(notes), cfg.generate.batch_size)]
    pred = None if style.startswith("scoring") else _predictor(base, style)
    seconds, labels, prompt_tokens, new_tokens, unparseable, outputs, errors = [], [], 0, 0, 0, 0, 0
    cpu0 = time.process_time()
    with RssSampler() as rss:
        for call in calls:
            t0 = time.perf_counter()
            if pred is None:
                got, tok = _score_call(base, call, evidence=style == "scoring+evidence")
                labels.extend(got)
                prompt_tokens += tok
            else:
                recs = pred.predict(call, "phenotype")
                labels.extend(r.labels for r in recs)
                outputs += sum(len(r.raw) for r in recs)
                errors += sum(bool(r.errors) for r in recs)
                # "invalid JSON" / "no JSON" are the parser's words for an answer that does not parse.
                unparseable += sum(1 for r in recs for e in r.errors if "JSON" in e)
            seconds.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    if pred is not None:
        prompt_tokens, new_tokens = pred.stats.prompt_tokens, pred.stats.new_tokens
    total = sum(seconds)
    lat = summarize([s * 1000 for s in seconds], cfg.n_boot, 0)
    lat["p95"] = round(_pct([s * 1000 for s in seconds], 95), 1)
    return {"style": style, "notes": len(notes), "calls": len(calls), "seconds": round(total, 2),
            "notes_per_s": round(len(notes) / total, 4), "prompt_tokens": prompt_tokens, "new_tokens": new_tokens,
            "prompt_tokens_per_s": round(prompt_tokens / total, 1), "new_tokens_per_s": round(new_tokens / total, 1),
            "latency_ms": lat, "cpu_s_per_note": round(cpu / len(notes), 3), "peak_rss_mib": round(rss.peak_mib, 1),
            "outputs": outputs, "unparseable": unparseable, "notes_with_errors": errors,
            "score": task_score([n.labels for n in notes], labels),
            "labels": {n.id: {f: lab.get(f) for f in FIELDS} for n, lab in zip(notes, labels, strict=True)}}


def _pct(values: list[float], q: float) -> float:
    from cancerllm.bench.stats import percentile

    return float(percentile(values, q))


def _prefill_probe(base: Any, notes: list[Any]) -> dict[str, Any]:
    """Every note's first json.v1 prompt prefilled once (1 new token): prompt tokens and seconds.

    Asked as one batch; on hf, ``generate`` splits it by its token budget (``DEFAULT_BATCH_TOKENS``) as extraction
    does, so the probe does not hold the activations of all the notes at once (16 x ~800 tokens took ~600 MiB)."""
    from cancerllm.infer.generate import GenerationStats, generate

    pred = _predictor(base, "json.v1")
    prompts = [pred._requests(i, n, "phenotype", pred._budgets()[0], [])[0].prompt for i, n in enumerate(notes)]
    stats = GenerationStats()
    t0, c0 = time.perf_counter(), time.process_time()
    generate(base.model, base.tokenizer, prompts, max_new_tokens=1, batch_size=len(prompts), stats=stats)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"prompts": len(prompts), "prompt_tokens": stats.prompt_tokens, "seconds": round(dt, 3),
            "cpu_s": round(cpu, 3)}


def worker(spec_file: str, out_file: str) -> None:
    """Run one engine's cells (in this process) and write its JSON result; called by :func:`run` in a subprocess."""
    t_start = time.time()
    spec = json.loads(Path(spec_file).read_text())
    launched = spec["launched"]
    from cancerllm.bench.stats import RssSampler, rss_mib
    from cancerllm.config import load_config
    from cancerllm.data.io import read_notes
    from cancerllm.infer.extract import ExtractConfig, load_predictor

    cfg = load_config(EnginesConfig, spec["config"])
    run, styles = spec.get("run", cfg.run), spec.get("styles", cfg.styles)
    import torch

    torch.set_num_threads(cfg.threads)
    notes = read_notes(spec["notes"])
    gen = dataclasses.replace(cfg.generate, engine=spec["engine"], prompt_style="json.v1")
    with RssSampler() as load_rss:
        t0 = time.perf_counter()
        base = load_predictor(ExtractConfig(input="-", run=run, model=cfg.model, generate=gen, types=_TYPES))
        load_s = time.perf_counter() - t0
    loaded = time.time()
    result: dict[str, Any] = {"engine": spec["engine"], "run": run, "python": sys.executable, "model": base.info,
                              "startup_s": round(loaded - launched, 2), "load_s": round(load_s, 2),
                              "worker_start_s": round(t_start - launched, 2), "load_peak_rss_mib":
                              round(load_rss.peak_mib, 1), "rss_after_load_mib": round(rss_mib(), 1),
                              "torch_threads": torch.get_num_threads(), "cells": []}
    if base.info.get("engine") == "vllm":
        import vllm

        result["vllm_version"] = vllm.__version__
    import transformers

    result["transformers"] = transformers.__version__
    result["prefill_probe"] = _prefill_probe(base, notes)
    for style in styles:
        try:
            cell = _cell(base, notes, style, cfg)
        except Exception as err:  # noqa: BLE001 - one failing cell must not discard the others
            log.warning("%s %s failed: %s: %s", spec["engine"], style, type(err).__name__, str(err)[:300])
            cell = {"style": style, "error": f"{type(err).__name__}: {str(err)[:300]}"}
        log.info("%s %s: %s notes/s", spec["engine"], style, cell.get("notes_per_s"))
        result["cells"].append(cell)
        Path(out_file).write_text(json.dumps(result, indent=1, default=str))  # partial results survive a kill
    import resource

    result["process_max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    Path(out_file).write_text(json.dumps(result, indent=1, default=str))


# ------------------------------------------------------------------------------------------------ the orchestrator

def _engine_python(cfg: EnginesConfig, engine: str) -> str:
    from cancerllm.errors import ResourceError

    if engine == "hf":
        return sys.executable
    py = Path(cfg.vllm_python)
    if not py.is_file():
        from cancerllm.infer.vllm_engine import INSTALL_HINT

        raise ResourceError(f"vllm_python: {str(py)!r} does not exist, so the vllm engine cannot be benchmarked; "
                            f"build it with {INSTALL_HINT}, or pass vllm_python=/path/to/python, or engines=hf")
    return str(py)


def _write_notes(cfg: EnginesConfig, path: Path) -> dict[str, Any]:
    from cancerllm.data.io import read_notes_reporting, write_jsonl

    if cfg.input.startswith("tcga:"):
        from cancerllm.data.corpora.tcga import load_tcga

        notes = load_tcga(cfg.input.split(":", 1)[1])
    else:
        notes = read_notes_reporting(cfg.input, "bench input")
    if cfg.labelled:
        notes = [n for n in notes if any(n.labels.get(f) for f in FIELDS)]
    notes = notes[: cfg.n_notes]
    write_jsonl(notes, path)
    chars = [len(n.text) for n in notes]
    return {"input": cfg.input, "notes": len(notes), "chars_mean": round(sum(chars) / max(len(chars), 1), 1),
            "chars_max": max(chars, default=0), "gold": {f: sum(1 for n in notes if n.labels.get(f)) for f in FIELDS}}


def style_groups(cfg: EnginesConfig) -> list[tuple[str | None, list[str]]]:
    """``(run, styles)`` in the order styles are listed: styles sharing a run share one loaded model (process).

    Example:
        >>> style_groups(EnginesConfig(styles=["qa.v1", "json.v1", "scoring"], run="a", runs={"qa.v1": "b"}))
        [('b', ['qa.v1']), ('a', ['json.v1', 'scoring'])]
    """
    groups: dict[str | None, list[str]] = {}
    for style in cfg.styles:
        groups.setdefault(cfg.runs.get(style, cfg.run), []).append(style)
    return list(groups.items())


def run(cfg: EnginesConfig) -> dict[str, Any]:
    """Measure every engine (one subprocess per engine and run, one after the other) and write ``bench.json`` /
    ``bench.md``."""
    from cancerllm.bench.report import engines_markdown
    from cancerllm.runtime import write_run_meta

    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    pythons = {e: _engine_python(cfg, e) for e in cfg.engines}  # a missing venv fails before anything runs
    load_before = [round(x, 2) for x in os.getloadavg()]
    peak = matmul_peak(cfg.threads, seconds=cfg.matmul_seconds)
    log.info("matmul peak on %d thread(s): %s", cfg.threads, peak)
    notes_file = out / "notes.jsonl"
    source = _write_notes(cfg, notes_file)
    results = []
    try:
        for engine, (i, (run_dir, styles)) in itertools.product(cfg.engines, enumerate(style_groups(cfg))):
            tag = engine if i == 0 else f"{engine}-{i}"
            spec_file, res_file = out / f"spec-{tag}.json", out / f"result-{tag}.json"
            res_file.unlink(missing_ok=True)
            launched = time.time()
            spec_file.write_text(json.dumps({"config": str(out / "config.yaml"), "engine": engine, "run": run_dir,
                                             "styles": styles, "notes": str(notes_file), "launched": launched}))
            env = {**os.environ, "OMP_NUM_THREADS": str(cfg.threads), "MKL_NUM_THREADS": str(cfg.threads),
                   "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                   "CANCERLLM_VLLM_PREFIX_CACHING": "1" if cfg.prefix_caching else "0"}
            log.info("bench engine %s (%s)", engine, pythons[engine])
            proc = subprocess.run([pythons[engine], "-m", "cancerllm.bench.engines", "worker", str(spec_file),
                                   str(res_file)], check=False, env=env, timeout=cfg.timeout_s, capture_output=True,
                                  text=True)
            wall = time.time() - launched
            res = (json.loads(res_file.read_text()) if res_file.is_file()
                   else {"engine": engine, "run": run_dir, "cells": []})
            res["process_wall_s"] = round(wall, 1)
            if proc.returncode != 0:
                res["error"] = f"exit {proc.returncode}: {proc.stderr[-1500:]}"
                log.warning("engine %s exited %d: %s", engine, proc.returncode, proc.stderr[-800:])
            results.append(res)
    finally:
        notes_file.unlink(missing_ok=True)  # the note texts are not kept in the results folder
    _add_prefill_fraction(results, peak, cfg)
    meta = json.loads(write_run_meta(out, kind="bench-engines").read_text())
    result = {"name": cfg.name, "kind": "bench-engines", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "commit": meta.get("commit"), "hardware": meta.get("hardware"),
              "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
              "threads": cfg.threads, "matmul_peak": peak, "input": source, "engines": results,
              "config": dataclasses.asdict(cfg)}
    (out / "bench.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "bench.md").write_text(engines_markdown(result))
    return result


_SHORT_DTYPE = {"bfloat16": "bf16", "float32": "fp32", "float16": "fp16"}


def _add_prefill_fraction(results: list[dict[str, Any]], peak: dict[str, float], cfg: EnginesConfig) -> None:
    for res in results:
        probe, model = res.get("prefill_probe"), res.get("model") or {}
        params = _non_embedding_params(model.get("path", "")) if model.get("path") else None
        if not probe or not params or not probe["seconds"]:
            continue
        flop = 2 * params * probe["prompt_tokens"]
        # hf reports torch's name ("bfloat16"), vllm the short one ("bf16"): both must find the bf16 peak.
        dtype = _SHORT_DTYPE.get(str(model.get("dtype")), str(model.get("dtype")))
        ref = peak.get(f"{dtype}_gflops") or peak["fp32_gflops"]
        # Per wall second and per CPU-second of the process: on a shared machine the second is the steadier one
        # (the matmul peak is a best repeat, i.e. an uncontended figure); with one thread both mean one core.
        gflops, gflops_cpu = flop / probe["seconds"] / 1e9, flop / max(probe.get("cpu_s") or 0, 1e-9) / 1e9
        probe.update(non_embedding_params=params, gflops=round(gflops, 1), gflops_per_cpu_s=round(gflops_cpu, 1),
                     peak_gflops=ref, fraction_of_peak=round(gflops / ref, 3),
                     fraction_of_peak_cpu=round(gflops_cpu / ref, 3))


if __name__ == "__main__":  # the worker entry point; a guard also keeps spawned helper processes from re-running it
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        worker(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: python -m cancerllm.bench.engines worker SPEC.json OUT.json")
