"""The part inference calls: retrieved labelled examples for a note, and fitting them into the prompt budget.

For a query note, :meth:`ExampleRetriever.examples_for` searches the index, drops every leak (the note itself,
any note of the same patient, any corpus note with byte-identical text), and turns each neighbour into a short
:class:`~cancerllm.data.prompts.Example`: the neighbour's chunk (at most ``max_example_chars``) holding the most
gold mentions, with the gold completion for that chunk in the requested prompt style. A pathology report of
4,000 characters thus contributes e.g. "... Tumor size: 2.3 cm. pT2 N0 (0/14). ..." and its answer. Styles that
ask one entity type per prompt (``qa.v1``) get per-type answers, so the tumor-size question shows "2.3 cm" and
the T-stage question "pT2", never a list of every type.

:func:`fit_examples` makes the examples fit a token budget without ever touching the query note: first it trims
example texts to the sentences that hold their answer's quoted phrases, lowest-scored first; then it drops the
lowest-scored examples.

Example:
    >>> from cancerllm.data.prompts import Example
    >>> exs = [Example("a", "Grade 2. Size 2 cm. pT2 N0.", '{"mentions":[{"type":"stage_t","text":"pT2"}]}', 0.9),
    ...        Example("b", "Lung, left upper lobe. pT1a.", '{"mentions":[{"type":"stage_t","text":"pT1a"}]}', 0.2)]
    >>> words = lambda s: len(s.split())
    >>> [e.id for e in fit_examples(exs, budget_tokens=100, count_tokens=words)]
    ['a', 'b']
    >>> [(e.id, e.text) for e in fit_examples(exs, budget_tokens=12, count_tokens=words)]
    [('a', 'pT2 N0.')]
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from cancerllm.data.chunking import chunk_text
from cancerllm.data.instruct import chunk_mentions
from cancerllm.data.prompts import Example, get_style
from cancerllm.data.schema import Note
from cancerllm.rag.index import Index, load_index

__all__ = ["ExampleRetriever", "answer_phrases", "fit_examples", "load_retriever", "render_examples"]

logger = logging.getLogger("cancerllm.rag")


class ExampleRetriever:
    """Retrieved, leakage-guarded, prompt-ready examples from an index.

    Args:
        index: a loaded :class:`~cancerllm.rag.index.Index`.
        max_example_chars: longest example text; the neighbour's densest chunk of this size is shown.
    """

    def __init__(self, index: Index, max_example_chars: int = 600):
        if max_example_chars < 50:
            from cancerllm.errors import ConfigError

            raise ConfigError(f"max_example_chars: got {max_example_chars}, expected >= 50")
        self.index, self.max_example_chars = index, max_example_chars
        self.name = index.manifest["retriever"]

    def search(self, text: str, k: int, exclude_ids: Collection[str] = (),
               exclude_patients: Collection[str | None] = ()) -> list[tuple[str, float]]:
        """Top-``k`` corpus ids and scores for ``text``; excluded ids and patients are never returned."""
        return self.index.search(text, k, exclude_ids, exclude_patients)

    def examples_for(self, note: Note, k: int, task: str, style: str, types: Sequence[str]) -> list[Example]:
        """Up to ``k`` examples for ``note`` (best first) for ``task`` ('phenotype' or 'diagnosis').

        Neighbours unusable for the task (no gold diagnosis for 'diagnosis') are skipped and the next ones used.
        With the per-entity ``qa.v1`` style, ``Example.answers`` holds one answer per type (each question shows
        only its own); ``Example.answer`` joins them as ``type: answer`` for budgeting.
        """
        if k <= 0:
            return []
        if task not in ("phenotype", "diagnosis"):
            from cancerllm.errors import ConfigError

            raise ConfigError(f"task: got {task!r}, expected 'phenotype' or 'diagnosis'")
        ps = get_style(style)
        # Leakage guard (shared with the retrieval measurement): the note itself, its patient, verbatim copies.
        exclude_ids, exclude_patients = self.index.leaks(note)
        want = min(len(self.index.notes), 4 * k + len(exclude_ids))  # over-fetch: some neighbours may be unusable
        out: list[Example] = []
        for doc_id, score in self.search(note.text, want, exclude_ids, exclude_patients):
            ex = self._example(self.index.note(doc_id), task, ps, list(types), score)
            if ex is not None:
                out.append(ex)
            if len(out) == k:
                break
        return out

    def _example(self, nb: Note, task: str, ps: Any, types: list[str], score: float) -> Example | None:
        if task == "diagnosis" and nb.diagnosis is None:
            return None
        wanted = set(types) if (types and task == "phenotype") else None
        chunks = chunk_text(nb.text, self.max_example_chars, len, overlap_chars=0)
        # The densest chunk teaches the most per token; ties go to the earliest (headers/diagnosis lines come first).
        best, gold = chunks[0], []
        for c in chunks:
            ms = [m for m in chunk_mentions(nb.mentions, c) if wanted is None or m["type"] in wanted]
            if len(ms) > len(gold):
                best, gold = c, ms
        answers = None
        if task == "diagnosis":
            answer = ps.diagnosis_target(nb.diagnosis.text, nb.diagnosis.icd10)
        elif _asks_per_type(ps, types):
            # One question per type (qa.v1): each prompt shows only its type's answer (``answers``); the joined
            # answer is what budget fitting counts and trimming keeps phrases for.
            answers = {t: ps.phenotype_target(gold, t) for t in types}
            answer = answers[types[0]] if len(types) == 1 else "; ".join(f"{t}: {a}" for t, a in answers.items())
        else:
            answer = ps.phenotype_target(gold, types[0] if len(types) == 1 else None)
        return Example(id=nb.id, text=best.text.strip(), answer=answer, score=float(score), answers=answers)


def _asks_per_type(style: Any, types: list[str]) -> bool:
    """Whether ``style`` asks one entity type per prompt (``qa.v1``) rather than all at once (``json.v1``)."""
    return bool(types) and any(etype is not None for etype, _ in style.phenotype_prompts("", types[:1]))


def load_retriever(index_dir: str | Path, corpus: str | Path | None = None, max_example_chars: int = 600,
                   **overrides: Any) -> ExampleRetriever:
    """Load an index folder as an :class:`ExampleRetriever` (overrides: ``model_path``, ``backend``, ...)."""
    return ExampleRetriever(load_index(index_dir, corpus=corpus, **overrides), max_example_chars)


def render_examples(examples: Sequence[Example]) -> str:
    """The examples block as prompt styles render it (used to count its tokens).

    Examples with per-type answers (``qa.v1``) are shown one type per prompt: the block counted is the longest of
    those, not one listing every type's answer.
    """
    from cancerllm.data.prompts import _examples_block

    exs = list(examples)
    types = sorted({t for e in exs for t in (e.answers or {})})
    if not types:
        return _examples_block(exs, "report")
    return max((_examples_block(exs, "text", t) for t in types), key=len)


def answer_phrases(answer: str) -> list[str]:
    """Phrases an answer quotes from its example text (JSON ``text`` fields, or comma-separated QA answers).

    >>> answer_phrases('{"mentions":[{"type":"stage_t","text":"pT2"}]}'), answer_phrases("pT2, N0; grade: G2")
    (['pT2'], ['pT2', 'N0', 'G2'])
    """
    try:
        obj = json.loads(answer)
    except json.JSONDecodeError:
        obj = None
    if isinstance(obj, dict):
        return [m["text"] for m in obj.get("mentions", []) if isinstance(m, dict) and isinstance(m.get("text"), str)]
    parts = (p.strip() for p in re.split(r"[,;]", answer))
    parts = (re.sub(r"^[a-z_]+:\s*", "", p) for p in parts)  # "stage_t: pT2" in multi-type QA answers
    return [p for p in parts if p and p.lower() != "none"]


def _trim(ex: Example) -> Example:
    """Shortest sentence-aligned window of ``ex.text`` that still holds every quoted answer phrase."""
    text = ex.text
    spans = [(i, i + len(p)) for p in answer_phrases(ex.answer) if (i := text.find(p)) >= 0]
    if spans:
        lo, hi = min(s for s, _ in spans), max(e for _, e in spans)
    else:  # nothing quoted (diagnosis answers): keep the first half, the part nearest the header
        lo, hi = 0, max(1, len(text) // 2)
    start = max(text.rfind(". ", 0, lo) + 2, 0) if lo > 0 else 0
    end = text.find(". ", hi)
    end = len(text) if end < 0 else end + 1
    return replace(ex, text=text[start:end].strip())


def fit_examples(examples: Sequence[Example], budget_tokens: int,
                 count_tokens: Callable[[str], int]) -> list[Example]:
    """Examples (best score first) whose rendered block fits ``budget_tokens``; the query note is not involved.

    Order of sacrifices: trim texts to their answer-bearing sentences (lowest-scored example first), then drop
    the lowest-scored examples. Returns [] when even one trimmed example does not fit.
    """
    kept = sorted(examples, key=lambda e: -e.score)
    if budget_tokens <= 0:
        return []

    def fits(exs: list[Example]) -> bool:
        return count_tokens(render_examples(exs)) <= budget_tokens

    for i in reversed(range(len(kept))):
        if fits(kept):
            return kept
        kept[i] = _trim(kept[i])
    while kept and not fits(kept):
        dropped = kept.pop()  # lowest score
        logger.debug("prompt budget: dropped retrieved example %s (score %.3f)", dropped.id, dropped.score)
    return kept
