"""Find explicit TNM statements (``pT2a``, ``ypN1``, ``T2 N0 M0``, ``pT2N1M0``) in OCR'd pathology text.

Used to ground the TCGA T/N/M labels in the report (evidence spans) and reusable as a regex baseline. The
rules favour precision over recall, because a wrong evidence span teaches a model to quote the wrong words:

* A *prefixed* token (``p``, ``yp``, ``c``, ``rp``, OCR ``P``) is accepted on its own: "pT3a, pN0 (0/9)".
* A *bare* token (``T2``, ``N0``) is accepted only inside a sequence of different axes ("T2 N1 MX",
  "T2c, NO, MX") or shortly after a staging word ("TNM", "AJCC", "stage", "Regional lymph nodes (N):").
  "T2-weighted" MRI, "free T4", "N2 lymph nodes" (lung station names), "Block N1" and "T12" do not match.
* OCR noise: ``NO``/``pNo``/``pNQ`` read as N0, ``MO`` as M0 (letter O only after a prefix or inside a
  sequence, so the word "NO" alone never matches), one space inside a token ("pT 2b", "N 0"), packed tokens
  ("pT4b(mult)N3aL1V0R0", "[AJCCpT1cNxMx]").

Values are coarse: substage dropped (``T2a`` -> ``T2``), ``TX``/``NX``/``MX``, ``Tis`` and ``T0`` kept as such;
:func:`gold_class` maps a value to the T1-T4 / N0-N3 / M0-M1 label space (others -> None).

Example:
    >>> text = "PATHOLOGIC STAGE: pT2a NO MX. MRI: T2-weighted signal."
    >>> [(t, text[s:e], v) for t, s, e, v in find_tnm(text)]
    [('stage_t', 'pT2a', 'T2'), ('stage_n', 'NO', 'N0'), ('stage_m', 'MX', 'MX')]
"""

from __future__ import annotations

import re

__all__ = ["AXIS_TYPES", "find_tnm", "gold_class"]

AXIS_TYPES = {"T": "stage_t", "N": "stage_n", "M": "stage_m"}

# One loose candidate: optional prefix, axis letter, optional single space, category, optional substage.
# Boundaries and context are checked in code below, where they can be explained.
_CAND = re.compile(
    r"(?P<pre>yp|yc|rp|p|c|y|P)?(?P<ax>[TNM])(?P<sp> ?)"
    r"(?P<cat>is|IS|[0-4]|[xX]|[oOQ]|[lI](?![A-Za-z]{2}))(?P<sub>(?<=[1-4lI])[a-dA-D][12]?|(?<=[1lI])mi)?"
)
# Allowed right neighbours of a token that is glued to more text: another TNM/L/V/R/G token or a suffix.
_GLUED_RIGHT = re.compile(r"(?:yp|p|c)?[TNM](?: ?[0-4xX]|[oOlI](?![e-z]|[ST]|[ND][A-Z]))|[LVRG][0-9xXoO]|\(|sn\b|i[+-]|mol|m\b")
# A legend line of a synoptic template ("pN1: Metastasis in 1-3 nodes. pN2: ...") lists options, not the answer.
_DEFINITION = re.compile(r"\s*:\s*(?:tumou?r|metasta|no |cannot|regional|distant|invasion|invades|extension|"
                         r"unilateral|bilateral|greater|carcinoma in situ|single|multiple)", re.IGNORECASE)
_STAGING_WORDS = re.compile(
    r"stag(?:e|ing)|tnm|ajcc|classification|primary tumou?r|regional lymph nodes?|distant metastas[ie]s"
    r"|\(\s*p?[TNM]\s*\)", re.IGNORECASE)
_CONTEXT_CHARS = 30  # how far back a staging word may be for a bare token ("Pathologic stage: T2", "(M): MX")
_BAD_RIGHT = re.compile(r"[)\]]?\s*(?:[-\u2013]|weighted|signal|hyper|hypo|vertebra|lymph|nodes?\b|mg\b|uptake)",
                        re.IGNORECASE)
_SEP = re.compile(r"[\s,;.:/]{0,4}")
_PAREN = re.compile(r"\([^()]{0,15}\)")


def gold_class(value: str | None) -> str | None:
    """Map a coarse TNM value to the TCGA label space (T1-T4, N0-N3, M0-M1); X, is and T0 give None.

    Example:
        >>> [gold_class(v) for v in ("T2", "T0", "Tis", "NX", "N0", "M1")]
        ['T2', None, None, None, 'N0', 'M1']
    """
    if value is None or len(value) != 2 or not value[1].isdigit():
        return None
    if value[0] == "T" and value[1] == "0":
        return None
    return value


def _value(ax: str, cat: str) -> str | None:
    cat = {"o": "0", "O": "0", "Q": "0", "l": "1", "I": "1", "x": "X", "IS": "is"}.get(cat, cat)
    if cat == "0" and ax == "T" or cat == "is" and ax != "T":
        return f"T{cat}" if ax == "T" else None
    limit = {"T": 4, "N": 3, "M": 1}[ax]
    if cat.isdigit() and int(cat) > limit:
        return None  # "N4-N6" cassette labels, "M30" slab numbers
    return ax + cat


def _candidates(text: str) -> list[dict]:
    """All well-formed tokens with their left/right glue, before any context rule."""
    out = []
    for m in _CAND.finditer(text):
        value = _value(m["ax"], m["cat"])
        if value is None:
            continue
        pre, start, end = m["pre"], m.start(), m.end()
        # "pNQ"/"pNo" style OCR zeros and an inner space are only trusted after a prefix or inside a sequence.
        ocr = m["cat"] in "oOQlI"
        if ocr and not pre and (m["ax"] == "T" or m["cat"] == "Q"):
            continue  # "TO" is a word, never T0; a bare "NQ" or "Tl" is too weak
        if m["sp"] and not (m["cat"].isdigit() or m["cat"] in "xX"):
            continue  # "T IS" / "N O" are words, not "Tis" / "N0"
        nxt = text[end:end + 1]
        out.append({"ax": m["ax"], "value": value, "start": start, "end": end, "pre": bool(pre), "ocr": ocr,
                    "space": bool(m["sp"]), "weak_one": m["cat"] in "lI" and pre != "p",
                    "glued_left": start > 0 and text[start - 1].isalnum(),
                    "glued_right": nxt.isalnum()})
    return out


def _left_ok(text: str, c: dict, prev: dict | None) -> bool:
    if not c["glued_left"]:
        return True
    # Packed "pT2N1M0" (previous token ends exactly here) or "[AJCCpT1c..." are the only glued-left forms.
    return (prev is not None and prev["end"] == c["start"]) or text[:c["start"]].upper().endswith("AJCC")


def _gap_ok(text: str, a: dict, b: dict) -> bool:
    """True when tokens a and b are neighbours in one TNM statement ("pT2 (m) NO", "T3a, N2, MX")."""
    gap = _PAREN.sub("", text[a["end"]:b["start"]])
    return _SEP.fullmatch(gap) is not None and "TNM".index(a["ax"]) < "TNM".index(b["ax"])


def _context(text: str, c: dict) -> bool:
    return _STAGING_WORDS.search(text, max(0, c["start"] - _CONTEXT_CHARS), c["start"]) is not None


def find_tnm(text: str) -> list[tuple[str, int, int, str]]:
    """Return ``(type, start, end, value)`` for each explicit T, N or M statement, in text order.

    ``type`` is ``stage_t`` / ``stage_n`` / ``stage_m``; ``text[start:end]`` is the surface token (prefix and
    substage included, suffixes like "(sn)" excluded); ``value`` is the coarse class ("T2", "NX", "Tis").

    Example:
        >>> find_tnm("ypT3 pN1a (2/14) cM0")
        [('stage_t', 0, 4, 'T3'), ('stage_n', 5, 9, 'N1'), ('stage_m', 17, 20, 'M0')]
        >>> find_tnm("T1 and T2-weighted images; free T4 normal; pT without a category; T12 vertebra")
        []
    """
    cands = _candidates(text)
    kept: list[dict] = []
    for i, c in enumerate(cands):
        prev = cands[i - 1] if i else None
        nxt = cands[i + 1] if i + 1 < len(cands) else None
        if not _left_ok(text, c, kept[-1] if kept else None):  # glue only to an accepted token ("SYNOPTIC")
            continue
        if c["weak_one"] and not (kept and kept[-1]["end"] == c["start"]):
            continue  # l/I as 1 only after "p" ("pTla") or packed ("pT1Nla"); "PNI" is perineural invasion
        if c["glued_right"] and not _GLUED_RIGHT.match(text, c["end"]):
            continue  # "T1weighted", "M30", "pT2ABC"
        in_seq = (prev is not None and _gap_ok(text, prev, c)) or (nxt is not None and _gap_ok(text, c, nxt))
        if c["pre"] and not c["space"]:
            kept.append(c)
            continue
        if c["ocr"] or c["space"]:
            # "NO"/"MO" and "N 0" are trusted only right after another token of the statement.
            after_token = prev is not None and _gap_ok(text, prev, c)
            spaced_ok = c["space"] and not c["ocr"] and (c["pre"] or _context(text, c))  # "pT 2", "(pTNM): N 0"
            if after_token or spaced_ok:
                kept.append(c)
            continue
        if _BAD_RIGHT.match(text, c["end"]):
            continue  # "T2-weighted", "N2 lymph nodes" (station), "T2- mg" dose tables
        if in_seq or _context(text, c):
            kept.append(c)
    # Drop template legends: two or more "option: definition" tokens on one axis mean a printed option list.
    legend = [c for c in kept if _DEFINITION.match(text, c["end"])]
    listed = {ax for ax in "TNM" if len({c["value"] for c in legend if c["ax"] == ax}) > 1}
    if legend and len(legend) > 1:
        listed |= {c["ax"] for c in legend if c["ax"] == "M"}  # "pM1: Distant metastasis" is always a legend
    kept = [c for c in kept if not (c["ax"] in listed and c in legend)]
    return [(AXIS_TYPES[c["ax"]], c["start"], c["end"], c["value"]) for c in kept]
