"""Measurements a pathologist stages from when no TNM string is written: tumour size and positive lymph nodes.

When a report states ``pT2`` the label is read from that token (:mod:`cancerllm.knowledge.tnm`). When it does not (or
the token was masked: the "hard" split), AJCC staging still follows from what the report measures: a 2.6 cm breast
carcinoma is T2, "metastatic carcinoma in 2 of 14 lymph nodes" is N1 for most sites. This module finds those
measurements with their character spans, so a label inferred from them can point at the words it came from.

Rules favour the tumour over the specimen: a size is taken from a sentence that names the tumour's size
("Invasive tumor size: 2.6 cm", "greatest dimension 3.0 cm", "carcinoma, 2.6 cm") before any other size
("specimen measures 25 x 20 x 5 cm" is never a tumour size). Multi-dimension sizes ("3.0 x 2.5 x 2.0 cm") count
by their largest dimension. Node counts are read from "(2/14)", "2 of 14 lymph nodes" and "14 lymph nodes (2/14)".

Example:
    >>> m = find_measures("Invasive tumor size: 2.6 cm. Specimen 25 x 20 x 5 cm. Nodes: 2/14 lymph nodes positive.")
    >>> m.size_cm, m.nodes_positive, m.nodes_examined
    (2.6, 2, 14)
    >>> "Invasive tumor size: 2.6 cm..."[m.size_span[0]:m.size_span[1]]
    '2.6 cm'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cancerllm.knowledge.values import greatest_dimension_cm

__all__ = ["EXTENT_NAMES", "EXTENT_T", "EXTENT_TERMS", "MEASURE_NAMES", "Measures", "extent_vector", "find_measures",
           "measure_vector", "reached_terms", "reached_vector", "rule_extent_t", "rule_n", "rule_t"]

_NUM = r"\d{1,3}(?:[.,]\d{1,2})?"
# "3.0 x 2.5 x 2.0 cm", "1.8 by 1.5 by 1.1 cm", and the line-break periods of PDF-extracted reports ("2. x 2 x 2 cm").
_DIMS = rf"(?P<dims>{_NUM}(?:\.?\s*(?:[x×X]|by)\.?\s*{_NUM}){{0,2}})\.?\s*(?P<unit>cm|mm)\b"
_TUMOUR = r"(?:tumou?r|carcinoma|mass|lesion|neoplasm|nodule)"
# Strong cues: the sentence is about the tumour's size. The lazy gap keeps the first size after the cue.
_STRONG = re.compile(
    # "Tumor. size: 5x5 cm" (a PDF line break) but not "free of tumor. Size of biopsy: 10.5 cm"
    r"(?:tumou?r(?:\s+|\.\s+(?=(?:size|diameters?|dimensions?)\s*[:\d]))(?:size|diameters?|dimensions?)|"
    r"size\s+of\s+(?:the\s+)?(?:invasive\s+)?(?:tumou?r|carcinoma|lesion|mass|component|focus)|"
    r"greatest\s+(?:dimension|diameter|extent)|max(?:imum|\.)\s*(?:dimension|diameter)|largest\s+(?:dimension|diameter)|"
    r"larg(?:er|est)\s+(?:invasive\s+)?(?:tumou?r\s+focus|focus\s+(?:is|measures|measuring))|"
    rf"{_TUMOUR}\.?\s*(?:measures|measuring|measured|sized|was|,|\(|of|is)\s*|"
    r"\bforming\s)"
    # An OCR line break may stand between the cue and its number ("Greatest dimension. 2.8 cm"); the gap crosses no
    # sentence.
    rf"(?:\.\s+(?=\d))?[^.;]{{0,40}}?{_DIMS}", re.IGNORECASE)
# Weaker, used only when no strong cue is found: a size followed closely by the tumour word ("a 4.5 cm right breast
# mass", "a 2.7 x 2.5 x 2.0 cm yellow-tan, somewhat circumscribed mass"). The gap holds no bracket or node word
# ("the largest 2.7 cm node (grossly suspicious for tumor)", "micrometastatic (1 mm) carcinoma").
_BEFORE_NOUN = re.compile(rf"{_DIMS}(?:(?!\bnodes?\b)[^.;:()]){{0,45}}?\b{_TUMOUR}s?\b", re.IGNORECASE)
_NODES = [
    # "metastatic carcinoma in 2 of 14 lymph nodes", "2/14 lymph nodes"
    re.compile(r"(?P<pos>\d{1,2})\s*(?:/|of|out of)\s*(?P<tot>\d{1,2})\s*(?:\w+\s+){0,3}?(?:lymph\s*)?nodes?",
               re.IGNORECASE),
    # "lymph nodes (2/14)", "lymph node, 0/3"
    re.compile(r"(?:lymph\s*)?nodes?[^.;()]{0,40}?\(?\s*(?P<pos>\d{1,2})\s*/\s*(?P<tot>\d{1,2})\s*\)?",
               re.IGNORECASE),
]
# A size that is a distance ("located 2.0 cm from the posterior margin", "0.6cm from the closest margin", "margin,
# 1.3 cm") or a nodal deposit ("lymph node ... metastatic carcinoma measuring 1.5 mm") is not the tumour's size.
_DISTANCE_AFTER = re.compile(r"^(?:[^.;,()]{0,12}?\b(?:from|of\s+the\s+inked|to\s+(?:the\s+)?\w*\s*margin|away|clearance|margin)|"
                             # an OCR period before "from" ("the lesion is 3.5 cm. from the inferior margin"); a
                             # direction right after the number ("2.2 cm inferior to the areolar stitch")
                             r"\.\s*(?:from|away)\b|\s*(?:superior|inferior|medial|lateral|anterior|posterior|deep|proximal|"
                             r"distal)\s+to\s+the\b)", re.IGNORECASE)
_DISTANCE_BEFORE = re.compile(r"\b(?:margins?|distance|clearance|closest|nearest|from|within|at\s+least)\b[^.;]{0,25}$",
                              re.IGNORECASE)
# "Specimen size: greatest dimension 26 cm", "focus of DCIS (1 mm)": the specimen or the in-situ part, not the tumour.
# A specimen word counts unless the tumour is named after it ("Specimen size: Size of invasive focus 3.7cm", a
# template's slip).
_NOT_TUMOUR_GAP = r"(?:(?!tumou?r|carcinoma|invasive|lesion|mass|focus)[^;]){0,30}$"
_OTHER_BEFORE = re.compile(rf"\b(?:specimen\b{_NOT_TUMOUR_GAP}|(?:dcis|in\s+situ)\b[^;]{{0,30}}$|"
                           r"(?<!-)\b(?:piece|portion|fragment|sample)\s+of\s+(?:the\s+)?(?:tumou?r|tissue|carcinoma|neoplasm|"
                           r"mass|lesion)\b[^.;]{0,30}$)", re.IGNORECASE)
_SPECIMEN_SIZE = re.compile(rf"\bspecimen\s+(?:size|dimensions?|measur\w*)\b(?:\s*\([^()]{{0,60}}\)\.?)?{_NOT_TUMOUR_GAP}",
                            re.IGNORECASE)
# The size names what was received, not the tumour: "a 12.5 cm specimen", "a 5.5 x 4.3 x 3.0 cm portion of tissue".
_OTHER_AFTER = re.compile(r"^\s*(?:\w+\s+){0,2}?(?:specimen|portion|piece|fragment)\b", re.IGNORECASE)
# A bound, not a measurement: the AJCC definitions synoptic reports print ("Tumor more than 2.0 cm but not more than
# 5.0 cm in greatest dimension", "Tumor > 7 cm").
_BOUND_BEFORE = re.compile(r"(?:\b(?:more|greater|less|larger|smaller)\s+than|\bexceed\w*|\bover|[<>≤≥])\s*$",
                           re.IGNORECASE)


def _line_breaks(words: str) -> re.Pattern[str]:
    """Reports extracted from PDFs carry a period at each line break ("lymph nodes involved by. carcinoma"): a period
    right after one of ``words`` (function words, ``|``-joined) does not end a sentence; ``.sub(r"\\1 ", text)`` joins."""
    return re.compile(rf"\b({words})\.(?=\s)", re.IGNORECASE)


_OCR_BREAK = _line_breaks("by|of|with|the|and|or|to|in|into")  # the size's sentence, for nodal words
_AFTER_BOUND = re.compile(rf"[^.;\d]{{0,15}}?{_DIMS}", re.IGNORECASE)  # the size after a bound, same clause
_NODAL_BEFORE = re.compile(r"\b(?:lymph|nodes?|nodal|deposits?)\b", re.IGNORECASE)
MEASURE_NAMES = ("log_size_cm", "has_size", "nodes_positive", "nodes_examined", "has_nodes", "node_groups")


@dataclass
class Measures:
    """Tumour size (cm) and node counts found in one report, with the spans they were read from."""

    size_cm: float | None = None
    size_span: tuple[int, int] | None = None
    nodes_positive: int | None = None
    nodes_examined: int | None = None
    node_spans: list[tuple[int, int]] = field(default_factory=list)


def find_measures(text: str) -> Measures:
    """Tumour size and node counts of ``text`` (None where the report states none).

    Args:
        text: the report.

    Returns:
        :class:`Measures`; ``size_span`` covers the number and unit ("2.6 cm"), node spans the "2/14" fragments.
    """
    out = Measures()
    # The largest size a strong cue names: AJCC stages by the largest invasive focus, and reports often name a
    # smaller one first ("a second focus measuring 0.9 cm ... Tumor size: 2.1 x 2 x 1.2 cm"). A weak cue is read only
    # when no strong one is found, and then the first.
    found = _tumour_sizes(text, _STRONG.finditer(text))
    if found:
        size, span = max(found, key=lambda x: x[0])  # max keeps the first of equal sizes
    else:
        size, span = next(iter(_tumour_sizes(text, _BEFORE_NOUN.finditer(text), first=True)), (None, None))
    if size is not None:
        out.size_cm, out.size_span = round(size, 2), span
    seen: set[tuple[int, int]] = set()
    pos = tot = 0
    for pattern in _NODES:
        for m in pattern.finditer(text):
            p, t = int(m.group("pos")), int(m.group("tot"))
            span = (m.start("pos"), m.end("tot"))
            # A count cannot exceed what was examined; overlapping matches of the two patterns count once.
            if t == 0 or p > t or any(s < span[1] and span[0] < e for s, e in seen):
                continue
            seen.add(span)
            pos, tot = pos + p, tot + t
    if seen:
        out.nodes_positive, out.nodes_examined, out.node_spans = pos, tot, sorted(seen)
    return out


def _tumour_sizes(text: str, matches: Any, first: bool = False) -> list[tuple[float, tuple[int, int]]]:
    """(size in cm, span of number and unit) of each cue match that is a tumour size (only the first if ``first``)."""
    out = []
    for m in matches:
        # A number after "more than" / ">" is a bound, not a size (the AJCC definitions synoptic reports print:
        # "Tumor more than 2.0 cm but not more than 5.0 cm"). A bound can end a template's cue, with the size right
        # after it: "largest focus of invasion over 0.1 cm: 8.5 cm".
        while m is not None and _BOUND_BEFORE.search(text[max(0, m.start("dims") - 20):m.start("dims")]):
            m = _AFTER_BOUND.match(text, m.end("unit"))
        if m is None:
            continue
        size = greatest_dimension_cm(m.group("dims"), m.group("unit"))
        if _not_tumour_size(text, m.start("dims"), m.end("unit"), cue=m.start()):
            continue
        if 0.05 <= size <= 40:  # outside this range it is a specimen, an OCR slip or a dosage, not a tumour
            out.append((size, (m.start("dims"), m.end("unit"))))
            if first:
                break
    return out


def _not_tumour_size(text: str, start: int, end: int, cue: int | None = None) -> bool:
    """Whether the size at ``text[start:end]`` is a distance to a margin, a lymph-node deposit or the specimen (a bound,
    "more than 2.0 cm", is skipped before: :func:`_tumour_sizes`).

    ``cue`` is where the phrase that introduced the size starts ("carcinoma. measuring 1.5 cm": at "carcinoma");
    nodal words count in the cue's sentence too, since OCR periods can split one sentence in two.

    >>> t = "Tumor mass, 0.6cm from the closest margin; tumor size 2.5 cm."
    >>> _not_tumour_size(t, 12, 17), _not_tumour_size(t, t.index("2.5"), t.index("2.5") + 6)
    (True, False)
    """
    if _DISTANCE_AFTER.search(text[end:end + 40]) or _DISTANCE_BEFORE.search(text[max(0, start - 40):start]):
        return True
    if _OTHER_AFTER.search(text[end:end + 30]):
        return True
    # Nodal or specimen words count only within the size's own sentence (OCR lines end in ". "), or the cue's.
    first = start if cue is None else min(cue, start)
    before = _OCR_BREAK.sub(r"\1 ", text[max(0, first - 90):first])  # "lymph nodes involved by. carcinoma, 4.0 cm"
    sentence = re.split(r"\.\s", before)[-1] + text[first:start]
    return bool(_NODAL_BEFORE.search(sentence) or _OTHER_BEFORE.search(sentence[-40:])
                or _SPECIMEN_SIZE.search(text[max(0, start - 100):start]))


def measure_vector(m: Measures) -> list[float]:
    """Dense features in :data:`MEASURE_NAMES` order (missing values as -1, flags 0/1)."""
    import math

    return [math.log1p(m.size_cm) if m.size_cm is not None else -1.0, float(m.size_cm is not None),
            float(m.nodes_positive) if m.nodes_positive is not None else -1.0,
            float(m.nodes_examined) if m.nodes_examined is not None else -1.0,
            float(m.nodes_positive is not None), float(len(m.node_spans))]


# AJCC 7th edition (the edition most TCGA cases were staged with): the T category a tumour's greatest dimension
# alone implies, per TCGA project, as upper bounds (cm) of T1, T2, ...; and the N category a count of positive
# regional nodes implies, as upper bounds of N0, N1, .... Sites staged by depth of invasion or location (colon, bladder,
# prostate, lung nodes) have no size/count rule here: the trees learn what they can from the words.
SIZE_T_CM: dict[str, tuple[float, ...]] = {
    "BRCA": (2.0, 5.0), "LUAD": (3.0, 7.0), "LUSC": (3.0, 7.0), "MESO": (3.0, 7.0),
    "KIRC": (7.0,), "KIRP": (7.0,), "KICH": (7.0,), "THCA": (2.0, 4.0), "HNSC": (2.0, 4.0), "ACC": (5.0,),
    "PAAD": (2.0,), "SARC": (5.0,), "UVM": (10.0,),
}
NODES_N: dict[str, tuple[int, ...]] = {
    "BRCA": (0, 3, 9), "COAD": (0, 3), "READ": (0, 3), "STAD": (0, 2, 6), "ESCA": (0, 2, 6), "BLCA": (0, 1),
    "PAAD": (0,), "CHOL": (0,), "LIHC": (0,), "THCA": (0,), "KIRC": (0,), "KIRP": (0,), "KICH": (0,),
}


def rule_t(cancer_type: str | None, size_cm: float | None) -> int:
    """T category (1-4) that size alone implies for ``cancer_type``; 0 when no rule applies.

    Example:
        >>> rule_t("BRCA", 2.6), rule_t("LUAD", 8.0), rule_t("COAD", 3.0), rule_t("BRCA", None)
        (2, 3, 0, 0)
    """
    bounds = SIZE_T_CM.get(cancer_type or "")
    if not bounds or size_cm is None:
        return 0
    return 1 + sum(size_cm > b for b in bounds)


def rule_n(cancer_type: str | None, positive: int | None) -> int:
    """N category + 1 (1 = N0, 2 = N1, ...) that a positive-node count implies; 0 when no rule applies.

    Example:
        >>> rule_n("BRCA", 0), rule_n("BRCA", 5), rule_n("COAD", 12), rule_n("PRAD", 2)
        (1, 3, 3, 0)
    """
    bounds = NODES_N.get(cancer_type or "")
    if not bounds or positive is None:
        return 0
    return 1 + sum(positive > b for b in bounds)


# How far a tumour reaches, in the words AJCC T categories are defined by ("invades the muscularis propria" is T2
# in the colon, "extraprostatic extension" T3a in the prostate). Each term is a feature of the stacked T/N/M heads:
# +1 when stated, -1 when stated as absent ("no extraprostatic extension"), 0 when not mentioned; the trees learn
# what it means for the predicted cancer type. Written from the AJCC definitions, not learned from reports.
EXTENT_TERMS: tuple[tuple[str, str], ...] = (
    ("lamina_propria", r"lamina propria"),
    ("submucosa", r"submucosa"),
    ("muscularis_propria", r"muscularis propria|detrusor"),
    ("perivisceral_fat", (r"subserosa|peri(?:colonic|colic|colorectal|rectal|vesical|gastric|pancreatic|prostatic)"
                         r"|mesorect|adventitia")),
    ("serosa", r"\bserosa\b|\bserosal|visceral peritoneum|peritoneal surface"),  # \b: not "subserosa"
    ("perforation", r"perforat"),
    ("visceral_pleura", r"visceral pleura|elastic layer"),
    ("chest_wall", r"parietal pleura|chest wall|pericardi|diaphragm"),
    ("mediastinum", r"\bmediastin|\bcarina|\btrachea|\bvertebra|great vessel"),
    ("separate_nodules", (r"satellite|separate (?:tumou?r )?nodules?|intrapulmonary metasta|multifocal|multiple tumou?rs"
                          r"|(?:focality|lesions):\s*multiple")),
    ("extraprostatic", (r"extra-?\s?prostatic|extra-?capsul\w*\s+(?:tumou?r\s+)?(?:extension|extention|invasion|"
                        r"penetration|involvement|spread)|extra-capsular|capsular penetration")),
    ("seminal_vesicle", r"seminal vesicle"),
    ("renal_fat", r"perinephric|perirenal|renal sinus|sinus fat|gerota"),
    ("renal_vein", r"renal vein|vena cava"),
    ("adrenal", r"adrenal"),
    ("extrathyroidal", r"extrathyroidal|strap muscle|perithyroidal"),
    ("myometrium", r"myometri"),
    ("outer_half", r"outer (?:half|one[- ]half|third)"),
    ("cervical_stroma", r"cervical stroma"),
    ("skin", r"\bskin\b|dermis|nipple|peau d.orange|ulcerat"),
    # blood vessels (the liver's T2 "microvascular invasion", T3b "portal vein"), not lymphovascular invasion
    ("major_vessel", (r"portal vein|hepatic vein|(?<![-\w/])vascular invasion|angioinvasion|small[- ]vessel|"
                      r"micro-?vascular|micro-?vessel|venous invasion|tumou?r thrombus")),
    ("lymphovascular", (r"lymphovascular|lymph-?\s?vascular|angiolymphatic|lymphatic invasion|lymphatic/vascular"
                        r"|vascular/lymphatic")),
    ("perineural", r"perineural"),
    ("bone", r"\bbone\b|cartilage|mandible|maxilla"),
    ("adjacent_organ", (r"(?:invad|extend|involv)\w*\s+(?:into\s+)?(?:the\s+)?(?:adjacent|surrounding|contiguous)"
                       r"\s+(?:organ|structure|tissue)")),
    ("depth", r"depth of (?:invasion|infiltration)|breslow|clark level"),
)
_EXTENT = tuple((name, re.compile(p, re.IGNORECASE)) for name, p in EXTENT_TERMS)
_ABSENT = re.compile(r"\b(?:no|not|negative for|without|free of|uninvolved|absent|absence of|lacks?)\b[^.;]{0,40}$",
                     re.IGNORECASE)
# Synoptic reports say it after the term: "Extraprostatic extension: Not identified", "Visceral pleura invasion: absent".
_ABSENT_AFTER = re.compile(r"^[\w /()-]{0,30}?(?::|\b(?:is|are|was|were)\b)\s*(?:not\s+(?:identified|present|seen|involved|"
                           r"applicable|invaded)|absent|negative|none|no\b|uninvolved|free\b)", re.IGNORECASE)
EXTENT_NAMES = tuple(f"extent_{name}" for name, _ in EXTENT_TERMS)


def extent_vector(text: str) -> list[float]:
    """+1 / -1 / 0 per :data:`EXTENT_TERMS` entry: stated, stated as absent (every mention negated), not mentioned.

    Example:
        >>> v = dict(zip(EXTENT_NAMES, extent_vector("Tumor invades muscularis propria into subserosa. No extraprostatic "
        ...                                          "extension. Visceral pleura invasion: not identified.")))
        >>> v["extent_muscularis_propria"], v["extent_extraprostatic"], v["extent_serosa"], v["extent_visceral_pleura"]
        (1.0, -1.0, 0.0, -1.0)
    """
    row = []
    for _, rx in _EXTENT:
        hits = [(m.start(), m.end()) for m in rx.finditer(text)]
        if not hits:
            row.append(0.0)
            continue
        negated = all(_ABSENT.search(text[max(0, s - 60):s]) or _ABSENT_AFTER.search(text[e:e + 60]) for s, e in hits)
        row.append(-1.0 if negated else 1.0)
    return row


# AJCC 7th edition: the T category the deepest structure a tumour is said to reach implies, per TCGA project, in the
# terms of EXTENT_TERMS ("invades through the muscularis propria into pericolonic fat" is T3 in the colon). Only sites
# whose T is defined by depth or extension and whose words are specific in pathology reports; breast "skin" or head and
# neck "bone" name specimen parts and margins as often as invasion, so they are left to the trees.
_LUMEN = {"submucosa": 1, "muscularis_propria": 2, "perivisceral_fat": 3, "serosa": 4, "perforation": 4,
          "adjacent_organ": 4}  # colon, rectum; stomach and oesophagus add the lamina propria (T1a)
_KIDNEY = {"renal_fat": 3, "renal_vein": 3, "adjacent_organ": 4}
_LUNG = {"visceral_pleura": 2, "chest_wall": 3, "separate_nodules": 3, "mediastinum": 4}
EXTENT_T: dict[str, dict[str, int]] = {
    "COAD": _LUMEN, "READ": _LUMEN, "STAD": {"lamina_propria": 1, **_LUMEN}, "ESCA": {"lamina_propria": 1, **_LUMEN},
    "BLCA": {"lamina_propria": 1, "muscularis_propria": 2, "perivisceral_fat": 3, "adjacent_organ": 4},
    "PRAD": {"extraprostatic": 3, "seminal_vesicle": 3, "perivisceral_fat": 3, "adjacent_organ": 4},
    "KIRC": _KIDNEY, "KIRP": _KIDNEY, "KICH": _KIDNEY, "LUAD": _LUNG, "LUSC": _LUNG,
    "THCA": {"extrathyroidal": 3}, "UCEC": {"myometrium": 1, "cervical_stroma": 2},
    "LIHC": {"major_vessel": 2, "adjacent_organ": 4}, "PAAD": {"perivisceral_fat": 3},
}
_EXTENT_T_FLOOR = {"PRAD": 2}  # a resected prostate carcinoma is at least T2 (pathologic T1 does not exist)
_EXTENT_KEYS = tuple(name for name, _ in EXTENT_TERMS)


# The tumour is said to reach a structure (not merely a structure named): an invasion word before the term in the same
# sentence ("invades through the muscularis propria into pericolonic fat"), or a synoptic "term ...: present".
_REACH_BEFORE = re.compile(r"\b(?:invad\w*|invasion|infiltrat\w*|extend\w*|extension|penetrat\w*|through|into|involv\w*)"
                           r"\b[^.;:]{0,40}$", re.IGNORECASE)
# The value of a synoptic extent field: "Extent of invasion: Serosa (visceral peritoneum)", "Tumor extent: Subserosa".
_FIELD_BEFORE = re.compile(r"\bextent\b[^.;:\n]{0,25}:\s*(?:[\w-]+\s+){0,3}$", re.IGNORECASE)
_SUBFIELD = re.compile(r"^[\w ,'/()-]{0,30}:")  # "Extent of invasion: Perirenal adipose tissue: does not involve"
_REACH_AFTER = re.compile(r"^[\w /()-]{0,30}?:\s*(?:present|identified|yes|positive|involved)\b", re.IGNORECASE)
_NODAL_AFTER = re.compile(r"^[\w /-]{0,25}?\b(?:lymph|nodes?|station)\b", re.IGNORECASE)  # "mediastinal lymph nodes"
# A term followed by an extension noun ("extraprostatic extension", "seminal vesicle invasion", "periprostatic fat
# involvement") is a statement that the tumour reaches it, with any wording around it ("established extracapsular
# extension", "extensive lymphovascular and extraprostatic involvement", "extraprostatic extension: very focal"), unless
# negated, a heading alone on its line, or a synoptic field left empty or not assessed.
_EXT_NOUN = re.compile(r"^[\s)/-]*(?:lymphatic\s+)?(?:\([^)\n]{0,30}\)\s*)?"
                       r"(?:fat\s+|fatty tissue\s+|soft tissue\s+|tumou?r\s*)?"
                       r"(?:extensions?|extention|invasion|involvement|penetration|spread|growth|infiltration)\b",
                       re.IGNORECASE)
_PHRASE_TERM = re.compile(r"extension|extention|invasion|penetration|involvement|spread", re.IGNORECASE)  # in the term
_EMPTY_FIELD = re.compile(r"^\s*(?:\(specify|:?\s*(?:not applicable|n/a\b|cannot|indeterminate|unknown|not assessed"
                          r"|not specified|\(?specify)|:\s*(?:[A-Z][\w/ ]{0,30}:|$))", re.IGNORECASE | re.MULTILINE)
# Negated right after the phrase, across a synoptic sub-field or a PDF period: "Seminal vesicle invasion: Left: Not
# identified", "Extraprostatic Extension. Not identified", "Vascular invasion?: No".
_ABSENT_NEAR = re.compile(r"^[\w /():.?-]{0,25}?(?::\s*no\b|\bnot\.?\s+(?:identified|present|seen|noted|involved|"
                          r"established|appreciated|observed|demonstrated|detected|found|evident)|absent|negative"
                          r"|uninvolved|free of)\b", re.IGNORECASE)
_HEADING_ONLY = re.compile(r"^[\s\d.)*+-]*$")  # nothing but list markers before the phrase on its line
_NOT_PHRASE = {"depth"}  # "depth of invasion: 4 mm" names a measurement, not a structure reached
_FINDING = {"separate_nodules"}  # named only when found ("satellite nodules"); the others are also named when absent
# "There is no. angiolymphatic or visceral pleural invasion": the negation reaches across the line break.
_SOFT_STOP = _line_breaks("no|not|of|or|and|with|the|for|to|in|into|without")


def reached_terms(text: str, terms: tuple[tuple[str, re.Pattern[str]], ...] | None = None) -> dict[str, tuple[int, int]]:
    """:data:`EXTENT_TERMS` (or ``terms``: name, compiled pattern) the tumour is said to reach in ``text``: name -> span
    of the first such mention (stricter than :func:`extent_vector`: a lymph node station or a specimen part named
    without an invasion word does not count).

    Example:
        >>> sorted(reached_terms("Tumor invades through the muscularis propria into pericolonic fat. Serosa: "
        ...                      "uninvolved. Mediastinal lymph nodes, station 7: no tumor. Visceral pleura invasion: present"))
        ['muscularis_propria', 'perivisceral_fat', 'visceral_pleura']
    """
    out: dict[str, tuple[int, int]] = {}
    for name, rx in _EXTENT if terms is None else terms:
        for m in rx.finditer(text):
            before = _SOFT_STOP.sub(r"\1 ", text[max(0, m.start() - 60):m.start()])
            after = text[m.end():m.end() + 60]
            if _ABSENT.search(before) or _ABSENT_AFTER.search(after) or _NODAL_AFTER.search(after):
                continue
            if (name in _FINDING or _REACH_BEFORE.search(before) or _REACH_AFTER.search(after)
                    or (_FIELD_BEFORE.search(before) and not _SUBFIELD.match(after))  # an extent field's value
                    or (name not in _NOT_PHRASE and _stated(text, m))):
                out[name] = (m.start(), m.end())
                break
    return out


def _stated(text: str, m: re.Match[str]) -> bool:
    """The term at ``m`` heads an extension phrase that says the tumour reaches it (see ``_EXT_NOUN``)."""
    noun = _EXT_NOUN.match(text[m.end():m.end() + 80])
    if noun is None and not _PHRASE_TERM.search(m.group(0)):
        return False
    capsule = m.group(0).lower().startswith(("extracaps", "extra-caps"))
    if capsule and _NODAL_BEFORE.search(text[max(0, m.start() - 80):m.start()]):
        return False  # a lymph node's extracapsular extension (N), not the prostate's
    end = m.end() + (noun.end() if noun else 0)
    if _EMPTY_FIELD.match(text[end:end + 60]) or _ABSENT_NEAR.match(text[m.end():m.end() + 60]):
        return False
    line_start = text.rfind("\n", 0, m.start()) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    heading = _HEADING_ONLY.match(text[line_start:m.start()]) and not text[end:line_end].strip(" :\t")
    return not heading


def reached_vector(text: str) -> list[float]:
    """1.0 per :data:`EXTENT_TERMS` entry the tumour is said to reach in ``text`` (:func:`reached_terms`), else 0.0:
    the flags :func:`rule_extent_t` reads, in :func:`extent_vector`'s order."""
    reached = reached_terms(text)
    return [float(name in reached) for name in _EXTENT_KEYS]


def rule_extent_t(cancer_type: str | None, flags: list[float] | tuple[float, ...]) -> int:
    """T category (1-4) the deepest stated, not negated, extent term implies for ``cancer_type``; 0 without a rule.

    Args:
        cancer_type: a TCGA project code (the predicted cancer type).
        flags: :func:`reached_vector` (or the looser :func:`extent_vector`) of the report.

    Example:
        >>> rule_extent_t("COAD", extent_vector("Tumor invades through the muscularis propria into pericolonic fat."))
        3
        >>> rule_extent_t("PRAD", extent_vector("No extraprostatic extension.")), rule_extent_t("BRCA", [1.0] * 26)
        (2, 0)
    """
    levels = EXTENT_T.get(cancer_type or "")
    if not levels:
        return 0
    best = _EXTENT_T_FLOOR.get(cancer_type or "", 0)
    for name, flag in zip(_EXTENT_KEYS, flags, strict=True):
        if flag > 0 and name in levels:
            best = max(best, levels[name])
    return best
