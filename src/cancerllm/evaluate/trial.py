"""Scores for trial-criteria extraction (Chia): entities per type, relations, assertions, with bootstrap CIs.

* **entities**: strict (same type, same ``[start, end)``) and relaxed (same type, overlapping) P/R/F1 per type and
  micro over all types, one-to-one matching as in :func:`cancerllm.evaluate.spans.match_spans`.
* **relations**: strict = same relation type and both argument spans exact (the argument *types* are not
  required to match, so a relation is judged apart from the entity labels); relaxed = same type and both
  arguments overlap their gold spans (one-to-one).
* **assertions**: accuracy of ``negated`` / ``possible`` / ``present`` on relaxed entity matches.
* **CIs**: 95% percentile bootstrap over documents (sections), resampling whole documents so the correlation of
  mentions inside one trial section is kept.

Example:
    >>> from cancerllm.data.schema import Mention, Note, Prediction
    >>> ms = [Mention(type="Measurement", text="HbA1c", start=0, end=5), Mention(type="Value", text="> 7%",
    ...       start=6, end=10)]
    >>> gold = Note(id="d", text="HbA1c > 7%", mentions=ms, relations=[{"type": "Has_value", "head": 0, "tail": 1}])
    >>> pred = Prediction(id="d", task="trial", mentions=ms[:1] + [Mention(type="Value", text="7%", start=8,
    ...                   end=10)], relations=[{"type": "Has_value", "head": 0, "tail": 1}])
    >>> m = score_trial([gold], {"d": pred}, bootstrap=0)
    >>> m["entities"]["strict"]["micro"]["f1"], m["entities"]["relaxed"]["micro"]["f1"]
    (0.5, 1.0)
    >>> m["relations"]["strict"]["micro"]["f1"], m["relations"]["relaxed"]["micro"]["f1"]
    (0.0, 1.0)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cancerllm.data.schema import Mention, Note, Prediction, Relation
from cancerllm.evaluate.spans import SpanCounts, match_spans, prf
from cancerllm.knowledge.trial import TRIAL_ENTITY_TYPES, TRIAL_RELATION_TYPES

__all__ = ["evaluate_trial", "normalisation_accuracy", "relation_matches", "report_markdown", "score_trial"]

MODES = ("strict", "relaxed")


def _overlap(a: Mention, b: Mention) -> bool:
    return min(a.end, b.end) > max(a.start, b.start)


def relation_matches(gold: Note, gold_rels: Sequence[Relation], pmentions: Sequence[Mention],
                     prels: Sequence[Relation], strict: bool) -> list[tuple[int, int]]:
    """One-to-one ``(gold_index, pred_index)`` relation matches (see module docstring for the two modes)."""
    used_p: set[int] = set()
    out = []
    for gi, g in enumerate(gold_rels):
        gh, gt = gold.mentions[g.head], gold.mentions[g.tail]
        for pi, p in enumerate(prels):
            if pi in used_p or p.type != g.type:
                continue
            ph, pt = pmentions[p.head], pmentions[p.tail]
            if ph.start is None or pt.start is None:
                continue
            if strict:
                ok = (ph.start, ph.end, pt.start, pt.end) == (gh.start, gh.end, gt.start, gt.end)
            else:
                ok = _overlap(ph, gh) and _overlap(pt, gt)
            if ok:
                used_p.add(pi)
                out.append((gi, pi))
                break
    return out


def _doc_counts(gold: Note, pred: Prediction | None, etypes: list[str], rtypes: list[str]) -> dict[str, Any]:
    """Per-type ``[tp, pred, gold]`` of one document for entities and relations, both modes."""
    import numpy as np

    pm = [m for m in (pred.mentions if pred else []) if m.start is not None]
    # Predicted relation indices refer to the full mention list: keep only those whose arguments are grounded.
    full = pred.mentions if pred else []
    prels = [r for r in (pred.relations if pred else []) if full[r.head].start is not None
             and full[r.tail].start is not None]
    out = {}
    for mode in MODES:
        ent = np.zeros((len(etypes), 3), dtype=np.int64)
        for m in gold.mentions:
            if m.type in etypes:
                ent[etypes.index(m.type), 2] += 1
        for m in pm:
            if m.type in etypes:
                ent[etypes.index(m.type), 1] += 1
        for gi, _ in match_spans(gold.mentions, pm, strict=mode == "strict"):
            if gold.mentions[gi].type in etypes:
                ent[etypes.index(gold.mentions[gi].type), 0] += 1
        rel = np.zeros((len(rtypes), 3), dtype=np.int64)
        for r in gold.relations:
            if r.type in rtypes:
                rel[rtypes.index(r.type), 2] += 1
        for r in prels:
            if r.type in rtypes:
                rel[rtypes.index(r.type), 1] += 1
        for gi, _ in relation_matches(gold, gold.relations, full, prels, strict=mode == "strict"):
            if gold.relations[gi].type in rtypes:
                rel[rtypes.index(gold.relations[gi].type), 0] += 1
        out[mode] = {"entities": ent, "relations": rel}
    return out


def _table(counts, names: list[str], boot_idx, level: float = 0.95) -> dict[str, Any]:
    """P/R/F1 per name and micro from a (docs, names, 3) count array, with bootstrap F1 intervals."""
    import numpy as np

    total = counts.sum(axis=0)
    per = {n: prf(*map(int, total[i])) for i, n in enumerate(names) if total[i].any()}
    micro = prf(*map(int, total.sum(axis=0)))
    if boot_idx is not None:
        sums = counts[boot_idx].sum(axis=1)  # (B, names, 3)

        def f1(tp, p, g):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.nan_to_num(2 * tp / (p + g))  # F1 = 2TP / (pred + gold)

        lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
        for i, n in enumerate(names):
            if n in per:
                d = f1(sums[:, i, 0], sums[:, i, 1], sums[:, i, 2])
                per[n]["f1_ci"] = [round(float(np.percentile(d, lo)), 4), round(float(np.percentile(d, hi)), 4)]
        m = sums.sum(axis=1)
        d = f1(m[:, 0], m[:, 1], m[:, 2])
        micro["f1_ci"] = [round(float(np.percentile(d, lo)), 4), round(float(np.percentile(d, hi)), 4)]
    return {"per_type": per, "micro": micro}


def score_trial(gold: Sequence[Note], preds: dict[str, Prediction], bootstrap: int = 1000,
                seed: int = 0, etypes: Sequence[str] | None = None,
                rtypes: Sequence[str] | None = None) -> dict[str, Any]:
    """Entity, relation and assertion scores of ``preds`` (by id) against trial ``gold`` notes.

    A gold note without a prediction counts as predicting nothing (its gold mentions are misses). ``etypes`` /
    ``rtypes`` default to the Chia types; pathology notes pass their own (``ENTITY_TYPES``,
    ``PATHOLOGY_RELATION_TYPES``), and predicted mentions or relations of other types are not counted.
    """
    import numpy as np

    etypes = list(etypes or TRIAL_ENTITY_TYPES)
    rtypes = list(rtypes or TRIAL_RELATION_TYPES)
    docs = [_doc_counts(g, preds.get(g.id), etypes, rtypes) for g in gold]
    boot = None
    if bootstrap and len(docs) > 1:
        boot = np.random.default_rng(seed).integers(0, len(docs), size=(bootstrap, len(docs)))
    out: dict[str, Any] = {"documents": len(gold), "predicted": sum(g.id in preds for g in gold),
                           "bootstrap": bootstrap, "seed": seed, "entities": {}, "relations": {}}
    for mode in MODES:
        out["entities"][mode] = _table(np.stack([d[mode]["entities"] for d in docs]), etypes, boot)
        out["relations"][mode] = _table(np.stack([d[mode]["relations"] for d in docs]), rtypes, boot)
    acc = SpanCounts()
    for g in gold:
        p = preds.get(g.id)
        acc.add(g.mentions, p.mentions if p else [])
    s = acc.scores()
    out["assertions"] = {"accuracy": s["assertion_accuracy"], "by_gold_value": s["assertion_by_gold_value"]}
    out["ungrounded_pred"] = s["ungrounded_pred"]
    return out


def _cell(r: dict[str, Any] | None) -> str:
    if not r:
        return "-"
    ci = r.get("f1_ci")
    return f"{r['f1']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def report_markdown(m: dict[str, Any], title: str = "Trial criteria") -> str:
    """A Markdown table: entities per type (strict / relaxed F1 with CIs), relations per type, micro rows."""
    ent, rel = m["entities"], m["relations"]
    header = "| {} | gold | strict P | strict R | strict F1 | relaxed F1 |"
    intro = f"{m['documents']} documents; 95% bootstrap CIs over documents ({m['bootstrap']} resamples)."
    lines = [f"### {title}", "", intro, "", header.format("entity type"), "| --- | --- | --- | --- | --- | --- |"]
    for t in TRIAL_ENTITY_TYPES:
        s, r = ent["strict"]["per_type"].get(t), ent["relaxed"]["per_type"].get(t)
        if s:
            lines.append(f"| {t} | {s['gold']} | {s['precision']:.3f} | {s['recall']:.3f} | {_cell(s)} | {_cell(r)} |")
    s, r = ent["strict"]["micro"], ent["relaxed"]["micro"]
    lines.append(f"| **all (micro)** | {s['gold']} | {s['precision']:.3f} | {s['recall']:.3f} | {_cell(s)} | "
                 f"{_cell(r)} |")
    lines += ["", header.format("relation type"), "| --- | --- | --- | --- | --- | --- |"]
    for t in TRIAL_RELATION_TYPES:
        s, r = rel["strict"]["per_type"].get(t), rel["relaxed"]["per_type"].get(t)
        if s:
            lines.append(f"| {t} | {s['gold']} | {s['precision']:.3f} | {s['recall']:.3f} | {_cell(s)} | {_cell(r)} |")
    s, r = rel["strict"]["micro"], rel["relaxed"]["micro"]
    lines.append(f"| **all (micro)** | {s['gold']} | {s['precision']:.3f} | {s['recall']:.3f} | {_cell(s)} | "
                 f"{_cell(r)} |")
    a = m["assertions"]
    if a["accuracy"] is not None:
        parts = ", ".join(f"{k} {v['accuracy']:.3f} (n={v['n']})" for k, v in a["by_gold_value"].items())
        lines += ["", f"Assertion accuracy on relaxed matches: {a['accuracy']:.3f} ({parts})."]
    if "normalisation" in m:
        lines += ["", m["normalisation"]["summary"]]
    return "\n".join(lines) + "\n"


def normalisation_accuracy(sample: str | Path, bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Score the normaliser on a hand-checked sample (TSV: text, system_id, verdict; see
    ``tests/assets/chia_drug_normalisation_sample.tsv``).

    Verdicts: ``correct`` / ``wrong`` (a concept was given), ``missed`` / ``abstain_ok`` (none was given). Reports
    accuracy (correct + abstain_ok), precision of the concepts given, and recall where a concept exists, with
    bootstrap CIs over mentions. ``drift`` lists rows whose current output differs from the checked one: their
    verdicts no longer apply until re-checked.
    """
    import numpy as np

    from cancerllm.knowledge.normalize import concept_of

    lines = [ln.split("\t") for ln in Path(sample).read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    header, rows = lines[0], [dict(zip(lines[0], r)) for r in lines[1:]]
    if not {"text", "system_id", "verdict"} <= set(header):
        from cancerllm.errors import DataFormatError

        raise DataFormatError(f"{sample}: header needs text, system_id, verdict; got {header}")
    drift = []
    for i, r in enumerate(rows):
        c, _ = concept_of(r["text"], "Drug")
        if (c.id if c else "-") != r["system_id"]:
            drift.append(i + 1)  # 1-based data row
    v = np.array([r["verdict"] for r in rows])
    given = np.isin(v, ["correct", "wrong"])
    exists = np.isin(v, ["correct", "wrong", "missed"])
    ok = np.isin(v, ["correct", "abstain_ok"])
    out: dict[str, Any] = {"n": len(rows), "verdicts": {str(k): int((v == k).sum()) for k in sorted(set(v))},
                           "accuracy": round(float(ok.mean()), 4),
                           "precision": round(float((v == "correct").sum() / max(1, given.sum())), 4),
                           "recall": round(float((v == "correct").sum() / max(1, exists.sum())), 4), "drift": drift}
    if bootstrap and len(rows) > 1:
        idx = np.random.default_rng(seed).integers(0, len(rows), size=(bootstrap, len(rows)))
        acc = ok[idx].mean(axis=1)
        out["accuracy_ci"] = [round(float(np.percentile(acc, 2.5)), 4), round(float(np.percentile(acc, 97.5)), 4)]
    return out


def evaluate_trial(pred: str | Path, gold: str | Path, out: str | Path | None = None, bootstrap: int = 1000,
                   seed: int = 0, norm_sample: str | Path | None = None) -> dict[str, Any]:
    """Score a trial prediction JSONL against gold trial notes; write ``metrics.json`` and ``report.md``.

    Raises:
        DataFormatError: no readable gold note or prediction.
    """
    from cancerllm.data.io import read_jsonl, read_notes_reporting
    from cancerllm.errors import DataFormatError
    from cancerllm.knowledge.normalize import normalisation_coverage

    gold_notes = read_notes_reporting(gold, "gold")
    errors: list[DataFormatError] = []
    preds = {p.id: p for p in read_jsonl(pred, Prediction, errors=errors)}
    if not preds:
        raise DataFormatError(f"{pred}: no readable prediction record ({len(errors)} bad line(s))")
    m = score_trial(gold_notes, preds, bootstrap=bootstrap, seed=seed)
    m["invalid_predictions"] = [str(e) for e in errors]
    m["normalisation"] = normalisation_coverage(list(preds.values()))
    if norm_sample is not None:
        m["normalisation"]["sample"] = ns = normalisation_accuracy(norm_sample, bootstrap, seed)
        m["normalisation"]["summary"] += (
            f" Hand-checked sample ({ns['n']} gold Drug mentions): accuracy {ns['accuracy']:.2f} "
            f"{[round(x, 2) for x in ns.get('accuracy_ci', [])]}, precision of given concepts {ns['precision']:.2f}, recall "
            f"{ns['recall']:.2f} ({ns['verdicts']}).")
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / "metrics.json").write_text(json.dumps(m, indent=2) + "\n", encoding="utf-8")
        (o / "report.md").write_text(report_markdown(m), encoding="utf-8")
    return m
