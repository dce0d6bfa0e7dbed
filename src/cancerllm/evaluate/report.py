"""Write an evaluation folder: ``metrics.json``, ``items.jsonl`` (per-note gold/pred labels, no text, used by
``compare``), ``report.md`` and a self-contained ``report.html`` (plots embedded as base64 PNG).

Plots: per-type F1 bars (span strict/overlap, or the paper's per-type average F1), one confusion matrix per
classification label, and accuracy by cancer type. matplotlib runs with the Agg backend (no display needed).

Example:
    >>> md_table(["a", "b"], [[1, 0.5]])
    '| a | b |\\n|---|---|\\n| 1 | 0.500 |'
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

__all__ = ["fmt_ci", "md_table", "render_markdown", "write_reports"]

_MAX_CM_LABELS = 35  # larger confusion matrices (ICD exact) are unreadable: shown in metrics.json only


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-markdown table; floats get 3 decimals."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def fmt_ci(value: float | None, ci: list[float] | None) -> str:
    """``0.812 [0.770, 0.851]``.

    Example:
        >>> fmt_ci(0.5, [0.4, 0.6])
        '0.500 [0.400, 0.600]'
    """
    if value is None:
        return "-"
    return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def render_markdown(m: dict[str, Any], title: str = "Evaluation report") -> str:
    """The report body as markdown (also embedded in the HTML)."""
    parts = [f"# {title}", "", (f"pred: `{m.get('pred_file')}`  gold: `{m.get('gold_file')}`  task: {m.get('task')}  "
             f"notes: {m['n_notes']}  bootstrap: {m.get('bootstrap')} (seed {m.get('seed')})"), ""]
    rows = []
    for key, r in m["classification"].items():
        if r.get("not_predicted"):
            rows.append([key, r["n"], "not predicted", "-", "-", "-"])
            continue
        ci = r.get("ci95", {})
        rows.append([key, r["n"], fmt_ci(r["accuracy"], ci.get("accuracy")), fmt_ci(r["macro_f1"], ci.get("macro_f1")),
                     fmt_ci(r["macro_recall"], ci.get("macro_recall")), r.get("abstained", 0)])
    if rows:
        parts += ["## Classification (95% bootstrap CI)", "",
                  md_table(["label", "n", "accuracy", "macro-F1", "macro-recall", "abstained"], rows), ""]
    for task, p in m.get("paper", {}).items():
        if not p.get("n_items"):
            continue
        parts += [f"## Paper metrics: {task} (soft set P/R/F1 x100, {p['n_items']} items)", "",
                  md_table(["metric", "P", "R", "F1"],
                           [[k, p[k]["precision"], p[k]["recall"], p[k]["f1"]] for k in ("em", "bleu2", "rouge_l",
                                                                                          "rouge1")]),
                  "", f"**Average F1 (EM, BLEU-2, ROUGE-L): {p['avg_f1']:.2f}**"
                  + (f" [{p['avg_f1_ci'][0]:.2f}, {p['avg_f1_ci'][1]:.2f}]" if "avg_f1_ci" in p else ""), ""]
    if "spans" in m:
        s = m["spans"]
        rows = [[t, v["f1"], s["overlap"]["per_type"][t]["f1"], v["gold"], v["pred"]]
                for t, v in s["strict"]["per_type"].items()]
        rows += [["micro", s["strict"]["micro"]["f1"], s["overlap"]["micro"]["f1"], s["strict"]["micro"]["gold"],
                  s["strict"]["micro"]["pred"]], ["macro", s["strict"]["macro"]["f1"], s["overlap"]["macro"]["f1"], "", ""]]
        parts += ["## Spans", "", md_table(["type", "strict F1", "overlap F1", "gold", "pred"], rows), "",
                  (f"Assertion accuracy (overlap-matched): {_fmt(s['assertion_accuracy'])}; "
                  f"ungrounded predictions: {s['ungrounded_pred']}"), ""]
    if "relations" in m:  # pathology relations (gold from `cancerllm data synth --relations`)
        r = m["relations"]
        rows = [[t, v["gold"], v["pred"], v["precision"], v["recall"], fmt_ci(v["f1"], v.get("f1_ci")),
                 r["relaxed"]["per_type"][t]["f1"]] for t, v in r["strict"]["per_type"].items()]
        mi = r["strict"]["micro"]
        rows.append(["micro", mi["gold"], mi["pred"], mi["precision"], mi["recall"], fmt_ci(mi["f1"], mi.get("f1_ci")),
                     r["relaxed"]["micro"]["f1"]])
        parts += ["## Relations (strict: both argument spans exact; 95% bootstrap CI over notes)", "",
                  md_table(["type", "gold", "pred", "P", "R", "strict F1", "relaxed F1"], rows), ""]
    bct = m.get("by_cancer_type", {})
    if bct:
        keys = sorted({k for v in bct.values() for k in v if k != "n"})
        parts += ["## By cancer type (accuracy; paper_* = average F1 0-1)", "",
                  md_table(["cancer type", "n", *keys], [[ct, v["n"], *[v.get(k) for k in keys]] for ct, v in bct.items()]),
                  ""]
    parts += ["## Input problems", "", f"- invalid prediction lines: {len(m.get('invalid_predictions', []))}",
              (f"- missing predictions: {len(m.get('missing_predictions', []))} "
              f"(+{len(m.get('missing_because_invalid', []))} whose line was invalid)"),
              f"- predictions with errors: {m.get('predictions_with_errors', 0)}",
              f"- prediction ids not in gold: {len(m.get('unknown_prediction_ids', []))}"]
    parts += [f"  - `{x['where']}` ({x['id']}): {x['error']}" for x in m.get("invalid_predictions", [])[:20]]
    return "\n".join(parts) + "\n"


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(m: dict[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = []
    if "spans" in m and m["spans"]["strict"]["per_type"]:
        types = list(m["spans"]["strict"]["per_type"])
        x = np.arange(len(types))
        fig, ax = plt.subplots(figsize=(max(5, len(types) * 0.7), 3.5))
        for off, mode in ((-0.2, "strict"), (0.2, "overlap")):
            ax.bar(x + off, [m["spans"][mode]["per_type"][t]["f1"] for t in types], 0.4, label=mode)
        ax.set_xticks(x, types, rotation=45, ha="right"), ax.set_ylim(0, 1), ax.set_ylabel("F1"), ax.legend()
        out.append(("Span F1 per entity type", _png(fig)))
    pheno = m.get("paper", {}).get("phenotype", {}).get("avg_f1_by_group")
    if pheno:
        fig, ax = plt.subplots(figsize=(max(5, len(pheno) * 0.7), 3.5))
        ax.bar(list(pheno), list(pheno.values()))
        ax.set_ylabel("paper average F1 (x100)"), ax.tick_params(axis="x", rotation=45)
        out.append(("Paper average F1 per entity type", _png(fig)))
    for key, r in m["classification"].items():
        if r.get("not_predicted") or not r.get("labels") or len(r["labels"]) > _MAX_CM_LABELS:
            continue
        cm, labels = np.array(r["confusion"]), r["labels"]
        n_gold = len(r["per_class"])
        fig, ax = plt.subplots(figsize=(2 + 0.35 * len(labels), 1.5 + 0.35 * n_gold))
        ax.imshow(cm[:n_gold], cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=90), ax.set_yticks(range(n_gold), labels[:n_gold])
        ax.set_xlabel("predicted"), ax.set_ylabel("gold")
        if len(labels) <= 8:
            for (i, j), v in np.ndenumerate(cm[:n_gold]):
                ax.text(j, i, str(v), ha="center", va="center", fontsize=8)
        out.append((f"Confusion matrix: {key} (acc {r['accuracy']:.3f})", _png(fig)))
    bct = {k: v for k, v in m.get("by_cancer_type", {}).items() if k != "unknown"}
    keys = sorted({k for v in bct.values() for k in v if k != "n"})
    if bct and keys:
        cts = list(bct)
        x = np.arange(len(cts))
        w = 0.8 / len(keys)
        fig, ax = plt.subplots(figsize=(max(6, len(cts) * 0.5), 3.8))
        for i, k in enumerate(keys):
            ax.bar(x - 0.4 + w * (i + 0.5), [bct[c].get(k, np.nan) for c in cts], w, label=k)
        ax.set_xticks(x, [f"{c} ({bct[c]['n']})" for c in cts], rotation=90), ax.set_ylim(0, 1)
        ax.set_ylabel("score"), ax.legend(fontsize=7, ncol=3)
        out.append(("Score by cancer type", _png(fig)))
    return out


def write_reports(metrics: dict[str, Any], scorer_items: list[dict[str, Any]], out: str | Path) -> Path:
    """Write metrics.json, items.jsonl, report.md and report.html into ``out``; returns the folder."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.json").write_text(json.dumps(metrics, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    with open(d / "items.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(it, ensure_ascii=False) + "\n" for it in scorer_items)
    md = render_markdown(metrics)
    (d / "report.md").write_text(md, encoding="utf-8")
    imgs = "".join(f"<h3>{html.escape(t)}</h3><img alt='{html.escape(t)}' src='data:image/png;base64,{b}'/>"
                   for t, b in _plots(metrics))
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>CancerLLM evaluation</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}pre{white-space:pre-wrap}"
            "img{max-width:100%}</style></head><body>"
            f"<pre>{html.escape(md)}</pre><h2>Plots</h2>{imgs}</body></html>")
    (d / "report.html").write_text(page, encoding="utf-8")
    return d
