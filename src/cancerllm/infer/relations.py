"""Pathology relations between grounded mentions of one note: ``Treats`` and ``Indicated_by``.

The two types of :data:`cancerllm.knowledge.trial.PATHOLOGY_RELATION_TYPES`, head = a treatment mention:

* ``Treats``: a treatment the patient had or has (assertion present or historical) -> each mention of the cancer it
  treats (``cancer_diagnosis``, the schema's tail type). That is the note's current cancer: its present diagnosis
  mentions, plus historical mentions of the same cancer. "Currently receiving tamoxifen" -> "breast cancer".
  A treatment written in the same sentence as a *historical diagnosis of another cancer* treats that one instead
  ("History of melanoma s/p wide local excision": the excision treats the melanoma, not today's lung cancer).
* ``Indicated_by``: a biomarker-gated drug (:mod:`cancerllm.knowledge.indications`, from FDA labels) -> each present
  biomarker mention whose result the drug requires. "trastuzumab" -> "HER2 3+"; never -> "HER2 negative".

Only mentions of the same note are linked (indices into its mention list); negated, possible and family mentions
are never arguments. Works on any mention list (rule-found or model output), reading values and text only.

Example:
    >>> from cancerllm.data.schema import Mention
    >>> t = "Breast cancer, HER2 3+. Started trastuzumab."
    >>> ms = [Mention(type="cancer_diagnosis", text="Breast cancer", start=0, end=13, value="BRCA"),
    ...       Mention(type="biomarker", text="HER2 3+", start=15, end=22, value="HER2: 3+"),
    ...       Mention(type="treatment", text="trastuzumab", start=32, end=43, value="targeted: trastuzumab")]
    >>> [(r.type, r.head, r.tail) for r in link_relations(ms, t)]
    [('Treats', 2, 0), ('Indicated_by', 2, 1)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cancerllm.data.schema import Mention, Relation
from cancerllm.knowledge.indications import indicates

__all__ = ["current_cancer", "link_relations"]

_GIVEN = ("present", "historical")  # a treatment negated, only considered, or a relative's, treats nothing here
_SENTENCE = re.compile(r"[^.;\n]+")


def _key(m: Mention) -> str:
    return m.value or " ".join(m.text.lower().split())


def current_cancer(mentions: Sequence[Mention]) -> list[int]:
    """Indices of the note's current-cancer ``cancer_diagnosis`` mentions (see module docstring)."""
    dx = [(i, m) for i, m in enumerate(mentions) if m.type == "cancer_diagnosis"
          and m.assertion not in ("negated", "family")]
    current = {_key(m) for _, m in dx if m.assertion != "historical"}
    if not current:  # only history in this note (a follow-up letter): the historical cancer is the one treated
        return [i for i, _ in dx]
    return [i for i, m in dx if _key(m) in current]


def _sentence_of(text: str, pos: int) -> tuple[int, int]:
    for s in _SENTENCE.finditer(text):
        if s.start() <= pos < s.end():
            return s.span()
    return pos, pos


def link_relations(mentions: Sequence[Mention], text: str | None = None) -> list[Relation]:
    """``Treats`` and ``Indicated_by`` relations among ``mentions`` (head/tail = indices into ``mentions``).

    Args:
        mentions: the note's mentions, grounded (``start``/``end``) when ``text`` is given.
        text: the note text, used to find the sentence of each treatment (for past cancers); None skips that step.
    """
    cancers = current_cancer(mentions)
    past = [(i, m) for i, m in enumerate(mentions) if m.type == "cancer_diagnosis" and m.assertion == "historical"
            and i not in cancers and m.start is not None]
    markers = [(i, m) for i, m in enumerate(mentions) if m.type == "biomarker" and m.assertion == "present"]
    cancer = " ".join(f"{mentions[i].text} {mentions[i].value or ''}" for i in cancers)  # scopes drug labels
    out: list[Relation] = []
    for h, m in enumerate(mentions):
        if m.type != "treatment" or m.assertion not in _GIVEN:
            continue
        tails = cancers
        if text is not None and m.start is not None and past:
            # A past cancer named in the treatment's own sentence is the one it treated.
            s, e = _sentence_of(text, m.start)
            tails = [i for i, d in past if s <= d.start < e] or cancers
        out += [Relation(type="Treats", head=h, tail=t) for t in tails]
        drug = f"{m.value or ''} {m.text}"
        out += [Relation(type="Indicated_by", head=h, tail=t) for t, b in markers if b.value and indicates(drug, b.value, cancer)]
    return out
