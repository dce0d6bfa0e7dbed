"""PHI detection: presidio-analyzer's engine and pattern recognizers, plus clinical-note recognizers of our own.

presidio-analyzer (Microsoft, MIT) runs here fully offline: its NLP engine gets a *blank* spaCy English pipeline
(tokenizer only, no model download), so its model-based name finder is off and these run instead:

* presidio's own: ``DateRecognizer`` (numeric dates), ``PhoneRecognizer`` (US/Canada, validated by ``phonenumbers``),
  ``UsSsnRecognizer`` (with its invalid-SSN checks) and the engine's context enhancement ("phone", "date");
* ours (:class:`GroupRecognizer`, a presidio ``LocalRecognizer``): names after a label, a title or a relation,
  or before a degree ("Patient: Garcia, Maria", "PATIENT: GARCIA, MARIA", "Dr. Helen Park", "her daughter Ana
  Garcia", "Owen M Gallagher, MD"); MRN and accession numbers after their label or in accession shape
  ("S21-12345"); phone numbers after their label or in North American shape; street addresses and "City, ST
  12345"; e-mail addresses (without presidio's e-mail recognizer, whose domain check downloads the public suffix
  list); dates with month names ("April 2, 2021", "02-APR-2021") and "8-09-83"; ages over 89 ("93-year-old").

:func:`detect` then adds every other whole-word occurrence of a detected name in the same note ("Ms. Garcia ...
Garcia tolerated the procedure") and drops whatever overlaps an oncology term (:mod:`cancerllm.deid.allow`).

Example:
    >>> [(s.type, s.start, s.end) for s in detect("Patient: Garcia, Maria  MRN: 48291302  HER2 3+, pT2N0M0.")]
    [('NAME', 9, 22), ('MRN', 29, 37)]
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = ["ENTITY_MAP", "PhiSpan", "build_analyzer", "detect"]

# presidio's entity names -> ours (the types of the gold set and of the counts).
ENTITY_MAP = {"DATE_TIME": "DATE", "PHONE_NUMBER": "PHONE", "US_SSN": "SSN"}
SCORE_THRESHOLD = 0.35
"""Below this presidio's weak patterns (bare "3/10", a 9-digit number as SSN) are dropped unless context lifts
them ("DOB 3/1931" scores 0.2 + 0.35 for the word "DOB")."""

_TOK = r"(?:[A-Z]'|Mc|Mac)?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
# One name: "Garcia, Maria", "Maria Novak", "John A. Smith". Single spaces only, so a column of labels
# ("Laura Bennett   Tel:") never joins the next label to the name.
_NAME = rf"{_TOK}(?:, ?{_TOK})?(?: [A-Z]\.)?(?: {_TOK}){{0,2}}"
# Headers often write the patient in capitals, surname first ("PATIENT: GARCIA, MARIA"): accepted after a label
# and with the comma only, since OCR'd report headers put other capitals there ("PATIENT: SURGICAL PATHOLOGY").
_UPTOK = r"[A-Z](?:'?[A-Z])+(?:-[A-Z]+)?"
_UPNAME = rf"{_UPTOK}, ?{_UPTOK}(?: [A-Z]\.?)?"
_LABEL = (r"(?i:patient(?: name)?|pt(?: name)?|name|provider|attending(?: physician)?|referring(?: physician| provider"
          r"| doctor)?|physician|surgeon|pathologist|resident|fellow|primary care(?: physician)?|pcp|ordering"
          r"(?: physician| provider)?|emergency contact|contact|guardian|next of kin)\s*:")
_BY = r"(?i:(?:electronically )?signed by|dictated by|transcribed by|reviewed by|copy to|cc:?)"
_TITLE = r"(?:Dr|Mr|Mrs|Ms|Miss|Prof)\.?"  # not "Mx": that is the M stage ("pN0 Mx. Margins ...")
_RELATION = r"(?i:wife|husband|daughter|son|sister|brother|spouse|partner|niece|nephew|caregiver|friend)"
_MONTH = (r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
          r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_STREET_TYPE = (r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|"
                r"Circle|Cir|Parkway|Pkwy|Highway|Hwy)")
_CITY = r"(?:[A-Z][a-z]+ ){0,2}[A-Z][a-z]+, ?[A-Z]{2} \d{5}(?:-\d{4})?"
_STREET = (rf"\d{{1,6}} (?:[A-Z][a-z]+ ){{1,3}}{_STREET_TYPE}\.?(?:,? (?:Apt|Suite|Ste|Unit|#)\.? ?\w+)?"
           rf"|(?i:P\.?O\.? Box) \d+")

# entity -> [(pattern name, regex, score)]; a group named "phi" marks the span, else the whole match is PHI.
PATTERNS: dict[str, list[tuple[str, str, float]]] = {
    "NAME": [
        ("after a label", rf"\b{_LABEL}[ \t]*(?:{_TITLE} )?(?P<phi>{_NAME})", 0.85),
        ("capitals after a label", rf"\b{_LABEL}[ \t]*(?P<phi>{_UPNAME})(?![\w-])", 0.7),
        ("before a degree", (rf"(?P<phi>{_TOK}(?: (?:[A-Z]\.?|{_TOK})){{1,2}}"
                             rf"|{_UPTOK}(?: (?:[A-Z]\.?|{_UPTOK})){{1,2}}),? "
                             r"(?:M\.D\.|MD|D\.O\.|PhD|RN|NP|PA-C|FNP|MBBS)(?!\w)"), 0.8),
        ("apposition to the patient", rf"\b(?i:the patient|pt|patient),? (?P<phi>{_TOK}(?: {_TOK}){{1,2}}),", 0.7),
        ("after signed by / cc", rf"\b{_BY}[ \t]*(?:{_TITLE} )?(?P<phi>{_NAME})", 0.85),
        ("after a title", rf"\b{_TITLE} (?P<phi>{_NAME})", 0.85),
        ("after a relation", rf"\b{_RELATION},? (?P<phi>{_TOK}(?: {_TOK})?)", 0.6),
    ],
    "MRN": [("after its label", (r"\b(?i:mrn|mr ?#|medical record(?: number| no\.?| #)?|med rec(?: #| no\.?)?|"
                                 r"record #|patient id|pt id|unit (?:number|no\.?))[ \t]*[:#]?[ \t]*#?[ \t]*"
                                 r"(?P<phi>[A-Z]{0,6}-?\d[\d-]{3,14}\d)\b"), 0.9)],
    "ACCESSION": [
        ("after its label", (r"\b(?i:accession(?: number| no\.?| #)?|acc(?:ession)? ?#|case(?: number| no\.?| #)?|"
                             r"outside case|specimen (?:number|no\.?|#)|surgical pathology (?:number|no\.?|#))"
                             r"[ \t]*[:#]?[ \t]*(?P<phi>[A-Z]{1,4}-?\d{2,4}-\d{2,7})\b"), 0.9),
        ("accession shape", r"\b[A-Z]{1,3}\d{2}-\d{3,7}\b", 0.6),
    ],
    "ADDRESS": [("street", rf"\b(?:{_STREET})(?:, ?{_CITY})?", 0.7), ("city, state zip", rf"\b{_CITY}\b", 0.6)],
    "PHONE": [
        ("after its label", (r"\b(?i:phone|tel|telephone|fax|cell|mobile|pager|call|contact)\b\.?[ \t]*"
                             r"(?:#|no\.?|number)?[ \t]*:?[ \t]*"
                             r"(?P<phi>(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4})\b"),
         0.9),
        ("North American shape", r"(?<![\w-])(?:\(\d{3}\) ?|\d{3}[.-])\d{3}[.-]\d{4}\b", 0.5),
    ],
    "EMAIL": [("address", r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b", 1.0)],
    "DATE": [
        # Two-digit day only: "8-09-83" is a date, "3-5-10" (a range, a list) is not taken for one.
        ("m-dd-yy", r"\b(?:0?[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])-\d{2}\b", 0.6),
        ("month day, year", rf"\b{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}\b", 0.8),
        ("day month year", rf"\b\d{{1,2}}[ -]{_MONTH}\.?[ -,]+\d{{4}}\b", 0.8),
        ("month year", rf"\b{_MONTH}\.?,? \d{{4}}\b", 0.6),
    ],
    "AGE": [
        ("age over 89", r"\b(?P<phi>9\d|1[0-2]\d)(?:[ -]?(?:years?|yrs?)[ -]?old|[ -]?(?:y/o|yo|y\.o\.)(?!\w))", 0.85),
        ("age: over 89", r"\b(?i:age[d:]?|aged)[ \t]*(?P<phi>9\d|1[0-2]\d)\b", 0.85),
    ],
}


class PhiSpan(NamedTuple):
    """One detected identifier: our type, character span, presidio score."""

    type: str
    start: int
    end: int
    score: float


def _recognizer_class() -> type:
    from presidio_analyzer import LocalRecognizer, RecognizerResult

    class GroupRecognizer(LocalRecognizer):
        """A presidio recognizer whose regexes may mark the PHI with a ``phi`` group (the label stays)."""

        def __init__(self, entity: str, patterns: list[tuple[str, str, float]]) -> None:
            self.compiled = [(name, re.compile(rx), score) for name, rx, score in patterns]
            super().__init__(supported_entities=[entity], name=f"cancerllm_{entity.lower()}", supported_language="en")

        def load(self) -> None:  # nothing to load: the regexes are compiled in __init__
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            out = []
            for _, rx, score in self.compiled:
                for m in rx.finditer(text):
                    g = "phi" if "phi" in rx.groupindex else 0
                    if m.start(g) < m.end(g):
                        out.append(RecognizerResult(self.supported_entities[0], m.start(g), m.end(g), score))
            return out

    return GroupRecognizer


@lru_cache(maxsize=1)
def build_analyzer() -> Any:
    """The presidio ``AnalyzerEngine`` with a blank spaCy pipeline and our recognizers (built once per process).

    Raises:
        ResourceError: presidio-analyzer / spaCy are not installed (``pip install -e '.[deid]'``).
    """
    from cancerllm.errors import ResourceError

    # presidio logs as it loads and analyses; nothing it logs may reach our logs with note text in it.
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import DateRecognizer, PhoneRecognizer, UsSsnRecognizer
    except ImportError as err:
        raise ResourceError(f"de-identification needs presidio-analyzer ({err.name} is missing); install it with "
                            "pip install -e '.[deid]'") from None
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": "blank:en"}])
    # A blank pipeline (tokenizer only) set directly: engine.load() would spacy.load() a model, downloading it.
    engine.nlp = {"en": spacy.blank("en")}
    registry = RecognizerRegistry(supported_languages=["en"])
    # Phones validated as US/Canadian numbers only: with its default regions (UK, DE, IL, IN, ...) phonenumbers
    # reads slide/block counts such as "12/14" or "1234-5678" as foreign numbers.
    for rec in (DateRecognizer(), PhoneRecognizer(supported_regions=("US", "CA")), UsSsnRecognizer()):
        registry.add_recognizer(rec)
    group = _recognizer_class()
    for entity, patterns in PATTERNS.items():
        registry.add_recognizer(group(entity, patterns))
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])


def _propagate_names(text: str, spans: list[PhiSpan]) -> list[PhiSpan]:
    """Every other whole-word occurrence of a detected name's words ("Garcia") is a name too."""
    from cancerllm.deid.allow import is_allowed_word

    # A word also written in lower case in this note is an ordinary word ("Final", "Gross"), not a name to spread.
    # (Not inside an e-mail address: "maria.garcia@..." does not make "maria" a word.)
    lower = set(re.findall(r"(?<![\w.@])[a-z]{3,}(?![\w@]|\.\w)", text))
    found = [w for s in spans if s.type == "NAME" for w in re.findall(r"[A-Z][A-Za-z'-]+", text[s.start:s.end])]
    # "GARCIA" in a header is "Garcia" in the text: both spellings spread.
    words = {v for w in found if len(w) >= 3 and not is_allowed_word(w) and w.lower() not in lower
             for v in ({w, w.capitalize()} if w.isupper() else {w})}
    if not words:
        return spans
    # Longest first so "McAllister" wins over a shorter word inside it.
    rx = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b")
    extra = [PhiSpan("NAME", m.start(), m.end(), 0.5) for m in rx.finditer(text)]
    return spans + extra


def _resolve(spans: list[PhiSpan]) -> list[PhiSpan]:
    """Non-overlapping spans: overlapping ones merge into one, typed by the highest score (then the longest)."""
    out: list[PhiSpan] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if out and s.start < out[-1].end:
            best = max((out[-1], s), key=lambda x: (x.score, x.end - x.start))
            out[-1] = PhiSpan(best.type, out[-1].start, max(out[-1].end, s.end), best.score)
        else:
            out.append(s)
    return out


def detect(text: str) -> list[PhiSpan]:
    """PHI spans of ``text``, sorted, non-overlapping, oncology terms excepted.

    Args:
        text: one note.

    Returns:
        ``PhiSpan(type, start, end, score)`` with type one of NAME, DATE, MRN, ACCESSION, SSN, PHONE, ADDRESS,
        EMAIL, AGE.
    """
    from cancerllm.deid.allow import protected_spans

    if not text.strip():
        return []
    results = build_analyzer().analyze(text=text, language="en", score_threshold=SCORE_THRESHOLD)
    spans = [PhiSpan(ENTITY_MAP.get(r.entity_type, r.entity_type), r.start, r.end, r.score) for r in results]
    protected = protected_spans(text)
    spans = _keep(text, spans, protected)
    spans = _keep(text, _propagate_names(text, spans), protected)
    return _resolve(spans)


def _keep(text: str, spans: list[PhiSpan], protected: list[tuple[int, int]]) -> list[PhiSpan]:
    """Drop detections that are mostly an oncology term ("HER2", "Gleason 7") or a name made only of clinical
    words ("Name: Left Breast"); cut a name where an oncology term starts ("Ms. Garcia, Tamoxifen ..." keeps
    "Garcia"). Another detection only partly protected stays whole: ", TX 78701" in an address is the state, not
    the treatment abbreviation, and "P16-38559" is an accession, not the p16 stain."""
    from cancerllm.deid.allow import is_allowed_word, protected_share

    out = []
    for s in spans:
        share = protected_share(s.start, s.end, protected)
        if share and s.type == "NAME":
            s = _trim(text, s, protected)  # "Ms. Garcia, Her2/neu": the name ends where the protected term starts
            if s is None:
                continue
        elif share >= 0.5:
            continue
        if s.type == "NAME" and all(is_allowed_word(w) for w in re.findall(r"[A-Za-z'-]+", text[s.start:s.end])):
            continue
        out.append(s)
    return out


def _trim(text: str, s: PhiSpan, protected: list[tuple[int, int]]) -> PhiSpan | None:
    """The part of ``s`` before the first protected span inside it (or after the one it starts in)."""
    start, end = s.start, s.end
    for a, b in protected:
        if a < end and start < b:
            if a > start:
                end = a
                break
            start = b
    while start < end and not text[end - 1].isalnum():  # "Garcia, " -> "Garcia"
        end -= 1
    while start < end and not text[start].isalnum():
        start += 1
    return PhiSpan(s.type, start, end, s.score) if start < end else None
