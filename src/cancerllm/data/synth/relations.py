"""Gold relations for synthetic notes, derived from the generator's own rules (the notes themselves are unchanged).

Two relation types (:data:`cancerllm.knowledge.trial.PATHOLOGY_RELATION_TYPES`), head = treatment mention:

* ``Treats``: a treatment the patient had or has (assertion present or historical) -> every mention of the
  current cancer (``cancer_diagnosis`` whose value is the note's ``cancer_type``, not negated, not family).
  "Started osimertinib" -> "lung adenocarcinoma". The one exception is the history distractor
  (:func:`cancerllm.data.synth.sections.history`, a pair of :data:`~cancerllm.data.synth.vocab.HISTORY_DISTRACTORS`):
  "History of breast cancer, status post lumpectomy in 2004" in a melanoma note. Its treatment treated that past
  cancer, so it ``Treats`` the historical diagnosis mention written just before it, and never today's cancer.
* ``Indicated_by``: a targeted treatment that the generator gives only when a biomarker allows it (``Tx.needs`` in
  :mod:`cancerllm.data.synth.vocab`: trastuzumab needs HER2 positive, osimertinib an EGFR mutation, cetuximab KRAS
  wild-type) -> every present biomarker mention of that marker in the note. "trastuzumab" -> "HER2 3+".

:func:`with_relations` returns copies carrying ``relations``; ``cancerllm data synth`` output stays byte for byte
what it was (the relations are an opt-in view, computed from the same seeded notes).

Example:
    >>> from cancerllm.data.synth import synthesize
    >>> notes = with_relations(synthesize(300, seed=0))
    >>> sorted({r.type for n in notes for r in n.relations})
    ['Indicated_by', 'Treats']
    >>> n = next(n for n in notes if any(r.type == "Indicated_by" for r in n.relations))
    >>> r = next(r for r in n.relations if r.type == "Indicated_by")
    >>> (n.mentions[r.head].type, n.mentions[r.tail].type)
    ('treatment', 'biomarker')
"""

from __future__ import annotations

from collections.abc import Sequence

from cancerllm.data.schema import Note, Relation
from cancerllm.data.synth.vocab import CANCERS, HISTORY_DISTRACTORS

__all__ = ["synth_relations", "with_relations"]

_GIVEN = ("present", "historical")
_PAST_TX = {(code, tx_value) for _, code, _, tx_value, _ in HISTORY_DISTRACTORS}  # (past cancer, its treatment)
_PAST_STAGE = ("stage_t", "stage_n")  # "History of melanoma (pT1a N0), s/p ...": between diagnosis and treatment


def _needs(cancer_type: str | None) -> dict[str, str]:
    """Targeted agent -> the marker name it needs ('trastuzumab' -> 'HER2') for one cancer type."""
    cancer = CANCERS.get(cancer_type or "")
    return {tx.agent: tx.needs.split(":")[0] for tx in (cancer.treatments if cancer else ()) if tx.needs}


def _past_treatments(note: Note) -> dict[int, int | None]:
    """History distractor treatments of ``note``: treatment index -> its past cancer's diagnosis index, or None.

    :func:`cancerllm.data.synth.sections.history` writes, in this order, a historical ``cancer_diagnosis`` of
    another cancer, optionally its historical pT/N, then the historical ``treatment`` of the same
    ``HISTORY_DISTRACTORS`` row; mentions are kept in text order, so that treatment is the next mention but for
    the stage. A distractor treatment the current cancer's own vocabulary can never give, found without its
    diagnosis, maps to None (not linked at all); today's generator always writes the diagnosis.
    """
    ms = note.mentions
    out: dict[int, int | None] = {}
    for d, m in enumerate(ms):
        if m.type != "cancer_diagnosis" or m.assertion != "historical" or m.value == note.cancer_type:
            continue
        h = d + 1
        while h < len(ms) and ms[h].type in _PAST_STAGE and ms[h].assertion == "historical":
            h += 1  # the past cancer's own old pT/N sit between its name and its treatment
        if h < len(ms) and ms[h].type == "treatment" and ms[h].assertion == "historical" \
                and (m.value, ms[h].value) in _PAST_TX:
            out[h] = d
    cancer = CANCERS.get(note.cancer_type or "")
    own = {f"{tx.category}: {tx.agent}" for tx in (cancer.treatments if cancer else ())}
    for h, m in enumerate(ms):
        # A distractor's treatment whose diagnosis is absent: not today's cancer's, and no past cancer to link to.
        if h not in out and m.type == "treatment" and m.value not in own \
                and any(m.value == tx and code != note.cancer_type for code, tx in _PAST_TX):
            out[h] = None
    return out


def synth_relations(note: Note) -> list[Relation]:
    """The ``Treats`` and ``Indicated_by`` relations of one synthetic note (indices into ``note.mentions``)."""
    needs = _needs(note.cancer_type)
    cancers = [i for i, m in enumerate(note.mentions) if m.type == "cancer_diagnosis"
               and m.value == note.cancer_type and m.assertion not in ("negated", "family")]
    past = _past_treatments(note)
    out = []
    for h, m in enumerate(note.mentions):
        if m.type != "treatment" or m.assertion not in _GIVEN:
            continue
        if h in past:  # a history distractor's treatment treated that past cancer, not today's
            out += [Relation(type="Treats", head=h, tail=past[h])] if past[h] is not None else []
            continue
        out += [Relation(type="Treats", head=h, tail=t) for t in cancers]
        agent = (m.value or "").split(": ", 1)[-1]  # "targeted: trastuzumab" -> "trastuzumab"
        marker = needs.get(agent)
        if marker:
            out += [Relation(type="Indicated_by", head=h, tail=t) for t, b in enumerate(note.mentions)
                    if b.type == "biomarker" and b.assertion == "present"
                    and (b.value or "").split(":", 1)[0] == marker]
    return out


def with_relations(notes: Sequence[Note]) -> list[Note]:
    """Copies of ``notes`` with their derived gold ``relations``."""
    return [n.model_copy(update={"relations": synth_relations(n)}) for n in notes]
