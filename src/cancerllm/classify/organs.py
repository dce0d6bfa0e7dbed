"""T4 read from the organs next to the primary that the report says the tumour invades.

AJCC 7th defines the bladder's T4 by what it reaches: T4a the prostatic stroma, uterus or vagina, T4b the pelvic or
abdominal wall. A report that says so ("Direct invasion of prostatic stroma: present", "extending into prostate
parenchyma", "infiltration of the pelvic wall") states T4 in words, whether or not its stage code can be read. Each
organ must be reached in the sense of :func:`cancerllm.classify.measures.reached_terms` (an invasion word before it, a
synoptic "...: present" after it, an extension noun after it; negations, lymph node stations and specimen names
excluded), and the rest of its sentence must not deny it ("Vaginal wall involvement by tumor is therefore not
evident").

Only the bladder. On the TNM-masked TCGA train+dev reports the bladder reading fires on 8 reports and is right in 7,
where the out-of-fold heads had 1 right (7 of 7 on a second draw of folds). The same reading of other types' T4 structures was right too rarely to
be evidence: colon and rectum peritoneum 3 of 6, prostate bladder neck or rectum 1 of 9, kidney Gerota's fascia or
adrenal 0 of 11. Their registry T mixes AJCC editions (the stomach's serosa is T3 in the 6th, T4a in the 7th), and
their reports name these structures as margins and as parts of the specimen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cancerllm.classify.measures import reached_terms

__all__ = ["ORGAN_T4", "OrganInvasion", "organ_t4"]

ORGAN_T4: dict[str, tuple[tuple[str, str], ...]] = {
    "BLCA": (
        ("prostatic stroma", (r"prostatic\s+str?omal?\b|prostatic\s+stroma\w*|stroma of the prostate"
                              r"|prostat\w*\s+parenchyma|into (?:the )?prostate\b")),  # "stoma": a typo in reports
        ("uterus or vagina", r"\bvagina\b|vaginal wall|\buterus\b|uterine (?:wall|serosa)"),
        ("pelvic or abdominal wall", r"pelvic (?:side ?)?wall|abdominal wall"),
    ),
}
_TERMS = {kind: tuple((name, re.compile(p, re.IGNORECASE)) for name, p in organs) for kind, organs in ORGAN_T4.items()}
_DENIED = re.compile(r"^[^.;]{0,80}?\b(?:not|no)\b", re.IGNORECASE)  # the rest of the sentence says it is absent


@dataclass(frozen=True)
class OrganInvasion:
    """An organ the tumour is said to invade: ``text == report[start:end]`` names it."""

    organ: str
    start: int
    end: int
    text: str


def organ_t4(cancer_type: str | None, text: str) -> OrganInvasion | None:
    """The first organ of ``cancer_type``'s T4 list that ``text`` says the tumour invades, else None.

    Example:
        >>> organ_t4("BLCA", "Direct invasion of prostatic stroma: present. Seminal vesicle: not involved.").organ
        'prostatic stroma'
        >>> organ_t4("BLCA", "Vaginal wall involvement by tumor is therefore not evident."), organ_t4("COAD", "x")
        (None, None)
    """
    terms = _TERMS.get(cancer_type or "")
    if not terms:
        return None
    for organ, (start, end) in sorted(reached_terms(text, terms).items(), key=lambda kv: kv[1]):
        if not _DENIED.match(text[end:end + 80]):
            return OrganInvasion(organ, start, end, text[start:end])
    return None
