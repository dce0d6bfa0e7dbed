"""Gold relations for synthetic notes, derived from the generator's own rules (the notes themselves are unchanged).

Two relation types (:data:`cancerllm.knowledge.trial.PATHOLOGY_RELATION_TYPES`), head = treatment mention:

* ``Treats``: a treatment the patient had or has (assertion present or historical) -> every mention of the
  current cancer (``cancer_diagnosis`` whose value is the note's ``cancer_type``, not negated, not family).
  "Started osimertinib" -> "lung adenocarcinoma".
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
from cancerllm.data.synth.vocab import CANCERS

__all__ = ["synth_relations", "with_relations"]

_GIVEN = ("present", "historical")


def _needs(cancer_type: str | None) -> dict[str, str]:
    """Targeted agent -> the marker name it needs ('trastuzumab' -> 'HER2') for one cancer type."""
    cancer = CANCERS.get(cancer_type or "")
    return {tx.agent: tx.needs.split(":")[0] for tx in (cancer.treatments if cancer else ()) if tx.needs}


def synth_relations(note: Note) -> list[Relation]:
    """The ``Treats`` and ``Indicated_by`` relations of one synthetic note (indices into ``note.mentions``)."""
    needs = _needs(note.cancer_type)
    cancers = [i for i, m in enumerate(note.mentions) if m.type == "cancer_diagnosis"
               and m.value == note.cancer_type and m.assertion not in ("negated", "family")]
    out = []
    for h, m in enumerate(note.mentions):
        if m.type != "treatment" or m.assertion not in _GIVEN:
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
