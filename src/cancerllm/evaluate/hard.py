"""The "hard" test variant: explicit pTNM strings are masked so a model must infer the stage, not copy it.

Pathology reports often state the answer verbatim ("pT2 pN1a pMX", "T2 N0 M0", "ypT3N1M0"); on those a regex
is near-perfect (SMM4H 2026 "easy" T macro-F1 0.99 vs ~0.73 once the strings are removed). :func:`mask_text`
finds *chains* of TNM tokens and replaces each chain with :data:`MASK`. It is deterministic (no randomness, so
no seed) and conservative against OCR noise seen in TCGA:

* a token with a prefix (p, c, y, yp, r, a) may use the OCR letter O for zero (``pNO``, ``pMO``, ``p T 3``);
* a bare token needs a digit or X (``T2``, ``N0``, ``Mx``): the words "NO"/"TO" are masked only inside a chain
  that started with a real token ("T2 NO MX");
* substages, multifocal and ITC suffixes go too: ``pT1b2``, ``pT2(m)``, ``pN0 (i-)``, ``pN1(mi)``;
* chains may be separated by space, comma, semicolon, slash or the OCR line-end period ("pT1.NO.MX").

Known over-masking (harmless for the purpose): cassette labels such as "T1 - three lymph nodes" and lung nodal
stations "N2 lymph nodes" are masked too.

Overall stage groups ("stage IIB") are *not* masked: they are not TNM strings, and TCGA-hard (SMM4H) kept them.

Example:
    >>> mask_text("Final: pT2 pNO pMX, stage IIA. NO evidence of T cells; ypT3N1M0.")[0]
    'Final: [TNM], stage IIA. NO evidence of T cells; [TNM].'
"""

from __future__ import annotations

import re
from pathlib import Path

from cancerllm.data.schema import Note

__all__ = ["MASK", "TNM_CHAIN", "hard_split", "mask_text", "mask_tnm"]

MASK = "[TNM]"
_SUB = r"(?:[a-dA-D][0-9]?|mi)?(?:\s?\((?:[a-z+\-]{1,4})\))?"
_PRE = r"(?:y?[pc]|r|a|y)\s?"
_STRICT = rf"(?:{_PRE})?(?:T\s?(?:[0-4]|is|[Xx])|N\s?(?:[0-3]|[Xx])|M\s?(?:[01]|[Xx])){_SUB}"
_PRE_O = rf"{_PRE}[TNM]\s?[Oo]{_SUB}"
TNM_CHAIN = re.compile(
    rf"(?<![A-Za-z0-9])(?:{_STRICT}|{_PRE_O})(?:[\s,;/.]{{0,2}}(?:{_STRICT}|{_PRE_O}|[NM][Oo]{_SUB}))*(?![A-Za-z0-9])")


def mask_text(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Replace every TNM chain with :data:`MASK`; returns ``(masked, [(start, end) of chains in the original])``.

    Example:
        >>> mask_text("pT1c(m) pN0(i-) and T 2c")
        ('[TNM] and [TNM]', [(0, 15), (20, 24)])
    """
    spans = [(m.start(), m.end()) for m in TNM_CHAIN.finditer(text)]
    out, last = [], 0
    for s, e in spans:
        out += [text[last:s], MASK]
        last = e
    out.append(text[last:])
    return "".join(out), spans


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
    from cancerllm.data.io import read_notes, write_jsonl

    notes = read_notes(input)
    hard = [mask_tnm(n) for n in notes]
    for h in hard:
        h.check_spans()  # remapping must keep every gold span exact
    write_jsonl(hard, out)
    return {"notes": len(hard), "notes_masked": sum(1 for h in hard if h.tnm_masked),
            "chains_masked": sum(h.tnm_masked for h in hard)}
