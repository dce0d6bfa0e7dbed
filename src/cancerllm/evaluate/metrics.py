"""The reference paper's answer metrics: exact match, BLEU-2, ROUGE-L and the soft set precision/recall/F1.

Reimplemented from the semantics of the CancerLLM evaluation code (OpenPI / EMNLP-2020 "soft" F1):

* a *match function* ``m(pred, gold) -> [0, 1]`` compares two single answers after
  :func:`~cancerllm.evaluate.normalize.normalize_and_stem`: :func:`exact_match`, :func:`bleu2`
  (pycocoevalcap ``Bleu(4)`` with option ``"closest"``, score index 1 = cumulative BLEU-2, with its
  ``tiny=1e-15`` / ``small=1e-9`` smoothing), :func:`rouge_l` (LCS F-measure with beta = 1.2) and
  :func:`rouge1` (the set-unigram variant the code actually ships);
* :func:`soft_prf` turns a match function into set precision (mean best match per distinct prediction),
  recall (mean best match per gold answer) and F1, with the reference edge cases.

A quirk kept on purpose: for a one-token answer BLEU-2 has no bigram, so even an exact match scores
``sqrt(1e-15 / 1e-9) = 0.001``. Short answers such as "T2" therefore score near 0 on BLEU-2 in the paper too.

Example:
    >>> exact_match("Grade 2", "grade 2."), round(bleu2("invasive ductal carcinoma", "ductal carcinoma"), 4)
    (1.0, 0.5774)
    >>> round(rouge_l("invasive ductal carcinoma", "ductal carcinoma"), 4)
    0.8299
    >>> soft_prf(["ER positive", "PR negative"], ["ER positive"], exact_match)
    (0.5, 1.0, 0.6667)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

from cancerllm.evaluate.normalize import normalize_and_stem, normalize_nostem
from cancerllm.registry import metrics as _registry

__all__ = ["PAPER_METRICS", "bleu2", "exact_match", "lcs_length", "match_score", "rouge1", "rouge_l", "soft_prf"]

MatchFn = Callable[[str, str], float]
_TINY, _SMALL = 1e-15, 1e-9  # pycocoevalcap BleuScorer smoothing constants
BETA = 1.2  # pycocoevalcap Rouge: "updated based on discussion with Hovy"


@_registry.register("exact_match.v1")
def exact_match(pred: str, gold: str) -> float:
    """1.0 if the normalised, stemmed strings are equal, else 0.0.

    Example:
        >>> exact_match("Tumors", "tumor"), exact_match("pT2", "T2")
        (1.0, 0.0)
    """
    return 1.0 if normalize_and_stem(pred) == normalize_and_stem(gold) else 0.0


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


@_registry.register("bleu2.v1")
def bleu2(pred: str, gold: str) -> float:
    """Cumulative sentence BLEU-2 of ``pred`` against the single reference ``gold`` (pycocoevalcap semantics).

    ``precision_k = (clipped matches + 1e-15) / (candidate k-grams + 1e-9)``; BLEU-2 is the geometric mean of
    precision_1 and precision_2 times the brevity penalty ``exp(1 - r/c)`` when the candidate is shorter.

    Example:
        >>> round(bleu2("ductal carcinoma in situ", "ductal carcinoma in situ"), 6)
        1.0
        >>> round(bleu2("T2", "T2"), 6)  # one token: no bigram to match
        0.001
        >>> round(bleu2("carcinoma", "ductal carcinoma"), 6)  # brevity penalty exp(1 - 2/1)
        0.000368
    """
    c, r = normalize_and_stem(pred).split(), normalize_and_stem(gold).split()
    score = 1.0
    for k in (1, 2):
        ref = _ngrams(r, k)
        correct = sum(min(cnt, ref[g]) for g, cnt in _ngrams(c, k).items())
        guess = max(0, len(c) - k + 1)
        score *= (correct + _TINY) / (guess + _SMALL)
    bleu = score ** 0.5
    ratio = (len(c) + _TINY) / (len(r) + _SMALL)
    if ratio < 1:  # brevity penalty; exp underflows to 0.0 for an empty candidate, as in the original
        bleu *= math.exp(1 - 1 / ratio)
    return bleu


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists (O(len(a)*len(b)) dynamic programme).

    Example:
        >>> lcs_length("a b c d".split(), "a c x d".split())
        3
    """
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b, start=1):
            cur.append(prev[j - 1] + 1 if x == y else max(prev[j], cur[j - 1]))
        prev = cur
    return prev[-1]


def _f_beta(p: float, r: float, beta: float) -> float:
    return (1 + beta ** 2) * p * r / (r + beta ** 2 * p) if p and r else 0.0


@_registry.register("rouge_l.v1")
def rouge_l(pred: str, gold: str, beta: float = BETA) -> float:
    """ROUGE-L: LCS precision/recall combined with F-beta (beta = 1.2, recall-weighted, as pycocoevalcap).

    Tokens come from ``split(" ")`` of the stemmed string, as in the original (so an empty string is one empty
    token and scores 0).

    Example:
        >>> round(rouge_l("right upper lobe", "upper lobe, right"), 4)  # LCS 2 of 3 each way
        0.6667
    """
    c, r = normalize_and_stem(pred).split(" "), normalize_and_stem(gold).split(" ")
    lcs = lcs_length(r, c)
    return _f_beta(lcs / len(c), lcs / len(r), beta) if lcs else 0.0


@_registry.register("rouge1.v1")
def rouge1(pred: str, gold: str, beta: float = BETA) -> float:
    """Set-based unigram ROUGE with beta = 1.2: what the reference code's ``ROUGEMetric`` actually runs.

    Example:
        >>> round(rouge1("upper lobe right", "right upper lobe"), 4)  # order-free, unlike ROUGE-L
        1.0
    """
    c, r = set(normalize_and_stem(pred).split(" ")), set(normalize_and_stem(gold).split(" "))
    overlap = len(c & r)
    return _f_beta(overlap / len(c), overlap / len(r), beta) if overlap else 0.0


PAPER_METRICS: dict[str, MatchFn] = {"em": exact_match, "bleu2": bleu2, "rouge_l": rouge_l}
"""The three match functions the paper averages (its 'average F1')."""


def match_score(fn: MatchFn, pred: str, gold: str) -> float:
    """The reference ``GenerationMetric.match_score``: empty handling on the punctuation-stripped strings.

    Example:
        >>> match_score(exact_match, "", ""), match_score(exact_match, "...", "T2")
        (1.0, 0.0)
    """
    p, g = normalize_nostem(pred), normalize_nostem(gold)
    if not p and not g:
        return 1.0
    if not p or not g:
        return 0.0
    return fn(p, g)


def soft_prf(preds: Sequence[str], golds: Sequence[str], fn: MatchFn, ndigits: int | None = 4) -> tuple:
    """Soft set precision, recall and F1 of one item (``f1_emnlp2020`` of the reference code).

    Args:
        preds: Predicted answers (already comma-split); duplicates are removed first.
        golds: Gold answers (already comma-split).
        fn: Match function, e.g. :func:`exact_match`.
        ndigits: Round the three values (None keeps full precision).

    Returns:
        ``(precision, recall, f1)``. Both empty -> (1, 1, 1); gold empty, predictions present -> (0, 1, 0);
        predictions empty -> (1, 0, 0).

    Example:
        >>> soft_prf([], [], exact_match), soft_prf(["x"], [], exact_match), soft_prf([], ["x"], exact_match)
        ((1.0, 1.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0))
    """
    if not golds and not preds:
        return (1.0, 1.0, 1.0)
    if not golds:
        return (0.0, 1.0, 0.0)
    if not preds:
        return (1.0, 0.0, 0.0)
    uniq = list(dict.fromkeys(preds))  # the original dedupes with set(); order does not change a max
    table = [[match_score(fn, p, g) for g in golds] for p in uniq]
    precision = sum(max(row) for row in table) / len(uniq)
    recall = sum(max(table[i][j] for i in range(len(uniq))) for j in range(len(golds))) / len(golds)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    out = (precision, recall, f1)
    return tuple(round(v, ndigits) for v in out) if ndigits is not None else out
