"""Retrieval quality without a generator: do retrieved neighbours share the query's labels?

For few-shot prompting what matters is whether the top-``k`` examples resemble the query in what the model must
output. We measure, per label (``cancer_type``, ``t_stage`` ...), over queries that have that label:

* ``hit@k`` -- the fraction of queries with at least one same-label neighbour in the top ``k`` (reported as
  "recall@k": the relevant set of a query is every corpus note with its label, and one relevant example is
  what a prompt needs);
* ``precision@k`` -- the mean fraction of the top ``k`` that share the label.

The leakage guard is the one inference uses (:meth:`~cancerllm.rag.index.Index.leaks`: the query's own id, its
patient, and verbatim copies filed under another id), so the measurement never counts a neighbour a prompt could
not show.

Example:
    >>> from cancerllm.data.schema import Note
    >>> q = Note(id="q", text="x", cancer_type="BRCA", labels={"t_stage": "T2"})
    >>> nbs = [Note(id="a", text="", cancer_type="LUAD", labels={"t_stage": "T2"}),
    ...        Note(id="b", text="", cancer_type="BRCA", labels={"t_stage": "T1"})]
    >>> label_of(q, "cancer_type"), label_of(q, "t_stage")
    ('BRCA', 'T2')
    >>> score_neighbours(q, nbs, ["cancer_type"], ks=(1, 2))
    {'cancer_type': {'hit@1': 0.0, 'precision@1': 0.0, 'hit@2': 1.0, 'precision@2': 0.5}}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cancerllm.data.schema import Note

__all__ = ["label_of", "label_recall", "score_neighbours"]


def label_of(note: Note, label: str) -> str | None:
    """A note's gold value for ``label``: ``cancer_type`` is a field, the rest live in ``labels``."""
    return note.cancer_type if label == "cancer_type" else note.labels.get(label)


def score_neighbours(query: Note, neighbours: Sequence[Note], labels: Sequence[str],
                     ks: Sequence[int]) -> dict[str, dict[str, float]]:
    """hit@k and precision@k of one query's ranked neighbours, per label the query has."""
    out: dict[str, dict[str, float]] = {}
    for label in labels:
        gold = label_of(query, label)
        if gold is None:  # unlabelled queries say nothing about this label
            continue
        same = [label_of(n, label) == gold for n in neighbours]
        out[label] = {}
        for k in ks:
            top = same[:k]
            out[label][f"hit@{k}"] = float(any(top))
            out[label][f"precision@{k}"] = sum(top) / k
    return out


def label_recall(index: Any, queries: Sequence[Note], labels: Sequence[str] = ("cancer_type", "t_stage"),
                 ks: Sequence[int] = (1, 3, 5, 10)) -> dict[str, Any]:
    """Mean hit@k / precision@k over ``queries`` searched in ``index`` (a loaded :class:`Index`).

    Returns:
        ``{label: {"n": queries with that label, "hit@1": ..., "precision@1": ...}}``.
    """
    kmax = max(ks)
    by_id = {n.id: n for n in index.notes}
    sums: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for q in queries:
        hits = index.search_note(q, kmax)
        if len(hits) < min(kmax, len(index.notes) - len(index.banned(*index.leaks(q)))):
            raise RuntimeError(f"index returned {len(hits)} neighbours for query {q.id!r}, expected {kmax}")
        per = score_neighbours(q, [by_id[i] for i, _ in hits], labels, ks)
        for label, vals in per.items():
            counts[label] = counts.get(label, 0) + 1
            for key, v in vals.items():
                sums.setdefault(label, {}).setdefault(key, 0.0)
                sums[label][key] += v
    return {label: {"n": counts[label], **{k: round(v / counts[label], 4) for k, v in sums[label].items()}}
            for label in sums}
