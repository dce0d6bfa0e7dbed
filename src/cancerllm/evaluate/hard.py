"""The "hard" test variant: explicit pTNM strings are masked so a model must infer the stage, not copy it.

Pathology reports often state the answer verbatim ("pT2 pN1a pMX", "T2 N0 M0", "ypT3N1M0"); on those a regex
is near-perfect (SMM4H 2026 "easy" T macro-F1 0.99 vs ~0.73 once the strings are removed). :func:`mask_text`
replaces each *chain* of TNM tokens with :data:`MASK`, using :func:`cancerllm.knowledge.tnm.mask_tnm`: the same
finder the TCGA evidence spans, the regex baseline and the inference guard use, so nothing the baseline could
read survives (OCR "PT4", "pTla", "pNla", "pNQ" included). It is deterministic (no randomness, so no seed).

Known over-masking (harmless for the purpose): cassette labels such as "T1 - three lymph nodes" and lung nodal
stations "N2 lymph nodes" are masked too.

Overall stage groups ("stage IIB") are *not* masked: they are not TNM strings, and TCGA-hard (SMM4H) kept them.

Example:
    >>> mask_text("Final: pT2 pNO pMX, stage IIA. NO evidence of T cells; ypT3N1M0.")[0]
    'Final: [TNM], stage IIA. NO evidence of T cells; [TNM].'
"""

from __future__ import annotations

from pathlib import Path

from cancerllm.data.schema import Note
from cancerllm.knowledge.tnm import MASK
from cancerllm.knowledge.tnm import mask_tnm as mask_text

__all__ = ["MASK", "hard_split", "mask_text", "mask_tnm"]


def _remap(pos: int, spans: list[tuple[int, int]]) -> int:
    """New offset of an original offset outside every masked span."""
    shift = sum(len(MASK) - (e - s) for s, e in spans if e <= pos)
    return pos + shift


def mask_tnm(note: Note) -> Note:
    """A copy of ``note`` with TNM strings masked and gold mention spans remapped.

    Mentions that overlap a masked chain (e.g. a ``stage_t`` evidence span "pT2") are dropped, because their text
    is gone; all other spans are shifted so ``text[start:end] == mention.text`` still holds. Labels are unchanged.

    Example:
        >>> from cancerllm.data.schema import Mention
        >>> n = Note(id="x", text="pT2 N0. Grade 2.", mentions=[
        ...     Mention(type="stage_t", text="pT2", start=0, end=3), Mention(type="grade", text="Grade 2", start=8, end=15)])
        >>> h = mask_tnm(n)
        >>> h.text, [(m.type, h.text[m.start:m.end]) for m in h.mentions]
        ('[TNM]. Grade 2.', [('grade', 'Grade 2')])
    """
    text, spans = mask_text(note.text)
    kept = []
    for m in note.mentions:
        if m.start is not None and any(m.start < e and s < m.end for s, e in spans):
            continue
        if m.start is not None:
            m = m.model_copy(update={"start": _remap(m.start, spans), "end": _remap(m.end, spans)})
        kept.append(m)
    extra = dict(note.model_extra or {})
    extra["tnm_masked"] = len(spans)
    return note.model_copy(update={"text": text, "mentions": kept, **extra})


def hard_split(input: str | Path, out: str | Path) -> dict[str, int]:
    """Mask every note of a Note JSONL file (raw TCGA lines work too); returns counts.

    Each output line keeps all fields and adds ``tnm_masked`` (chains masked in that note).
    """
    from cancerllm.data.io import read_notes_reporting, write_jsonl

    notes = read_notes_reporting(input, "hard-split")
    hard = [mask_tnm(n) for n in notes]
    for h in hard:
        h.check_spans()  # remapping must keep every gold span exact
    write_jsonl(hard, out)
    return {"notes": len(hard), "notes_masked": sum(1 for h in hard if h.tnm_masked),
            "chains_masked": sum(h.tnm_masked for h in hard)}
