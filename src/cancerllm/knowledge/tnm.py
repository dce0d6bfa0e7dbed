"""The one home of TNM strings: find (``pT2a``, ``ypN1``, ``T2 N0 M0``, ``pT2N1M0``), read and mask them.

Every other module asks this one: the TCGA loader (evidence spans), the regex baseline, the hard split (masking),
value normalisation and the inference guard. One finder means the hard split hides exactly what the baseline and
the model's guard can read. The rules favour precision over recall, because a wrong evidence span teaches a
model to quote the wrong words:

* A *prefixed* token (``p``, ``yp``, ``c``, ``rp``, OCR ``P``) is accepted on its own: "pT3a, pN0 (0/9)", "PT4".
* A *bare* token (``T2``, ``N0``) is accepted only inside a sequence of different axes ("T2 N1 MX",
  "T2c, NO, MX") or shortly after a staging word ("TNM", "AJCC", "stage", "Regional lymph nodes (N):").
  "T2-weighted" MRI, "free T4", "N2 lymph nodes" (lung station names), "Block N1" and "T12" do not match.
* OCR noise: ``NO``/``pNo``/``pNQ`` read as N0, ``MO`` as M0 (letter O only after a prefix or inside a
  sequence, so the word "NO" alone never matches), ``pTla``/``pNla`` as T1/N1, one space inside a token
  ("pT 2b", "N 0"), packed tokens ("pT4b(mult)N3aL1V0R0", "[AJCCpT1cNxMx]").

Values are coarse: substage dropped (``T2a`` -> ``T2``), ``TX``/``NX``/``MX``, ``Tis`` and ``T0`` kept as such;
:func:`gold_class` maps a value to the T1-T4 / N0-N3 / M0-M1 label space (others -> None).

* :func:`find_tnm` -> :class:`TnmMatch` (span, axis letter, value, prefix) for every token in a note;
* :func:`read_value` -> the value of the one token inside a quoted mention ("at 3 o'clock, pT2" -> T2);
* :func:`mask_tnm` -> the note with every TNM chain replaced by :data:`MASK` (the "hard" split).

Example:
    >>> text = "PATHOLOGIC STAGE: pT2a NO MX. MRI: T2-weighted signal."
    >>> [(t, text[s:e], v) for t, s, e, v in find_tnm(text)]
    [('stage_t', 'pT2a', 'T2'), ('stage_n', 'NO', 'N0'), ('stage_m', 'MX', 'MX')]
    >>> read_value("in 2 of 14 nodes (pN1)", "stage_n"), mask_tnm("Final: PT4 pNQ.")[0]
    ('N1', 'Final: [TNM].')
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple, Self

__all__ = ["AXIS_TYPES", "MASK", "TnmMatch", "find_tnm", "gold_class", "mask_tnm", "read_match", "read_value",
           "stated_classes"]

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


class _Fields(NamedTuple):
    type: str
    start: int
    end: int
    value: str


class TnmMatch(_Fields):
    """One TNM token: ``(type, start, end, value)`` plus ``prefix`` ("p", "yp", "c", "" ...), ``axis`` and ``cls``.

    It unpacks and compares as the 4-tuple older callers expect.

    Example:
        >>> m = find_tnm("ypT3a")[0]
        >>> tuple(m), m.prefix, m.axis, m.cls, m.pathologic
        (('stage_t', 0, 5, 'T3'), 'yp', 'T', 'T3', True)
    """

    prefix: str = ""

    def __new__(cls, type: str, start: int, end: int, value: str, prefix: str = "") -> Self:
        self = super().__new__(cls, type, start, end, value)
        self.prefix = prefix
        return self

    @property
    def axis(self) -> str:
        """The category letter: "T", "N" or "M"."""
        return self.value[0]

    @property
    def cls(self) -> str | None:
        """The value in the label space (T1-T4, N0-N3, M0-M1), or None for X / is / T0."""
        return gold_class(self.value)

    @property
    def pathologic(self) -> bool:
        """True for a pathologic token ("pT2", "ypN1", OCR "PT4"); clinical "cT2" and bare "T2" are not."""
        return self.prefix.lower().endswith("p")


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
        out.append({"ax": m["ax"], "value": value, "start": start, "end": end, "pre": bool(pre), "prefix": pre or "",
                    "ocr": ocr,
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


def find_tnm(text: str) -> list[TnmMatch]:
    """Return a :class:`TnmMatch` ``(type, start, end, value)`` for each explicit T, N or M statement, in order.

    ``type`` is ``stage_t`` / ``stage_n`` / ``stage_m``; ``text[start:end]`` is the surface token (prefix and
    substage included, suffixes like "(sn)" excluded); ``value`` is the coarse class ("T2", "NX", "Tis").

    Example:
        >>> [tuple(m) for m in find_tnm("ypT3 pN1a (2/14) cM0")]
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
    return [_match(c) for c in kept]


@lru_cache(maxsize=8)
def _find_cached(text: str) -> tuple[TnmMatch, ...]:
    return tuple(find_tnm(text))


def _match(c: dict, shift: int = 0) -> TnmMatch:
    return TnmMatch(AXIS_TYPES[c["ax"]], c["start"] + shift, c["end"] + shift, c["value"], c["prefix"])


# --------------------------------------------------------------------------- reading one quoted mention

# A whole quoted span that is one token in any case ("pt2a", "T2", "n1"): the quote itself says it is a stage.
_LONE = re.compile(r"(?P<pre>yp|yc|rp|p|c|y)?(?P<ax>[tnm]) ?(?P<cat>is|[0-4]|x)(?:[a-d][12]?|mi)?", re.IGNORECASE)


def _axis_of(category: str) -> str:
    """"T" from "T", "stage_t" or "t_stage"."""
    key = category.strip()
    if key.upper() in AXIS_TYPES:
        return key.upper()
    for ax, etype in AXIS_TYPES.items():
        if key in (etype, f"{ax.lower()}_stage"):
            return ax
    from cancerllm.errors import ConfigError

    raise ConfigError(f"TNM category: got {category!r}, expected T/N/M, stage_t/stage_n/stage_m or t_stage/...")


def read_match(span_text: str, category: str, *, context: str | None = None, offset: int = 0) -> TnmMatch | None:
    """The one TNM token of axis ``category`` inside a quoted mention, with offsets relative to ``span_text``.

    The value is always read from the token that was found, so the guard ("is this a T category?") and the value
    cannot disagree: "at 3 o'clock, pT2" reads T2 from "pT2", never T3 from "t 3"; "in 2 of 14 nodes (pN1)" reads
    N1, never N2. In order:

    1. with ``context`` (the note, ``span_text == context[offset:offset + len(span_text)]``): a token
       :func:`find_tnm` accepts in the note and that lies inside the span, so OCR "NO" after "pT2a" reads N0;
    2. a token :func:`find_tnm` accepts in the span alone;
    3. a well-formed, upper-case axis token standing alone in the span ("N1b" in a packed "pT1bN1b", "MX"); a
       bare OCR "NO"/"MO" is refused here, because without a neighbouring token it is the English word;
    4. the whole span as one token in any case ("pt2").

    Args:
        span_text: the mention text (as quoted from the note).
        category: "T"/"N"/"M", an entity type ("stage_t") or a label key ("t_stage").
        context: the note (or chunk) the span was found in; optional.
        offset: where ``span_text`` starts in ``context``.

    Returns:
        The match, or None when the span holds no token of that axis ("NOT", "Stage T", "A").

    Example:
        >>> read_match("at 3 o'clock, pT2", "T")
        TnmMatch(type='stage_t', start=14, end=17, value='T2')
        >>> read_match("NO", "stage_n") is None, read_match("NO", "stage_n", context="pT2a NO MX", offset=5).value
        (True, 'N0')
    """
    axis = _axis_of(category)
    end = offset + len(span_text)
    if context is not None:
        for m in _find_cached(context):  # one chunk is asked about every candidate span of every mention
            if m.axis == axis and offset <= m.start and m.end <= end:
                return TnmMatch(m.type, m.start - offset, m.end - offset, m.value, m.prefix)
    for m in find_tnm(span_text):
        if m.axis == axis:
            return m
    prev = None
    for c in _candidates(span_text):
        packed = prev is not None and prev["end"] == c["start"]  # "pT1bN1b": glued to the token before
        prev = c
        if c["ax"] != axis or (c["ocr"] and not c["pre"]) or (c["weak_one"] and not packed):
            continue
        if (c["glued_left"] and not packed) or (c["glued_right"] and not _GLUED_RIGHT.match(span_text, c["end"])):
            continue  # "NOT", "pT2ABC", "CT12": part of a longer word
        return _match(c)
    lone = _LONE.fullmatch(span_text.strip())
    if lone and lone["ax"].upper() == axis:
        value = _value(axis, lone["cat"].upper() if lone["cat"].lower() != "is" else "is")
        if value is not None:
            start = span_text.index(lone.group())
            return TnmMatch(AXIS_TYPES[axis], start, start + len(lone.group()), value, lone["pre"] or "")
    return None


def read_value(span_text: str, category: str, *, context: str | None = None, offset: int = 0) -> str | None:
    """The coarse value ("T2", "NX", "Tis") of the token :func:`read_match` finds, or None.

    Example:
        >>> [read_value(s, "stage_t") for s in ("at 3 o'clock, pT2", "pTla", "ypT2a", "pTX", "Stage T")]
        ['T2', 'T1', 'T2', 'TX', None]
        >>> [read_value(s, "N") for s in ("in 2 of 14 nodes (pN1)", "pNO", "pNQ", "NOT")]
        ['N1', 'N0', 'N0', None]
    """
    m = read_match(span_text, category, context=context, offset=offset)
    return m.value if m else None


# --------------------------------------------------------------------------- masking (the "hard" split)

MASK = "[TNM]"
# Recall-oriented chains on top of find_tnm: over-masking ("T1 - three lymph nodes" cassette labels, lung nodal
# stations "N2 lymph nodes") is harmless for a hard split, a leaked answer is not.
_SUB = r"(?:[a-dA-D][0-9]?|mi)?(?:\s?\((?:[a-z+\-]{1,4})\))?"
_PRE = r"(?:y?[pcP]|r|a|y)\s?"
_STRICT = rf"(?:{_PRE})?(?:T\s?(?:[0-4]|is|[Xx])|N\s?(?:[0-3]|[Xx])|M\s?(?:[01]|[Xx])){_SUB}"
_PRE_O = rf"{_PRE}[TNM]\s?[OoQ]{_SUB}"
_CHAIN = re.compile(
    rf"(?<![A-Za-z0-9])(?:{_STRICT}|{_PRE_O})(?:[\s,;/.]{{0,2}}(?:{_STRICT}|{_PRE_O}|[NM][Oo]{_SUB}))*(?![A-Za-z0-9])")
_SUFFIX = re.compile(r"\s?\((?:[a-z+\-]{1,4})\)")  # "pN0 (i-)", "pT2(m)", "pN1(sn)" go with their token
_JOIN = re.compile(r"[\s,;/.]{0,2}")  # tokens this close form one chain: "pT2, pN0", "pT1.NO.MX"


def _merge(spans: list[tuple[int, int]], text: str) -> list[tuple[int, int]]:
    """Sorted, overlapping or separator-joined spans merged into chains."""
    out: list[list[int]] = []
    for s, e in sorted(spans):
        if out and (s <= out[-1][1] or _JOIN.fullmatch(text, out[-1][1], s)):
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def _apply(text: str, spans: list[tuple[int, int]]) -> str:
    parts, last = [], 0
    for s, e in spans:
        parts += [text[last:s], MASK]
        last = e
    return "".join(parts) + text[last:]


def _to_original(pos: int, spans: list[tuple[int, int]]) -> int:
    """Offset in the original text of offset ``pos`` of the masked text (``pos`` outside every mask)."""
    for s, e in spans:
        if pos < s:
            break
        pos += (e - s) - len(MASK)
    return pos


def mask_tnm(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Replace every TNM chain with :data:`MASK`; returns ``(masked, [(start, end) of chains in the original])``.

    A chain is every :func:`find_tnm` token (with "(sn)"/"(i-)" suffixes) plus a recall-oriented pattern, joined
    when only separators lie between. The result is checked with :func:`find_tnm` itself: masking can bring a
    bare token next to a staging word ("[TNM]" contains "TNM"), so it repeats until nothing is readable.
    Deterministic: no randomness, no seed.

    Example:
        >>> mask_tnm("pT1c(m) pN0(i-) and T 2c, then PT4 pNla")
        ('[TNM] and [TNM], then [TNM]', [(0, 15), (20, 24), (31, 39)])
        >>> mask_tnm("NO tumor seen. Stage IIB.")[1]
        []
    """
    spans: list[tuple[int, int]] = []
    for m in find_tnm(text):
        suffix = _SUFFIX.match(text, m.end)
        spans.append((m.start, suffix.end() if suffix else m.end))
    spans = _merge(spans + [(m.start(), m.end()) for m in _CHAIN.finditer(text)], text)
    for _ in range(5):  # each round only adds tokens; real reports settle in one or two
        left = find_tnm(_apply(text, spans))
        if not left:
            break
        spans = _merge(spans + [(_to_original(m.start, spans), _to_original(m.end, spans)) for m in left], text)
    return _apply(text, spans), spans


def stated_classes(text: str) -> dict[str, TnmMatch]:
    """The token a registrar would read each axis from: ``{"T": match, "N": ..., "M": ...}`` (axes not stated
    with a T1-T4 / N0-N3 / M0-M1 class are absent). Pathologic tokens beat clinical and bare ones; among equals
    the first occurrence wins (the final diagnosis leads a report; addenda and history come later).

    Example:
        >>> {a: (m.cls, m.prefix) for a, m in stated_classes("cT3 N0. Final: pT2a pNX; later ypT1").items()}
        {'T': ('T2', 'p'), 'N': ('N0', '')}
    """
    best: dict[str, TnmMatch] = {}
    for m in find_tnm(text):
        if m.cls is None:
            continue
        if m.axis not in best or (m.pathologic and not best[m.axis].pathologic):
            best[m.axis] = m
    return best
