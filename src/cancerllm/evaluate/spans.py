"""Entity-level span scores: strict and overlapping P/R/F1 per type, micro and macro, and assertion accuracy.

* **strict**: a predicted mention matches a gold mention of the same type with the same ``[start, end)``.
* **overlap**: same type and the two character ranges share at least one character. Matching is one-to-one
  (greedy by largest overlap), so one long prediction cannot match three gold mentions.
* Mentions without a span (``inferred=True``) cannot be grounded: they are left out of span scores and counted
  under ``ungrounded_pred``.
* **assertion accuracy**: among overlap-matched pairs, the share with the same assertion (present, negated, ...).

Example:
    >>> from cancerllm.data.schema import Mention
    >>> g = [Mention(type="grade", text="grade 2", start=0, end=7)]
    >>> p = [Mention(type="grade", text="grade 2,", start=0, end=8, assertion="negated")]
    >>> acc = SpanCounts(); acc.add(g, p); s = acc.scores()
    >>> s["strict"]["micro"]["f1"], s["overlap"]["micro"]["f1"], s["assertion_accuracy"]
    (0.0, 1.0, 0.0)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from cancerllm.data.schema import Mention

__all__ = ["SpanCounts", "match_spans", "prf"]


def prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    """Precision, recall, F1 from counts (0 where undefined).

    Example:
        >>> prf(2, 4, 2)
        {'precision': 0.5, 'recall': 1.0, 'f1': 0.6667, 'tp': 2, 'pred': 4, 'gold': 2}
    """
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "pred": n_pred,
            "gold": n_gold}


def match_spans(gold: Sequence[Mention], pred: Sequence[Mention], strict: bool) -> list[tuple[int, int]]:
    """One-to-one matches ``(gold_index, pred_index)`` between grounded mentions of the same type.

    Example:
        >>> a = Mention(type="histology", text="ductal carcinoma", start=10, end=26)
        >>> b = Mention(type="histology", text="carcinoma", start=17, end=26)
        >>> match_spans([a], [b], strict=True), match_spans([a], [b], strict=False)
        ([], [(0, 0)])
    """
    cands = []
    for gi, g in enumerate(gold):
        for pi, p in enumerate(pred):
            if g.type != p.type or g.start is None or p.start is None:
                continue
            if strict:
                if (g.start, g.end) == (p.start, p.end):
                    cands.append((g.end - g.start, gi, pi))
            else:
                ov = min(g.end, p.end) - max(g.start, p.start)
                if ov > 0:
                    cands.append((ov, gi, pi))
    # Greedy by overlap size (ties by position) gives a deterministic one-to-one assignment.
    cands.sort(key=lambda c: (-c[0], c[1], c[2]))
    used_g, used_p, out = set(), set(), []
    for _, gi, pi in cands:
        if gi not in used_g and pi not in used_p:
            used_g.add(gi)
            used_p.add(pi)
            out.append((gi, pi))
    return sorted(out)


class SpanCounts:
    """Accumulates per-type true positives, predictions and gold counts over notes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.counts = {mode: defaultdict(lambda: [0, 0, 0]) for mode in ("strict", "overlap")}
        self.assert_ok = self.assert_n = self.ungrounded = 0
        self.assert_by_value: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def add(self, gold: Sequence[Mention], pred: Sequence[Mention]) -> None:
        """Add one note's gold and predicted mentions."""
        grounded = [m for m in pred if m.start is not None]
        self.ungrounded += len(pred) - len(grounded)
        gold_g = [m for m in gold if m.start is not None]
        for mode in ("strict", "overlap"):
            c = self.counts[mode]
            for m in gold_g:
                c[m.type][2] += 1
            for m in grounded:
                c[m.type][1] += 1
            pairs = match_spans(gold_g, grounded, strict=mode == "strict")
            for gi, _ in pairs:
                c[gold_g[gi].type][0] += 1
            if mode == "overlap":
                for gi, pi in pairs:
                    ok = gold_g[gi].assertion == grounded[pi].assertion
                    self.assert_ok += ok
                    self.assert_n += 1
                    self.assert_by_value[gold_g[gi].assertion][0] += ok
                    self.assert_by_value[gold_g[gi].assertion][1] += 1

    def scores(self) -> dict:
        """Per-type, micro and macro P/R/F1 for both modes, plus assertion accuracy (None if nothing matched)."""
        out: dict = {}
        for mode, c in self.counts.items():
            per_type = {t: prf(*v) for t, v in sorted(c.items())}
            tot = [sum(v[i] for v in c.values()) for i in range(3)]
            gold_types = [t for t, v in c.items() if v[2] > 0]  # macro over types that occur in gold
            macro = {k: round(sum(per_type[t][k] for t in gold_types) / len(gold_types), 4) if gold_types else 0.0
                     for k in ("precision", "recall", "f1")}
            out[mode] = {"per_type": per_type, "micro": prf(*tot), "macro": macro}
        out["assertion_accuracy"] = round(self.assert_ok / self.assert_n, 4) if self.assert_n else None
        out["assertion_by_gold_value"] = {k: {"accuracy": round(v[0] / v[1], 4), "n": v[1]}
                                          for k, v in sorted(self.assert_by_value.items())}
        out["ungrounded_pred"] = self.ungrounded
        return out
