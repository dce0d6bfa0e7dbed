"""The evaluation accumulator: feed ``(gold note, prediction or None)`` pairs, then ``get_metric()``.

One :class:`Scorer` computes every view at once:

* ``paper``: the reference paper's soft P/R/F1 with EM, BLEU-2 and ROUGE-L (plus the shipped Rouge1) and their
  average F1, x100. Phenotype items are (note, entity type) pairs over the gold type inventory, with the
  comma-split mention values as answers (both empty -> 1, as in the paper's per-question QA); ``nonempty``
  repeats it on items where gold or prediction is non-empty. Diagnosis items compare diagnosis text.
* ``spans``: strict/overlap span P/R/F1 and assertion accuracy (:mod:`cancerllm.evaluate.spans`).
* ``classification``: T, N, M, cancer type, ICD-10 (exact and 3-character category) with bootstrap CIs.
* ``by_cancer_type``: accuracy per label and paper average F1 per TCGA project.

Example:
    >>> from cancerllm.data.schema import Note, Prediction
    >>> gold = Note(id="a", text="pT2 N0", labels={"t_stage": "T2", "n_stage": "N0", "m_stage": None})
    >>> sc = Scorer(bootstrap=0)
    >>> sc(gold, Prediction(id="a", task="phenotype", labels={"t_stage": "T2", "n_stage": None}))
    >>> m = sc.get_metric(reset=True)
    >>> m["classification"]["t_stage"]["accuracy"], m["classification"]["n_stage"]["accuracy"]
    (1.0, 0.0)
    >>> "m_stage" in m["classification"]  # gold is null for every note: skipped
    False
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from cancerllm.data.schema import Mention, Note, Prediction
from cancerllm.evaluate.classification import bootstrap_ci, classification_scores
from cancerllm.evaluate.metrics import PAPER_METRICS, rouge1, soft_prf
from cancerllm.evaluate.normalize import split_answers
from cancerllm.evaluate.spans import SpanCounts

__all__ = ["LABEL_KEYS", "TASK_LABELS", "Scorer", "gold_labels", "pred_labels"]

LABEL_KEYS = ("t_stage", "n_stage", "m_stage", "cancer_type", "icd10", "icd10_category")
_RAW_KEYS = {"t_stage": "t_stage", "n_stage": "n_stage", "m_stage": "m_stage", "icd10": "icd_10"}
_MATCH = {**PAPER_METRICS, "rouge1": rouge1}
# The labels a record of each task answers, whether or not its output parsed: a diagnosis run whose every
# generation failed has predicted ICD-10 (and got it wrong), it has not skipped it (issue 11.7). Labels outside
# these (e.g. a TF-IDF baseline's cancer_type on phenotype records) count once a record carries the key.
TASK_LABELS = {"phenotype": ("t_stage", "n_stage", "m_stage"),
               "diagnosis": ("icd10", "icd10_category", "cancer_type")}


def _icd_category(code: str | None) -> str | None:
    return code.strip().upper().split(".")[0][:3] if code else None


def gold_labels(note: Note) -> dict[str, str | None]:
    """Gold document labels; falls back to the raw TCGA top-level keys (``t_stage``, ``icd_10``) if ``labels``
    is empty, so the shared TCGA files can be scored directly.

    Example:
        >>> gold_labels(Note(id="x", text=".", t_stage="T3", icd_10="C50.9", cancer_type="BRCA"))["icd10_category"]
        'C50'
    """
    extra = note.model_extra or {}
    out = {k: note.labels.get(k, extra.get(raw) if not note.labels else None) for k, raw in _RAW_KEYS.items()}
    if note.diagnosis is not None and note.diagnosis.icd10:
        out["icd10"] = note.diagnosis.icd10
    out["cancer_type"] = note.labels.get("cancer_type") or note.cancer_type or (
        note.diagnosis.cancer_type if note.diagnosis else None)
    out["icd10_category"] = _icd_category(out["icd10"])
    return out


def pred_labels(preds: list[Prediction]) -> dict[str, str | None]:
    """Merge the labels of one note's prediction records (phenotype first, diagnosis fills the gaps)."""
    out: dict[str, str | None] = {}
    for p in sorted(preds, key=lambda p: p.task != "phenotype"):
        for k, v in p.labels.items():
            if out.get(k) is None:
                out[k] = v
        if p.diagnosis is not None:
            out.setdefault("icd10", p.diagnosis.icd10)
            if out.get("cancer_type") is None and p.diagnosis.cancer_type:
                out["cancer_type"] = p.diagnosis.cancer_type
    if "icd10" in out:
        out["icd10_category"] = _icd_category(out["icd10"])
    return out


def _answers(mentions: list[Mention], etype: str) -> list[str]:
    return [a for m in mentions if m.type == etype for a in split_answers(m.value or m.text)]


class Scorer:
    """Accumulates per-item results; ``get_metric`` turns them into the metrics.json dict."""

    def __init__(self, bootstrap: int = 1000, seed: int = 0, types: list[str] | None = None):
        self.bootstrap, self.seed, self.fixed_types = bootstrap, seed, types
        self.reset()

    def reset(self) -> None:
        self.items: list[dict[str, Any]] = []  # per note: id, cancer_type, labels {k: [gold, pred]}, paper F1s
        self.spans = SpanCounts()
        self.predicted_keys: set[str] = set()
        self._pheno: list[tuple[Note, list[Mention]]] = []
        self._diag: list[tuple[str, list[str], list[str]]] = []

    def __call__(self, gold: Note, preds: Prediction | list[Prediction] | None) -> None:
        """Score one note. ``preds`` None or [] means the prediction is missing or invalid (all wrong)."""
        preds = [preds] if isinstance(preds, Prediction) else list(preds or [])
        g, p = gold_labels(gold), pred_labels(preds)
        # "Predicted" means the run has records for the task, not that a value parsed (see TASK_LABELS).
        self.predicted_keys |= {k for k in p} | {k for q in preds for k in (*TASK_LABELS[q.task], *q.labels)}
        item = {"id": gold.id, "cancer_type": g["cancer_type"], "labels": {k: [g[k], p.get(k)] for k in LABEL_KEYS
                                                                            if g[k] is not None}, "paper": {}}
        self.items.append(item)
        mentions = [m for q in preds if q.task == "phenotype" for m in q.mentions]
        if gold.mentions or any(q.task == "phenotype" for q in preds):
            self.spans.add(gold.mentions, mentions)
            self._pheno.append((gold, mentions))
        diag = next((q.diagnosis for q in preds if q.diagnosis is not None), None)
        if gold.diagnosis is not None and gold.diagnosis.text:
            self._diag.append((gold.id, split_answers(gold.diagnosis.text), split_answers(diag.text if diag else "")))

    # --- paper metrics -------------------------------------------------------------------------------------
    def _paper(self, rows: list[tuple[str, str, list[str], list[str]]]) -> dict:
        """rows = (note id, group, golds, preds). Means over items, x100; CI by resampling notes."""
        if not rows:
            return {"n_items": 0}
        per = {name: np.array([soft_prf(pr, gd, fn, None) for _, _, gd, pr in rows]) for name, fn in _MATCH.items()}
        out: dict[str, Any] = {"n_items": len(rows)}
        for name, arr in per.items():
            out[name] = dict(zip(("precision", "recall", "f1"), (round(100 * float(x), 2) for x in arr.mean(0))))
        avg = np.mean([per[n][:, 2] for n in PAPER_METRICS], axis=0)  # per-item mean of the three F1s
        out["avg_f1"] = round(100 * float(avg.mean()), 2)
        by_group = defaultdict(list)
        for (nid, grp, _, _), v in zip(rows, avg):
            by_group[grp].append(v)
        out["avg_f1_by_group"] = {k: round(100 * float(np.mean(v)), 2) for k, v in sorted(by_group.items())}
        # Items of one note are correlated: resample notes and take the ratio of sums.
        note_ids = sorted({r[0] for r in rows})
        pos = {n: i for i, n in enumerate(note_ids)}
        sums, cnts = np.zeros(len(note_ids)), np.zeros(len(note_ids))
        for (nid, *_), v in zip(rows, avg):
            sums[pos[nid]] += v
            cnts[pos[nid]] += 1
        if self.bootstrap > 0:
            idx = np.random.default_rng(self.seed).integers(0, len(note_ids), (self.bootstrap, len(note_ids)))
            boots = sums[idx].sum(1) / cnts[idx].sum(1)
            out["avg_f1_ci"] = [round(100 * float(x), 2) for x in np.percentile(boots, [2.5, 97.5])]
        self._note_avg = {n: float(sums[i] / cnts[i]) for n, i in pos.items()}
        return out

    def _phenotype_rows(self, nonempty: bool) -> list:
        types = self.fixed_types or sorted({m.type for g, _ in self._pheno for m in g.mentions})
        rows = []
        for gold, mentions in self._pheno:
            for t in types:
                gd, pr = _answers(gold.mentions, t), _answers(mentions, t)
                if not nonempty or gd or pr:
                    rows.append((gold.id, t, gd, pr))
        return rows

    def get_metric(self, reset: bool = False) -> dict[str, Any]:
        """All scores as a JSON-safe dict (see module docstring); ``reset`` clears the accumulator after."""
        out: dict[str, Any] = {"n_notes": len(self.items), "paper": {}, "classification": {}}
        if self._pheno:
            out["paper"]["phenotype"] = self._paper(self._phenotype_rows(nonempty=False))
            self._attach_item_scores("phenotype")  # before the next _paper call replaces the per-note means
            out["paper"]["phenotype_nonempty"] = self._paper(self._phenotype_rows(nonempty=True))
            out["spans"] = self.spans.scores()
        if self._diag:
            out["paper"]["diagnosis"] = self._paper([(i, "diagnosis", g, p) for i, g, p in self._diag])
            self._attach_item_scores("diagnosis")
        for key in LABEL_KEYS:
            pairs = [(it["labels"][key][0], it["labels"][key][1]) for it in self.items if key in it["labels"]]
            if not pairs:
                continue
            if key not in self.predicted_keys:  # no record of this run answers it (e.g. the regex baseline's type)
                out["classification"][key] = {"n": len(pairs), "not_predicted": True}
                continue
            yt, yp = [a for a, _ in pairs], [b for _, b in pairs]
            res = classification_scores(yt, yp)
            res["ci95"] = bootstrap_ci(yt, yp, n=self.bootstrap, seed=self.seed)
            res["abstained"] = sum(b is None for b in yp)
            out["classification"][key] = res
        out["by_cancer_type"] = self._by_cancer_type(out["classification"])
        if reset:
            self.reset()
        return out

    def _attach_item_scores(self, task: str) -> None:
        by_id = {it["id"]: it for it in self.items}
        for nid, v in getattr(self, "_note_avg", {}).items():
            if nid in by_id:
                by_id[nid]["paper"][task] = round(v, 6)

    def _by_cancer_type(self, cls: dict) -> dict[str, dict[str, Any]]:
        groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for it in self.items:
            ct = it["cancer_type"] or "unknown"
            for k, (g, p) in it["labels"].items():
                if k in cls and not cls[k].get("not_predicted"):
                    groups[ct][k].append(g == p)
            for task, v in it["paper"].items():
                groups[ct][f"paper_{task}"].append(v)
        return {ct: {"n": sum(1 for it in self.items if (it["cancer_type"] or "unknown") == ct),
                     **{k: round(float(np.mean(v)), 4) for k, v in sorted(d.items())}}
                for ct, d in sorted(groups.items())}
