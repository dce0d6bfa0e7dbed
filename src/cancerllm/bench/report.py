"""Render a ``bench.json`` result as markdown tables (with ratios to the first row) and a one-line summary.

Ratios, not absolute numbers, are what carries over between runs on a shared machine: every row of one table was
measured in the same process, minutes apart, so ``2.1x`` survives a busier machine better than ``3.4 notes/s``.

Example:
    >>> fmt_ci({"mean": 12.345, "ci95": [10.0, 14.5]})
    '12.3 [10.0, 14.5]'
    >>> ratio(3.0, 1.5)
    '2.00x'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["engines_markdown", "fmt_ci", "markdown", "ratio", "summary_line"]


def fmt_ci(s: dict[str, Any], digits: int = 1) -> str:
    """``mean [lo, hi]`` of a :func:`cancerllm.bench.stats.summarize` dict."""
    lo, hi = s["ci95"]
    return f"{s['mean']:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def ratio(value: float | None, base: float | None) -> str:
    """``value / base`` as ``'1.23x'``; ``'-'`` when either is missing or the base is zero."""
    if not value or not base:
        return "-"
    return f"{value / base:.2f}x"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return lines


def markdown(result: dict[str, Any]) -> str:
    """The human report: setup lines, load table, inference table, training row (if measured)."""
    hw, th, la = result.get("hardware") or {}, result.get("threads") or {}, result.get("load_average") or {}
    versions = result.get("versions") or {}
    out = [f"# Efficiency benchmark `{result['name']}`", "",
           f"- commit `{(result.get('commit') or 'unknown')[:12]}`, {result.get('created', '')}",
           f"- hardware: {hw.get('cpu', hw.get('machine', '?'))}, {hw.get('cpu_count', '?')} cores, "
           f"{hw.get('memory_gib', '?')} GiB" + (f", GPU {hw['gpu']}" if hw.get("gpu") else ""),
           (f"- torch {versions.get('torch', '?')}, transformers {versions.get('transformers', '?')}; "
           f"threads: intra-op {th.get('intra_op')}, inter-op {th.get('inter_op')}"),
           f"- load average (1/5/15 min) before {la.get('before')}, after {la.get('after')}",
           (f"- input: {result['input']['input']}, {result['input']['notes']} notes, "
           f"mean {result['input']['chars_mean']} chars"), ""]
    loads = result.get("loads") or []
    if loads:
        out += ["## Model load", "", (f"Importing transformers first took {result.get('import_s', '?')} s "
                "(not in load s)."), ""]
        out += _table(["dtype", "load s", "peak RSS MiB", "x load s"],
                      [[r["dtype"], r["load_s"], r["peak_rss_mib"], ratio(r["load_s"], loads[0]["load_s"])]
                       for r in loads])
        out.append("")
    rows = result.get("inference") or []
    if rows:
        base = rows[0]
        out += ["## Inference", "", (f"Ratios are to the first row ({base['dtype']}, {base['task']}, "
                f"batch {base['batch_size']}). Latency = wall time of one call of `batch` notes."), ""]
        out += _table(
            ["dtype", "task", "batch", "threads", "latency p50 ms", "p90 ms", "mean ms [95% CI]",
             "per-note ms [95% CI]", "notes/s [95% CI]", "prompt tok/s", "new tok/s", "peak RSS MiB",
             "x notes/s", "x per-note ms", "notes w/ errors"],
            [[r["dtype"], r["task"], r["batch_size"], r["threads"], f"{r['latency_ms']['p50']:.0f}",
              f"{r['latency_ms']['p90']:.0f}",
              fmt_ci(r["latency_ms"], 0), fmt_ci(r["per_note_ms"], 0),
              f"{r['notes_per_s']:.3f} [{r['notes_per_s_ci95'][0]:.3f}, {r['notes_per_s_ci95'][1]:.3f}]",
              r["prompt_tokens_per_s"], r["new_tokens_per_s"], r["peak_rss_mib"],
              ratio(r["notes_per_s"], base["notes_per_s"]),
              ratio(r["per_note_ms"]["mean"], base["per_note_ms"]["mean"]),
              f"{r['notes_with_errors']}/{r['notes'] * r['repeats']}"] for r in rows])
        out.append("")
    tr = result.get("training")
    if tr and "error" in tr:
        out += ["## LoRA training throughput", "", f"failed: {tr['error']}", ""]
    elif tr:
        out += ["## LoRA training throughput", ""]
        out += _table(["recipe", "precision", "steps", "batch x seq", "steps/s", "tokens/s", "peak RSS MiB"],
                      [[tr["recipe"], tr["precision"], tr["steps"], f"{tr['batch_size']} x {tr['seq_len']}",
                        tr["steps_per_s"], tr["tokens_per_s"], tr["peak_rss_mib"]]])
        out.append("")
    return "\n".join(out)


def summary_line(result: dict[str, Any]) -> dict[str, Any]:
    """The compact dict printed as the command's last line (machine-readable)."""
    best = max(result.get("inference") or [], key=lambda r: r["notes_per_s"], default=None)
    return {
        "name": result["name"], "commit": (result.get("commit") or "")[:12],
        "configurations": len(result.get("inference") or []),
        "best": {k: best[k] for k in ("dtype", "task", "batch_size", "notes_per_s")} if best else None,
        "load_s": {r["dtype"]: r["load_s"] for r in result.get("loads") or []},
        "train_tokens_per_s": (result.get("training") or {}).get("tokens_per_s"),
    }


def _f1(f1: dict[str, Any] | None) -> str:
    """"0.62 / 0.40 / 0.49 (0.50)": the bench's per-field macro-F1 and their mean ("-" for a result without it)."""
    if not f1:
        return "-"
    per = " / ".join("-" if f1[f] is None else f"{f1[f]:.2f}" for f in ("t_stage", "n_stage", "m_stage"))
    return per + ("" if f1["mean"] is None else f" ({f1['mean']:.3f})")


def engines_markdown(result: dict[str, Any]) -> str:
    """The engines x styles table of ``cancerllm bench --engines ...`` (``bench/engines.py``), ratios of notes/s to
    the paper's per-entity QA on transformers (hf qa.v1) when measured, else to the first row."""
    peak = result["matmul_peak"]
    lines = [f"# bench {result['name']}: engines x styles", "",
             (f"- created {result['created']}, commit {result.get('commit')}, {result['threads']} thread(s), load "
             f"average {result['load_average']['before']} -> {result['load_average']['after']}"),
             (f"- input {result['input']['input']}: {result['input']['notes']} notes, {result['input']['chars_mean']} "
             f"chars on average; gold labels {result['input']['gold']}"),
             (f"- matmul peak ({result['threads']} thread(s), 1024^3 torch.mm, best repeat): bf16 "
             f"{peak['bf16_gflops']} GFLOP/s, fp32 {peak['fp32_gflops']} GFLOP/s"), ""]
    rows = []
    # With per-style runs the run is a column (its folder name); a single run (or none) keeps the old table.
    runs = {e.get("run") for e in result["engines"]}
    show_run = len(runs) > 1

    def who(eng: dict[str, Any]) -> list[str]:
        return [eng["engine"]] + ([Path(eng["run"]).name if eng.get("run") else "-"] if show_run else [])

    ref = next((c for e in result["engines"] if e["engine"] == "hf" for c in e.get("cells", [])
                if c.get("style") == "qa.v1" and "notes_per_s" in c), None)
    base, base_cpu = (ref["notes_per_s"], ref["cpu_s_per_note"]) if ref else (None, None)
    for eng in result["engines"]:
        for c in eng.get("cells", []):
            if "error" in c:
                rows.append([*who(eng), c["style"], f"error: {c['error'][:80]}"] + ["-"] * 12)
                continue
            base, base_cpu = base or c["notes_per_s"], base_cpu or c["cpu_s_per_note"]
            sc = c["score"]
            rows.append([*who(eng), c["style"], f"{c['notes_per_s']:.3f}", ratio(c["notes_per_s"], base),
                         ratio(base_cpu, c["cpu_s_per_note"]),
                         f"{c['prompt_tokens_per_s']:.0f}", f"{c['new_tokens_per_s']:.1f}",
                         f"{c['latency_ms']['p50'] / 1000:.1f} / {c['latency_ms']['p95'] / 1000:.1f}",
                         f"{c['cpu_s_per_note']:.2f}", f"{c['peak_rss_mib']:.0f}", f"{eng.get('startup_s', '-')}",
                         "-" if sc["mean"] is None else f"{sc['mean']:.3f}",
                         " / ".join("-" if sc[f] is None else f"{sc[f]:.2f}" for f in ("t_stage", "n_stage", "m_stage")),
                         _f1(sc.get("macro_f1")),
                         f"{c['unparseable']}/{c['outputs']}" if c["outputs"] else "-"])
    first = "hf qa.v1" if ref else "first"
    lines += _table(["engine", *(["run"] if show_run else []), "style", "notes/s", f"vs {first}", f"CPU-s vs {first}", "prompt tok/s", "gen tok/s",
                     "p50 / p95 s (call)", "CPU-s/note", "peak RSS MiB", "start-up s", "T/N/M acc (mean)", "T / N / M", "T / N / M macro-F1 (mean)",
                     "unparseable"], rows)
    lines += ["", ("Prefill probe (each note's json.v1 prompt, 1 new token; FLOPs = 2 x non-embedding params x "
              "prompt tokens):"), ""]
    prow = []
    for eng in result["engines"]:
        p = eng.get("prefill_probe") or {}
        if "gflops" in p:
            prow.append([*who(eng), (eng.get("model") or {}).get("dtype"), p["prompt_tokens"], p["seconds"],
                         p.get("cpu_s", "-"), p["gflops"], p.get("gflops_per_cpu_s", "-"), p["peak_gflops"],
                         p["fraction_of_peak"], p.get("fraction_of_peak_cpu", "-")])
        if eng.get("error"):
            lines.append(f"- {eng['engine']}: {eng['error'][-300:]}")
    lines += _table(["engine", *(["run"] if show_run else []), "dtype", "prompt tokens", "wall s", "CPU s", "GFLOP/s (wall)", "GFLOP/CPU-s",
                     "matmul peak", "fraction (wall)", "fraction (CPU)"], prow)
    return "\n".join(lines) + "\n"
