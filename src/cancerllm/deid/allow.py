"""Oncology-aware exceptions: the spans of a note that de-identification must never touch.

A detection that overlaps a protected span is dropped, so "HER2 3+", "Gleason 4+3=7", "pT2N0M0", "stage IIA",
"grade 2", "trastuzumab" and "BRAF V600E" survive even where a pattern would otherwise fire (a surname "Kit" is
still a name: gene symbols match case-sensitively, see ``resources/deid_allow.tsv``).

Sources, one home per concept:

* TNM tokens: :func:`cancerllm.knowledge.tnm.find_tnm` (the project's one TNM finder);
* biomarker names: :data:`cancerllm.knowledge.phenotypes.BIOMARKERS`; abbreviations: the keys of
  :data:`cancerllm.knowledge.abbreviations.ABBREVIATIONS`;
* drugs, genes, eponymous grades and syndromes: the packaged ``resources/deid_allow.tsv``;
* stage groups, grades and Gleason scores: the regexes below.

Example:
    >>> text = "HER2 3+, Gleason 4+3=7, pT2N0M0, stage IIA, on trastuzumab."
    >>> [text[a:b] for a, b in protected_spans(text)]
    ['HER2', 'Gleason 4+3=7', 'pT2', 'N0', 'M0', 'stage IIA', 'trastuzumab']
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from cancerllm.errors import ResourceError

__all__ = ["is_allowed_word", "load_allow_list", "overlaps", "protected_share", "protected_spans"]

_RESOURCE = "deid_allow.tsv"
_KINDS = ("term", "notname")
_STAGE = re.compile(r"\b(?i:stage|figo|ajcc(?: stage)?)[ \t]*:?[ \t]*(?:0|I{1,3}V?|IV|[1-4])(?:[A-Ca-c][1-3]?)?\b")
_GRADE = re.compile(r"\b(?:(?i:grade)[ \t]*:?[ \t]*(?:[1-4](?:/[34])?|I{1,3}V?|IV|(?i:high|low|intermediate))"
                    r"|G[1-4X])\b")
_GLEASON = re.compile(r"\b(?i:gleason)(?: (?i:score|grade|pattern|sum))?[ \t]*[:=]?[ \t]*\d{1,2}"
                      r"(?:[ \t]*\+[ \t]*\d{1,2})?(?:[ \t]*=[ \t]*\d{1,2})?(?:/10)?")


@lru_cache(maxsize=1)
def load_allow_list() -> dict[str, tuple[str, ...]]:
    """``{"term": (...), "notname": (...)}`` from the packaged TSV plus the knowledge tables.

    Raises:
        ResourceError: the packaged file is missing or a line has an unknown kind (names the line).
    """
    from cancerllm.knowledge.abbreviations import ABBREVIATIONS
    from cancerllm.knowledge.phenotypes import BIOMARKERS

    try:
        text = resources.files("cancerllm.resources").joinpath(_RESOURCE).read_text(encoding="utf-8")
    except OSError as err:
        raise ResourceError(f"de-identification allow-list {_RESOURCE} is missing from the package ({err}); "
                            "reinstall with pip install -e .") from None
    out: dict[str, list[str]] = {k: [] for k in _KINDS}
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        kind, _, term = line.partition("\t")
        if kind not in out or not term.strip():
            raise ResourceError(f"{_RESOURCE}:{i}: got kind {kind!r}, expected one of {list(_KINDS)} then a tab and "
                                "a term")
        out[kind].append(term.strip())
    # Abbreviation keys are short all-capital forms ("ER", "OS", "IDC"): matched case-sensitively, never a name.
    out["term"] += list(BIOMARKERS) + [k for k in ABBREVIATIONS if len(k) >= 2]
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*")
_PART = re.compile(r"[A-Za-z0-9]+")


@lru_cache(maxsize=1)
def _term_tables() -> tuple[frozenset[str], frozenset[str], re.Pattern[str] | None]:
    """(all-capital terms, matched as written; other terms, lowercased; one regex for multi-word terms).

    Single words are looked up token by token (a set lookup per word): one regex alternation of every term
    costs ten times more on a long report.
    """
    terms = load_allow_list()["term"]
    caps = frozenset(t for t in terms if " " not in t and t.upper() == t)
    lower = frozenset(t.lower() for t in terms if " " not in t and t.upper() != t)
    multi = sorted((t for t in terms if " " in t), key=len, reverse=True)
    parts = [re.escape(t) if t.upper() == t else f"(?i:{re.escape(t)})" for t in multi]
    return caps, lower, (re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?!\w)") if parts else None)


def _term_spans(text: str) -> list[tuple[int, int]]:
    caps, lower, multi = _term_tables()
    spans = []
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if tok in caps or tok.lower() in lower:
            spans.append(m.span())
        elif "-" in tok or "/" in tok:  # "ER/PR", "anti-HER2": the parts may be terms
            spans += [(m.start() + p.start(), m.start() + p.end()) for p in _PART.finditer(tok)
                      if p.group(0) in caps or p.group(0).lower() in lower]
    if multi is not None:
        spans += [mm.span() for mm in multi.finditer(text)]
    return spans


@lru_cache(maxsize=1)
def _not_names() -> frozenset[str]:
    allow = load_allow_list()
    return frozenset(w.lower() for w in allow["notname"] + allow["term"])


def is_allowed_word(word: str) -> bool:
    """True for a word that is never a person's name on its own ("Left", "Tamoxifen", "Gleason")."""
    return word.lower() in _not_names()


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Sorted ``(start, end)`` spans of oncology terms in ``text`` (see module docstring)."""
    from cancerllm.knowledge.tnm import find_tnm

    spans = [(m.start, m.end) for m in find_tnm(text)] + _term_spans(text)
    for rx in (_STAGE, _GRADE, _GLEASON):
        spans += [(m.start(), m.end()) for m in rx.finditer(text)]
    # Keep the outer span where two nest ("Gleason 4+3=7" holds "Gleason"), so the listing reads cleanly.
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """True when ``[start, end)`` overlaps one of the sorted, disjoint ``spans`` (binary search)."""
    import bisect

    i = bisect.bisect_right(spans, (start, float("inf")))
    # The span starting at or before ``start`` may reach into it; the next one may start before ``end``.
    return (i > 0 and spans[i - 1][1] > start) or (i < len(spans) and spans[i][0] < end)


def protected_share(start: int, end: int, spans: list[tuple[int, int]]) -> float:
    """Share of ``[start, end)`` covered by the sorted, disjoint protected ``spans`` (0.0 to 1.0).

    >>> protected_share(0, 10, [(2, 4), (8, 20)])
    0.4
    """
    import bisect

    if end <= start:
        return 0.0
    i = max(bisect.bisect_right(spans, (start, float("inf"))) - 1, 0)
    covered = 0
    for a, b in spans[i:]:
        if a >= end:
            break
        covered += max(0, min(b, end) - max(a, start))
    return covered / (end - start)
