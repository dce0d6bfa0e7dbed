"""Scores per rate, the area under a degradation curve, and the curve's plot and Markdown table.

Scores come from the evaluation package's :class:`~cancerllm.evaluate.scorer.Scorer` (no CIs: a curve has many
points and the bootstrap would dominate the run time). The headline metrics of a curve:

* ``<label>_acc`` for every document label the predictor outputs (t/n/m stage, cancer type, ICD-10);
* ``span_f1_strict`` / ``span_f1_overlap``: micro span F1 against the (remapped) gold mentions, for predictors
  that ground their values;
* ``paper_avg_f1`` (phenotype) / ``diagnosis_avg_f1``: the paper's EM/BLEU-2/ROUGE-L average F1, scaled to 0-1.

The AUC is the trapezoid area over the rates divided by the rate range, so it reads as a mean score over the
range and a flat curve has AUC = its score.

Example:
    >>> auc([0.0, 0.1, 0.3], [1.0, 0.8, 0.4])
    0.7
    >>> auc([0.2], [0.5]), auc([0.0, 0.1], [0.9, None])
    (0.5, None)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["auc", "score", "summarize", "write_curve"]


def auc(rates: Sequence[float], values: Sequence[float | None]) -> float | None:
    """Normalised trapezoid area under ``values`` over ``rates`` (None if any point is missing)."""
    if not rates or any(v is None for v in values):
        return None
    if len(rates) == 1 or rates[-1] == rates[0]:
        return round(float(values[0]), 4)
    area = sum((rates[i + 1] - rates[i]) * (values[i] + values[i + 1]) / 2 for i in range(len(rates) - 1))
    return round(area / (rates[-1] - rates[0]), 4)


def score(gold: Sequence[Any], preds: Sequence[Any], grounded: bool = True) -> dict[str, Any]:
    """Headline metrics of one rate (``metrics``) plus the Scorer's full output (``detail``)."""
    from cancerllm.evaluate.scorer import Scorer

    sc = Scorer(bootstrap=0)
    by_id: dict[str, list[Any]] = {}
    for p in preds:
        by_id.setdefault(p.id, []).append(p)
    for note in gold:  # a missing prediction counts as all wrong, never as skipped
        sc(note, by_id.get(note.id))
    detail = sc.get_metric()
    metrics: dict[str, float] = {}
    for key, res in detail["classification"].items():
        if res.get("accuracy") is not None and key != "icd10_category":
            metrics[f"{key}_acc"] = round(res["accuracy"], 4)
    spans = detail.get("spans")
    if grounded and spans and spans["strict"]["micro"]["gold"]:
        metrics["span_f1_strict"] = spans["strict"]["micro"]["f1"]
        metrics["span_f1_overlap"] = spans["overlap"]["micro"]["f1"]
    paper = detail["paper"]
    # The paper's scores are x100; curves share one 0-1 axis.
    if grounded and "phenotype" in paper:
        metrics["paper_avg_f1"] = round(paper["phenotype"]["avg_f1"] / 100, 4)
    if "diagnosis" in paper and any(p.diagnosis is not None for p in preds):
        metrics["diagnosis_avg_f1"] = round(paper["diagnosis"]["avg_f1"] / 100, 4)
    for d in detail.get("by_cancer_type", {}).values():  # per-note lists are bulky; the curve needs the summary
        d.pop("paper_phenotype", None)
    return {"metrics": metrics, "detail": {k: v for k, v in detail.items() if k != "by_cancer_type"}}


def summarize(per_rate: list[dict[str, Any]], **info: Any) -> dict[str, Any]:
    """The ``scores.json`` dict: metric -> list over rates, AUC per metric, and each rate's detail."""
    rates = [r["rate"] for r in per_rate]
    names = sorted({k for r in per_rate for k in r["metrics"]})
    curves = {k: [r["metrics"].get(k) for r in per_rate] for k in names}
    return {**info, "rates": rates, "metrics": curves, "auc": {k: auc(rates, v) for k, v in curves.items()},
            "per_rate": per_rate}


def write_curve(scores: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write ``curve.png`` (one line per metric) and ``curve.md`` (table + AUC row) into ``out``."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display: works on a headless server
    import matplotlib.pyplot as plt

    out = Path(out)
    rates, curves = scores["rates"], scores["metrics"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for name, values in curves.items():
        pts = [(r, v) for r, v in zip(rates, values) if v is not None]
        if pts:
            ax.plot(*zip(*pts), marker="o", label=f"{name} (AUC {scores['auc'][name]})")
    ax.set_xlabel("label-noise rate" if scores.get("testbed") == "label-noise" else "perturbation rate")
    ax.set_ylabel("score")
    ax.set_ylim(0, 1.02 if all(v is None or v <= 1 for vs in curves.values() for v in vs) else None)
    ax.set_title(f"{scores.get('testbed')}: {scores.get('predictor')} (mitigation: {scores.get('mitigation')})",
                 fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    png = out / "curve.png"
    fig.savefig(png, metadata={"Software": None})  # no version stamp: identical runs give identical files
    plt.close(fig)

    head = "| rate | " + " | ".join(curves) + " |"
    perturbed = ", ".join(scores.get("perturbations") or []) or "-"
    lines = [f"# {scores.get('testbed')} testbed: {scores.get('predictor')}, mitigation {scores.get('mitigation')}",
             "", f"Test notes: {scores.get('n_test')}; seed {scores.get('seed')}; perturbations {perturbed}.", "",
             head, "|" + " --- |" * (len(curves) + 1)]
    for i, r in enumerate(rates):
        cells = ["-" if curves[k][i] is None else f"{curves[k][i]:.4f}" for k in curves]
        lines.append(f"| {r:g} | " + " | ".join(cells) + " |")
    lines.append("| **AUC** | " + " | ".join("-" if scores["auc"][k] is None else f"**{scores['auc'][k]:.4f}**"
                                              for k in curves) + " |")
    md = out / "curve.md"
    md.write_text("\n".join(lines) + "\n")
    return png, md
