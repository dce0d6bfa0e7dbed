"""Document-level classification scores (T, N, M, cancer type, ICD-10): accuracy, macro-F1, macro-recall,
confusion matrix, percentile bootstrap 95% CIs and a paired bootstrap test.

Conventions (also in docs/metrics.md):

* An abstention (predicted ``None``) is its own class ``"none"``: always wrong, and it lowers recall of the gold
  class. Items whose *gold* label is None are skipped by the caller.
* Macro averages run over the **gold classes** (classes present in ``y_true``), so a spurious predicted class
  lowers precision of nothing but costs recall of the true class; this matches how per-label macro-F1 is read in
  the TNM literature (SMM4H) when every class occurs in gold.
* Bootstrap resamples items with replacement (``n`` resamples, fixed seed) and recomputes the whole metric; the
  CI is the 2.5/97.5 percentile interval. Vectorised with numpy: 1,000 resamples of 1,000 items take ~50 ms.

Example:
    >>> s = classification_scores(["T1", "T2", "T2", "T3"], ["T1", "T2", None, "T2"])
    >>> s["accuracy"], s["macro_recall"], s["labels"]
    (0.5, 0.5, ['T1', 'T2', 'T3', 'none'])
    >>> round(s["macro_f1"], 4)
    0.5
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["METRIC_NAMES", "NONE", "bootstrap_ci", "classification_scores", "paired_bootstrap"]

NONE = "none"
METRIC_NAMES = ("accuracy", "macro_f1", "macro_recall")


def _encode(y_true: Sequence, y_pred: Sequence) -> tuple[np.ndarray, np.ndarray, list[str], int]:
    """Map labels to ints; gold classes first (sorted), then predicted-only classes, 'none' last."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} items but y_pred has {len(y_pred)}")
    t = [str(x) for x in y_true]
    p = [NONE if x is None else str(x) for x in y_pred]
    gold = sorted(set(t))
    extra = sorted(set(p) - set(gold) - {NONE}) + ([NONE] if NONE in p and NONE not in gold else [])
    labels = gold + extra
    idx = {c: i for i, c in enumerate(labels)}
    return np.array([idx[x] for x in t], dtype=np.int64), np.array([idx[x] for x in p], dtype=np.int64), labels, len(gold)


def _scores(cm: np.ndarray, n_gold: int) -> dict[str, np.ndarray]:
    """Metrics from a batch of confusion matrices ``cm[..., true, pred]``; macro over the first n_gold classes."""
    tp = np.diagonal(cm, axis1=-2, axis2=-1)[..., :n_gold].astype(float)
    support = cm.sum(-1)[..., :n_gold].astype(float)  # gold count per class
    predicted = cm.sum(-2)[..., :n_gold].astype(float)
    total = cm.sum((-2, -1)).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        f1 = np.where(support > 0, f1, np.nan)  # a class absent from a resample does not count in its average
        acc = np.diagonal(cm, axis1=-2, axis2=-1).sum(-1) / total
    return {"accuracy": acc, "macro_f1": np.nanmean(f1, -1), "macro_recall": np.nanmean(recall, -1)}


def classification_scores(y_true: Sequence, y_pred: Sequence) -> dict:
    """Accuracy, macro-F1, macro-recall, per-class P/R/F1 and the confusion matrix.

    Args:
        y_true: Gold labels (no None; filter those items out first).
        y_pred: Predicted labels; None means the model abstained.

    Returns:
        A JSON-safe dict: ``n``, ``accuracy``, ``macro_f1``, ``macro_recall``, ``labels`` (row/column order),
        ``confusion`` (rows = gold, columns = predicted) and ``per_class``.

    Example:
        >>> classification_scores([], [])["n"]
        0
    """
    if not y_true:
        return {"n": 0, "accuracy": None, "macro_f1": None, "macro_recall": None, "labels": [], "confusion": [],
                "per_class": {}}
    t, p, labels, n_gold = _encode(y_true, y_pred)
    k = len(labels)
    cm = np.bincount(t * k + p, minlength=k * k).reshape(k, k)
    s = _scores(cm, n_gold)
    per_class = {}
    for i, c in enumerate(labels[:n_gold]):
        tp, sup, prd = int(cm[i, i]), int(cm[i].sum()), int(cm[:, i].sum())
        pr, rc = (tp / prd if prd else 0.0), tp / sup
        per_class[c] = {"precision": pr, "recall": rc, "f1": 2 * pr * rc / (pr + rc) if pr + rc else 0.0,
                        "support": sup}
    return {"n": len(t), **{m: float(v) for m, v in s.items()}, "labels": labels, "confusion": cm.tolist(),
            "per_class": per_class}


def bootstrap_ci(y_true: Sequence, y_pred: Sequence, n: int = 1000, seed: int = 0,
                 alpha: float = 0.05) -> dict[str, list[float]]:
    """Percentile bootstrap CIs for accuracy, macro-F1 and macro-recall.

    Example:
        >>> ci = bootstrap_ci(["a", "b"] * 50, ["a", "b"] * 40 + ["b", "a"] * 10, n=200)
        >>> ci["accuracy"][0] < 0.8 < ci["accuracy"][1]
        True
    """
    if not y_true or n <= 0:
        return {}
    t, p, labels, n_gold = _encode(y_true, y_pred)
    k, m = len(labels), len(t)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, m, size=(n, m))
    # One flat bincount for all resamples: offset each resample's cells by b*k*k.
    cells = (np.arange(n)[:, None] * k * k + t[idx] * k + p[idx]).ravel()
    cm = np.bincount(cells, minlength=n * k * k).reshape(n, k, k)
    s = _scores(cm, n_gold)
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    return {name: [float(x) for x in np.nanpercentile(v, q)] for name, v in s.items()}


def paired_bootstrap(y_true: Sequence, pred_a: Sequence, pred_b: Sequence, n: int = 1000, seed: int = 0) -> dict:
    """Paired bootstrap test of A vs B on the same items, for each of :data:`METRIC_NAMES`.

    Returns, per metric, the observed difference ``A - B``, its 95% CI and a two-sided p-value
    ``min(1, 2 * min(P(diff <= 0), P(diff >= 0)))`` over resamples (Koehn 2004 style).

    Example:
        >>> gold = ["a", "b"] * 100
        >>> r = paired_bootstrap(gold, gold, ["a"] * 200, n=300)
        >>> r["accuracy"]["diff"], r["accuracy"]["p_value"] < 0.01
        (0.5, True)
    """
    if not y_true:
        return {}
    t, a, labels, n_gold = _encode(y_true, pred_a)
    # Encode B against the same label table (labels only B predicts go after A's).
    extra = sorted({NONE if x is None else str(x) for x in pred_b} - set(labels))
    labels = labels + extra
    lookup = {c: i for i, c in enumerate(labels)}
    b = np.array([lookup[NONE if x is None else str(x)] for x in pred_b], dtype=np.int64)
    k, m = len(labels), len(t)
    rng = np.random.default_rng(seed)
    idx = np.vstack([np.arange(m)[None], rng.integers(0, m, size=(n, m))])  # row 0 = the observed sample
    off = np.arange(n + 1)[:, None] * k * k
    cm_a = np.bincount((off + t[idx] * k + a[idx]).ravel(), minlength=(n + 1) * k * k).reshape(n + 1, k, k)
    cm_b = np.bincount((off + t[idx] * k + b[idx]).ravel(), minlength=(n + 1) * k * k).reshape(n + 1, k, k)
    sa, sb = _scores(cm_a, n_gold), _scores(cm_b, n_gold)
    out = {}
    for name in METRIC_NAMES:
        d = sa[name] - sb[name]
        boot = d[1:][~np.isnan(d[1:])]
        p = min(1.0, 2 * min(np.mean(boot <= 0), np.mean(boot >= 0))) if len(boot) else float("nan")
        out[name] = {"a": float(sa[name][0]), "b": float(sb[name][0]), "diff": float(d[0]),
                     "ci": [float(x) for x in np.percentile(boot, [2.5, 97.5])] if len(boot) else [],
                     "p_value": float(p)}
    return {"n": m, **out}
