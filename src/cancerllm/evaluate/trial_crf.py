"""A linear-chain CRF tagger for trial criteria (``crf.v1``), trained on Chia train in a few minutes on 1 thread.

BIO tags over the word tokens of :func:`cancerllm.evaluate.trial_baselines.tokens`; features are the word, its
lower-case form, shape, 2-3 character affixes, digit/punctuation flags and the same for one token either side.
Chia nests mentions ("[[metastatic] breast cancer]"); a token keeps the longest mention covering it, since BIO
can hold one layer only. Needs ``sklearn-crfsuite`` (``pip install -e ".[trial]"``).

Example:
    >>> _shape("HbA1c"), _shape("<200")
    ('XxXdx', '<ddd')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cancerllm.data.schema import Note
from cancerllm.evaluate.trial_baselines import Span, tokens

__all__ = ["CrfTagger"]


def _shape(word: str) -> str:
    """Character classes with runs collapsed: X upper, x lower, d digit, other kept."""
    s = re.sub(r"[A-Z]", "X", word)
    s = re.sub(r"[a-z]", "x", s)
    s = re.sub(r"[0-9]", "d", s)
    return re.sub(r"(x)x+", r"\1", s)


def _word_features(w: str, prefix: str) -> dict[str, Any]:
    return {f"{prefix}low": w.lower(), f"{prefix}shape": _shape(w), f"{prefix}suf3": w[-3:].lower(),
            f"{prefix}pre3": w[:3].lower(), f"{prefix}suf2": w[-2:].lower(), f"{prefix}digit": w.isdigit(),
            f"{prefix}upper": w.isupper(), f"{prefix}title": w.istitle(), f"{prefix}punct": not w[0].isalnum()}


def _features(words: list[str]) -> list[dict[str, Any]]:
    out = []
    for i, w in enumerate(words):
        f = {"bias": 1.0, **_word_features(w, "")}
        for d, tag in ((-1, "-1:"), (1, "+1:"), (-2, "-2:"), (2, "+2:")):
            j = i + d
            if 0 <= j < len(words):
                f[f"{tag}low"] = words[j].lower()
                if abs(d) == 1:
                    f[f"{tag}shape"] = _shape(words[j])
            else:
                f[f"{tag}edge"] = True
        out.append(f)
    return out


def _lines(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"[^\n]+", text)]


def _bio(note: Note, toks: list[tuple[int, int]]) -> list[str]:
    """BIO labels of ``toks``; where mentions nest or overlap, the longest wins."""
    labels = ["O"] * len(toks)
    for m in sorted(note.mentions, key=lambda m: -(m.end - m.start)):
        idx = [i for i, (s, e) in enumerate(toks) if s >= m.start and e <= m.end]
        if not idx or any(labels[i] != "O" for i in idx):
            continue
        labels[idx[0]] = f"B-{m.type}"
        for i in idx[1:]:
            labels[i] = f"I-{m.type}"
    return labels


@dataclass
class CrfTagger:
    model: Any

    @classmethod
    def fit(cls, notes: Sequence[Note], c1: float = 0.05, c2: float = 0.05, max_iterations: int = 100) -> CrfTagger:
        """Train on every criterion line of ``notes`` (L-BFGS with elastic-net regularisation)."""
        import sklearn_crfsuite

        xs, ys = [], []
        for n in notes:
            for s, e in _lines(n.text):  # one sequence per line: a criterion is the unit Chia annotates
                toks = [(a + s, b + s) for a, b in tokens(n.text[s:e])]
                if toks:
                    xs.append(_features([n.text[a:b] for a, b in toks]))
                    ys.append(_bio(n, toks))
        crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=c1, c2=c2, max_iterations=max_iterations,
                                   all_possible_transitions=True)
        crf.fit(xs, ys)
        return cls(crf)

    def find(self, text: str) -> list[Span]:
        """Decoded mentions ``(start, end, type)``: a B- tag opens one, I- of the same type extends it."""
        out: list[Span] = []
        for s, e in _lines(text):
            toks = [(a + s, b + s) for a, b in tokens(text[s:e])]
            if not toks:
                continue
            tags = self.model.predict_single(_features([text[a:b] for a, b in toks]))
            cur: list | None = None
            for (a, b), tag in zip(toks, tags):
                if tag.startswith("I-") and cur is not None and cur[2] == tag[2:]:
                    cur[1] = b
                    continue
                if cur is not None:
                    out.append(tuple(cur))
                    cur = None
                if tag != "O":  # a stray I- without its B- opens a mention too
                    cur = [a, b, tag[2:]]
            if cur is not None:
                out.append(tuple(cur))
        return out
