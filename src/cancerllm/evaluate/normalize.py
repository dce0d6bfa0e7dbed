"""Answer normalisation exactly as the reference paper's evaluation code does it (OpenPI / EMNLP-2020 style).

Two levels, as in the CancerLLM ``Evaluation/eval_util.py``:

* :func:`normalize_nostem`: lowercase, strip, remove ASCII punctuation (``string.punctuation``), collapse spaces.
* :func:`normalize_and_stem`: the above, then Porter-stem every whitespace token.

The reference code also lists "leading articles" (a, an, the, your, his, their, my, another, other, this, that)
to strip, but it applies the list (``"a "``, ``"the "``...) to single tokens, which never contain a space, so the
strip never fires. ``drop_leads=False`` (default) reproduces that; ``drop_leads=True`` does what the comment in
the reference code intended (drop one leading determiner of the phrase). See docs/metrics.md.

The Porter stemmer is ``nltk.stem.PorterStemmer`` in ``MARTIN_EXTENSIONS`` mode, the tartarus.org reference
implementation that the vendored ``porter.py`` of OpenPI follows; nltk needs no data download for it.

Example:
    >>> normalize_nostem("  ER-Positive, (weak)! ")
    'erpositive weak'
    >>> normalize_and_stem("The tumors were Invading")
    'the tumor were invad'
    >>> normalize_and_stem("The tumors were Invading", drop_leads=True)
    'tumor were invad'
    >>> split_answers("answer: T2, N0 ,  , M0")
    ['T2', 'N0', 'M0']
"""

from __future__ import annotations

import functools
import string

__all__ = ["LEADS", "normalize_and_stem", "normalize_nostem", "split_answers", "stem"]

LEADS = ("a", "an", "the", "your", "his", "their", "my", "another", "other", "this", "that")
_PUNCT = str.maketrans("", "", string.punctuation)


@functools.lru_cache(maxsize=1)
def _stemmer():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(mode=PorterStemmer.MARTIN_EXTENSIONS)


def normalize_nostem(s: str) -> str:
    """Lowercase, remove ASCII punctuation and collapse whitespace (no stemming).

    Args:
        s: Any answer string.

    Returns:
        The normalised string; non-ASCII letters are kept (unlike rouge-score's tokenizer).

    Example:
        >>> normalize_nostem("Stage IIA.  (AJCC)")
        'stage iia ajcc'
    """
    return " ".join(s.strip().lower().translate(_PUNCT).split())


@functools.lru_cache(maxsize=65536)
def stem(token: str) -> str:
    """Porter-stem one lowercase token (cached: evaluation re-stems the same gold tokens many times).

    Example:
        >>> stem("carcinomas"), stem("positive"), stem("t2")
        ('carcinoma', 'posit', 't2')
    """
    token = token.strip().lower()
    return _stemmer().stem(token).strip() if token else ""


def normalize_and_stem(s: str, drop_leads: bool = False) -> str:
    """:func:`normalize_nostem` then Porter-stem each token.

    Args:
        s: Any answer string.
        drop_leads: Drop one leading determiner from :data:`LEADS` (the reference code's intent; its actual
            behaviour, and our default, is to keep it).

    Returns:
        Space-joined stems.

    Example:
        >>> normalize_and_stem("Lymph nodes: negative (0/12)")
        'lymph node neg 012'
    """
    tokens = normalize_nostem(s).split()
    if drop_leads and len(tokens) > 1 and tokens[0] in LEADS:
        tokens = tokens[1:]
    return " ".join(t for t in (stem(tok) for tok in tokens) if t)


def split_answers(s: str | None) -> list[str]:
    """Split an answer string on commas, dropping empty parts and an ``answer:`` prefix.

    The paper's generations look like ``answer: a, b, c``; gold answers are comma-joined lists too.

    Example:
        >>> split_answers(None), split_answers(""), split_answers("Answer: left breast")
        ([], [], ['left breast'])
    """
    if not s:
        return []
    s = s.strip()
    if s.lower().startswith("answer:"):
        s = s[len("answer:"):]
    return [part.strip() for part in s.split(",") if part.strip()]
