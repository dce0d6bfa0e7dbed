"""The T category a report writes out in words beside its stage code.

Synoptic reports often follow the code with the category's AJCC definition: "pT3: Tumor greater than 7 cm in
greatest dimension", "pT4a (Tumor penetrates to the surface of the visceral peritoneum)", "pT2: Tumor more than 2 cm
but not more than 4 cm, limited to thyroid". When the code is not read as a stated class (masked, as on the hard
split, or a bare "T2" the TNM finder leaves alone) the definition still states the category: its size bounds read
with the cancer type's AJCC 7th size limits (:data:`cancerllm.classify.measures.SIZE_T_CM`), or, without a size, the
structure it says the tumour reaches read with the type's extension levels
(:func:`cancerllm.classify.measures.rule_extent_t`). Only the first clause counts: "Tumor > 7 cm; or tumor of any size
that directly invades ... chest wall, mediastinum" defines T3 by its size, and its list of alternatives names
structures of several categories.

On the TNM-masked TCGA train+dev reports (2,325 with T) a definition is read in 221, and the category it gives equals
the registry T in 211 (95%; the out-of-fold heads had 189 of them right).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cancerllm.classify.measures import SIZE_T_CM, reached_vector, rule_extent_t, rule_t

__all__ = ["Definition", "definition_t", "find_definitions"]

# A stage code (or the mask that replaced it), a separator, then words that start a T definition.
_DEFINITION = re.compile(r"(?:\[TNM\]|\b[pyr]{0,2}T[1-4][a-d]?\b)\s*[:=-]?\s*(\(?)\s*((?:tumou?r|invad|invasion|carcinoma|"
                         r"primary|extend|penetrat|limited|confined|any size)[^\[\n]{0,160})", re.IGNORECASE)
# Where it ends: the next field. A capital after a period starts one; the lower-case word after a PDF line-break
# period ("not more. than 5.0 cm") does not.
_END = re.compile(r"\.\s+(?=(?-i:[A-Z]))|regional lymph|lymph nodes? (?:stage|\(p?N\))|distant metasta|\(p?[NM]\)|"
                  r"\bp[NM]\s*:", re.IGNORECASE)
_CLAUSE = re.compile(r";|\bor\s+(?:a\s+|any\s+)?tumou?r\b|\bor\s+any\b|-\s*tumou?r of any", re.IGNORECASE)
_NUMBER = r"(\d+(?:\.\d+)?)\s*(cm|mm)?"
_LOWER = re.compile(r"(?:(?<!not )(?<!no )(?:more|greater|larger|bigger) than|>|\bover|exceeding)\s*" + _NUMBER,
                    re.IGNORECASE)
_UPPER = re.compile(r"(?:(?:not|no) (?:more|greater|larger) than|less than or equal to|less than|<=|≤|<|up to)\s*"
                    + _NUMBER + r"|" + _NUMBER + r"\s*(?:or less|or smaller)", re.IGNORECASE)
_UNIT = re.compile(r"\d\s*(cm|mm)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Definition:
    """A definition written beside a stage code: ``text == report[start:end]``."""

    start: int
    end: int
    text: str


def find_definitions(text: str) -> list[Definition]:
    """The definitions written right after a T code (or its mask) in ``text``, in order.

    Example:
        >>> [d.text for d in find_definitions("Primary Tumor (pT): [TNM]: Tumor more than 2 cm but not more than 4 cm."
        ...                                   " Regional Lymph Nodes (pN): [TNM]: No regional lymph node metastasis.")]
        ['Tumor more than 2 cm but not more than 4 cm']
    """
    out = []
    for m in _DEFINITION.finditer(text):
        words, start = m.group(2), m.start(2)
        stop = _END.search(words)
        words = words[:stop.start()] if stop else words
        if m.group(1):  # "(Tumor penetrates ...)": its parenthesis closes it
            words = words.split(")", 1)[0]
        stripped = words.rstrip(" .;,")
        if stripped:
            out.append(Definition(start, start + len(stripped), stripped))
    return out


def _cm(value: str, unit: str | None, default: str) -> float:
    return float(value) / 10 if (unit or default).lower() == "mm" else float(value)


def definition_t(cancer_type: str | None, definition: str) -> int:
    """T category (1-4) ``definition`` states for ``cancer_type``; 0 when it cannot be read.

    Example:
        >>> definition_t("THCA", "Tumor more than 2 cm, but not more than 4 cm, limited to thyroid")
        2
        >>> definition_t("BRCA", "Tumor >10 mm but less than or equal to 20 mm"), definition_t("LUAD", "Tumor > 7 cm")
        (1, 3)
        >>> definition_t("COAD", "Tumor penetrates to the surface of the visceral peritoneum")
        4
        >>> definition_t("COAD", "Tumor more than 2 cm"), definition_t("PRAD", "Tumor identified")
        (0, 0)
    """
    first = _CLAUSE.split(re.sub(r"\.\s+(?=[a-z])", " ", definition), maxsplit=1)[0]
    units = _UNIT.findall(first)
    default = units[-1] if units else "cm"  # "more than 2 but not more than 4 cm"
    lower = [_cm(m.group(1), m.group(2), default) for m in _LOWER.finditer(first)]
    upper = [_cm(m.group(1) or m.group(3), m.group(2) or m.group(4), default) for m in _UPPER.finditer(first)]
    if lower or upper:  # a size bound: the category the type's size limits give it
        if (cancer_type or "") not in SIZE_T_CM:
            return 0
        return rule_t(cancer_type, max(lower) + 1e-3 if lower else min(upper))
    flags = reached_vector(re.sub(r"perivesic(?:le|ular)", "perivesical", first, flags=re.IGNORECASE))  # CAP's spelling
    level = rule_extent_t(cancer_type, flags)
    return level if level != rule_extent_t(cancer_type, [0.0] * len(flags)) else 0  # a structure was read
