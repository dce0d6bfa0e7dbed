"""Grounded extraction without a trained model: the knowledge layer read as an extractor.

``cancerllm extract note.txt`` on a fresh install has no fine-tuned adapter, and the embedded base model writes no
usable JSON. This extractor is what such a user gets instead of nothing: every mention is found in the text by
the project's own knowledge modules (the TNM finder of :mod:`cancerllm.knowledge.tnm`, the size / node reader of
:mod:`cancerllm.classify.measures`, the diagnosis terms of :mod:`cancerllm.knowledge.cancer_types`) and the small
lexicons below, so ``note[start:end] == mention.text`` by construction, and each carries an assertion read from
cue words before it in its sentence (NegEx-style: "no", "negative for", "history of", "suspicious for", "mother").

Document labels come with their source: T/N/M read from a stated token (``evidence``, with its span), and, when a
``cancerllm classify`` model is given (``--labels DIR``), the inferred labels of that model with their calibrated
probabilities. Without one, a label nothing states stays ``null``: it is never guessed.

Records say ``meta.method = "rules"``. Train a model (``cancerllm sft``) and pass ``--run`` for the LLM path.

Example:
    >>> from cancerllm.data.schema import Note
    >>> rec = RulePredictor().predict([Note(id="n1", text="Invasive ductal carcinoma, pT2 N0. ER positive.")])[0]
    >>> [(m.type, m.text, m.value) for m in rec.mentions]  # doctest: +NORMALIZE_WHITESPACE
    [('histology', 'Invasive ductal carcinoma', 'invasive ductal carcinoma'), ('stage_t', 'pT2', 'T2'),
     ('stage_n', 'N0', 'N0'), ('biomarker', 'ER positive', 'ER: positive')]
    >>> rec.labels["t_stage"], rec.meta["label_sources"]["t_stage"]["source"]
    ('T2', 'evidence')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cancerllm.data.schema import Mention, Note, Prediction
from cancerllm.infer.generate import GenerationStats
from cancerllm.knowledge.phenotypes import ENTITY_TYPES

__all__ = ["RULE_TYPES", "RulePredictor", "assertion_at", "find_mentions"]

_I = re.IGNORECASE

# Histologies, most specific first; a span already taken by an earlier (longer) one is not matched again.
_HISTOLOGY = re.compile(
    r"\b(?:(?:invasive|infiltrating|microinvasive)\s+)?(?:"
    r"(?:ductal|lobular|mucinous|medullary|tubular|papillary|micropapillary|metaplastic)\s+carcinoma(?:\s+in\s+situ)?"
    r"|(?:clear\s+cell|papillary|chromophobe)\s+renal\s+cell\s+carcinoma|renal\s+cell\s+carcinoma"
    r"|(?:(?:keratinizing|non-?keratinizing|basaloid)\s+)?squamous\s+cell\s+carcinoma"
    r"|(?:serous|endometrioid|mucinous|clear\s+cell)\s+(?:adeno)?carcinoma"
    r"|(?:papillary|follicular|anaplastic|medullary)\s+thyroid\s+carcinoma"
    r"|urothelial\s+carcinoma|transitional\s+cell\s+carcinoma|hepatocellular\s+carcinoma|cholangiocarcinoma"
    r"|adrenocortical\s+carcinoma|(?:small|large)\s+cell\s+(?:neuroendocrine\s+)?carcinoma"
    r"|neuroendocrine\s+(?:carcinoma|tumou?r)|signet\s+ring\s+cell\s+carcinoma|carcinosarcoma"
    r"|adenocarcinoma|glioblastoma|(?:anaplastic\s+)?(?:astrocytoma|oligodendroglioma|oligoastrocytoma)"
    r"|(?:uveal\s+)?melanoma|mesothelioma|seminoma|thymoma|pheochromocytoma|paraganglioma"
    r"|(?:diffuse\s+large\s+b[- ]cell\s+)?lymphoma|(?:leiomyo|lipo|myxofibro|synovial\s+|fibro)?sarcoma"
    r"|germ\s+cell\s+tumou?r|carcinoma)\b", _I)

_SITE = re.compile(
    r"\b(?:(?:upper|lower)[- ](?:outer|inner)\s+quadrant\s+of\s+the\s+breast|breast"
    r"|(?:right|left)?\s*(?:upper|middle|lower)\s+lobe|lung|bronchus"
    r"|(?:ascending|descending|transverse|sigmoid)\s+colon|colon|cecum|rectum|rectosigmoid|appendix"
    r"|stomach|gastroesophageal\s+junction|esophagus|pancreas|liver|gallbladder|bile\s+duct"
    r"|kidney|urinary\s+bladder|bladder|ureter|prostate|testis|thyroid(?:\s+gland)?|adrenal(?:\s+gland)?"
    r"|ovary|ovaries|fallopian\s+tube|endometrium|uterus|cervix|vulva"
    r"|tongue|larynx|tonsil|oral\s+cavity|floor\s+of\s+(?:the\s+)?mouth|oropharynx|hypopharynx|nasopharynx"
    r"|skin|brain|frontal\s+lobe|temporal\s+lobe|parietal\s+lobe|pleura|thymus|soft\s+tissue|retroperitoneum"
    r"|choroid|eye)\b", _I)

_LATERALITY = re.compile(r"\b(left|right|bilateral)\b", _I)

_GRADE = re.compile(
    r"\b(?:Nottingham\s+(?:histologic\s+)?(?:grade|score)\s*:?\s*(?:[1-3]|I{1,3})(?:\s*\(\s*\d\s*/\s*9\s*\))?"
    r"|Gleason\s+(?:score\s*:?\s*)?\d\s*\+\s*\d(?:\s*=\s*\d{1,2})?"
    r"|(?:FIGO|WHO|histologic|nuclear|Fuhrman|ISUP)\s+grade\s*:?\s*(?:[1-4]|I{1,3}V?)"
    r"|grade\s*:?\s*(?:[1-4]|I{1,3}V?)(?:\s*(?:of|/)\s*[34])?|G[1-4]"
    r"|(?:well|moderately|poorly)[- ](?:to[- ](?:moderately|poorly)[- ])?differentiated|undifferentiated"
    r"|(?:high|low|intermediate)[- ]grade)\b", _I)

_STAGE_GROUP = re.compile(r"\b(?:(?:AJCC|FIGO|pathologic(?:al)?|clinical)\s+)?stage\s*:?\s*"
                          r"(?:0|I{1,3}V?|IV)[ABC]?[12]?\b(?![-/]?[a-z])", _I)

_MARKER = (r"ER|PR|HER-?2(?:/neu)?|Ki-?67|PD-?L1|EGFR|KRAS|ALK|BRAF|MSI|MMR|PSA|CEA|CA[- ]?125|"
           r"estrogen\s+receptor|progesterone\s+receptor")
_RESULT = (r"(?:positive|negative|equivocal|not\s+amplified|amplified|mutated|wild[- ]type|(?:MSI-)?high|stable"
           r"|intact|lost|\d+(?:\.\d+)?\s*%|[0-3]\+|(?:TPS|CPS)\s*:?\s*\d+(?:\.\d+)?\s*%?)")
_BIOMARKER = re.compile(rf"\b({_MARKER})\b(?:\s*(?:\(IHC\)|status|receptor|expression|testing))?\s*(?::|-|is|was)?"
                        rf"\s*({_RESULT})", _I)

_TREATMENT = {
    "surgery": r"lumpectomy|(?:radical\s+|modified\s+radical\s+|simple\s+)?mastectomy|lobectomy|pneumonectomy"
               r"|(?:radical\s+|partial\s+)?nephrectomy|(?:radical\s+)?prostatectomy|(?:hemi|sigmoid\s+)?colectomy"
               r"|(?:total\s+)?(?:abdominal\s+)?hysterectomy|gastrectomy|esophagectomy|whipple|pancreatoduodenectomy"
               r"|cystectomy|thyroidectomy|wide\s+local\s+excision|orchiectomy|oophorectomy",
    "chemotherapy": r"chemotherapy|carboplatin|cisplatin|paclitaxel|docetaxel|doxorubicin|cyclophosphamide"
                    r"|gemcitabine|5-?FU|fluorouracil|capecitabine|oxaliplatin|FOLFOX|FOLFIRI|temozolomide|pemetrexed",
    "radiation": r"(?:adjuvant\s+|whole[- ]breast\s+)?(?:radiation(?:\s+therapy)?|radiotherapy|XRT|SBRT)",
    "hormonal": r"tamoxifen|letrozole|anastrozole|exemestane|fulvestrant|leuprolide|enzalutamide|abiraterone",
    "targeted": r"trastuzumab|pertuzumab|bevacizumab|cetuximab|osimertinib|erlotinib|imatinib|crizotinib|olaparib",
    "immunotherapy": r"pembrolizumab|nivolumab|atezolizumab|durvalumab|ipilimumab|immunotherapy",
}
_TREATMENTS = [(cat, re.compile(rf"\b(?:{p})\b", _I)) for cat, p in _TREATMENT.items()]

# Assertion cues, read backwards from a mention to the start of its sentence (at most _WINDOW characters).
_CUES = (
    ("family", re.compile(r"\b(?:mother|father|sister|brother|aunt|uncle|grand(?:mother|father)|family\s+history)\b",
                          _I)),
    ("historical", re.compile(r"\b(?:history\s+of|hx\s+of|h/o|s/p|status\s+post|prior|previous(?:ly)?|remote)\b",
                              _I)),
    ("possible", re.compile(r"\b(?:suspicious\s+for|suspected|possible|probable|cannot\s+be\s+(?:excluded|ruled\s+out)"
                            r"|rule\s+out|r/o|concerning\s+for|equivocal\s+for)\b", _I)),
    ("negated", re.compile(r"\b(?:no|not|negative\s+for|without|absence\s+of|absent|free\s+of|ruled\s+out)\b", _I)),
)
_WINDOW = 60
_SENTENCE_END = re.compile(r"[.;:\n]\s|\n")
# Types whose result words are values, not assertions ("ER negative" is a present biomarker).
_NEVER_NEGATED = {"biomarker", "stage_t", "stage_n", "stage_m", "stage_group", "tumor_size", "grade", "laterality"}

RULE_TYPES = ("histology", "primary_site", "laterality", "grade", "stage_t", "stage_n", "stage_m", "stage_group",
              "tumor_size", "biomarker", "treatment")
"""The entity types this extractor can find (a subset of :data:`~cancerllm.knowledge.phenotypes.ENTITY_TYPES`)."""


def assertion_at(text: str, start: int, etype: str) -> str:
    """The assertion of a mention starting at ``start``, from cue words before it in its sentence.

    Example:
        >>> t = "Negative for lymphovascular invasion. History of melanoma. Mother had breast cancer."
        >>> assertion_at(t, t.index("melanoma"), "histology"), assertion_at(t, t.index("breast"), "primary_site")
        ('historical', 'family')
    """
    left = text[max(0, start - _WINDOW):start]
    ends = list(_SENTENCE_END.finditer(left))
    if ends:
        left = left[ends[-1].end():]
    for name, rx in _CUES:
        if name == "negated" and etype in _NEVER_NEGATED:
            continue
        if rx.search(left):
            return name
    return "present"


def _free(spans: list[tuple[int, int]], s: int, e: int) -> bool:
    return all(e <= a or s >= b for a, b in spans)


def _treatment_value(cat: str, surface: str) -> str:
    return f"{cat}: {' '.join(surface.lower().split())}"


def find_mentions(text: str, types: Sequence[str] | None = None) -> list[Mention]:
    """Every grounded mention of ``types`` (default :data:`RULE_TYPES`) in ``text``, in text order."""
    from cancerllm.classify.measures import find_measures
    from cancerllm.knowledge.tnm import find_tnm
    from cancerllm.knowledge.values import normalize_value

    wanted = set(RULE_TYPES if types is None else types)
    found: list[tuple[str, int, int, str | None]] = []  # (type, start, end, value)
    if wanted & {"stage_t", "stage_n", "stage_m"}:
        found += [(m.type, m.start, m.end, normalize_value(m.type, text[m.start:m.end]) or m.value)
                  for m in find_tnm(text) if m.type in wanted]
    taken = [(s, e) for _, s, e, _ in found]

    def scan(etype: str, rx: re.Pattern, value: Any = None) -> None:
        if etype not in wanted:
            return
        for m in rx.finditer(text):
            s, e = m.span()
            if s < e and _free(taken, s, e):
                taken.append((s, e))
                found.append((etype, s, e, value(m) if value else None))

    scan("biomarker", _BIOMARKER, lambda m: f"{_marker_name(m.group(1))}: {' '.join(m.group(2).split())}")
    scan("stage_group", _STAGE_GROUP)
    scan("grade", _GRADE)
    scan("histology", _HISTOLOGY, lambda m: " ".join(m.group().lower().split()))
    for cat, rx in _TREATMENTS:
        scan("treatment", rx, lambda m, cat=cat: _treatment_value(cat, m.group()))
    scan("primary_site", _SITE, lambda m: " ".join(m.group().lower().split()))
    if "tumor_size" in wanted:
        size = find_measures(text).size_span
        if size and _free(taken, *size):
            found.append(("tumor_size", size[0], size[1], None))
    if "laterality" in wanted:  # a side only next to a site ("left breast", "right upper lobe"), not "left margin"
        sites = [(s, e) for t, s, e, _ in found if t == "primary_site"]
        for m in _LATERALITY.finditer(text):
            if _free(taken, *m.span()) and any(0 <= s - m.end() <= 25 or 0 <= m.start() - e <= 3 for s, e in sites):
                taken.append(m.span())
                found.append(("laterality", m.start(), m.end(), m.group().lower()))
    found.sort(key=lambda f: (f[1], f[2]))
    return [Mention(type=t, text=text[s:e], start=s, end=e, assertion=assertion_at(text, s, t),
                    value=v if v is not None else normalize_value(t, text[s:e])) for t, s, e, v in found]


def _marker_name(raw: str) -> str:
    low = " ".join(raw.lower().split())
    names = {"estrogen receptor": "ER", "progesterone receptor": "PR"}
    if low in names:
        return names[low]
    up = raw.upper().replace(" ", "-")
    return {"HER2/NEU": "HER2", "HER-2": "HER2", "HER-2/NEU": "HER2", "KI67": "Ki-67", "KI-67": "Ki-67",
            "PDL1": "PD-L1", "CA125": "CA-125"}.get(up, up)


class RulePredictor:
    """Same interface as :class:`~cancerllm.infer.predictor.Predictor` (``predict(notes, task)``), no model.

    Args:
        types: entity types to report (default :data:`RULE_TYPES`; others are ignored with a log line by the caller).
        labels: a ``cancerllm classify`` output folder (``model.joblib``); its heads add inferred document labels
            and the cancer type. None = labels only from stated T/N/M.
    """

    style_name = "rules"

    def __init__(self, types: Sequence[str] | None = None, labels: str | Path | None = None):
        # Types it cannot find (cancer_diagnosis, outcome, ...) are dropped: asked only for those, it finds nothing.
        self.types = [t for t in (RULE_TYPES if types is None else types) if t in RULE_TYPES]
        self.stats = GenerationStats()
        self.labels_dir = str(labels) if labels else None
        self.labeler = _load_labeler(Path(labels)) if labels else None
        self.info = {"method": "rules", "labels_model": self.labels_dir}

    def predict(self, notes: list[Note], task: str = "phenotype") -> list[Prediction]:
        from cancerllm.infer.predictor import EMPTY_NOTE

        out = []
        labelled = {}
        if self.labeler is not None:
            from cancerllm.classify.recipe import predict_notes

            live = [n for n in notes if n.text.strip()]
            labelled = {r.id: r for r in predict_notes(self.labeler, live)} if live else {}
        for note in notes:
            if not note.text.strip():
                out.append(Prediction(id=note.id, task=task, errors=[EMPTY_NOTE], meta={"method": "rules"}))
                continue
            out.append(self._one(note, task, labelled.get(note.id)))
        return out

    def _one(self, note: Note, task: str, classified: Prediction | None) -> Prediction:
        mentions = find_mentions(note.text, self.types)
        labels: dict[str, str | None] = {"t_stage": None, "n_stage": None, "m_stage": None}
        sources: dict[str, Any] = {}
        if classified is not None:  # evidence first, else the classifier's calibrated inference
            labels.update(classified.labels)
            sources = dict(classified.meta.get("label_sources", {}))
        else:
            from cancerllm.knowledge.values import evidence_source, stated_labels

            for key, m in stated_labels(note.text).items():
                labels[key] = m.cls
                sources[key] = evidence_source(note.text, m)
        diagnosis = None
        if task == "diagnosis":
            diagnosis = _diagnosis(note.text, labels.get("cancer_type"))
        errors = [] if task != "diagnosis" or diagnosis else [("diagnosis: no cancer type found in the note and no "
                                                              "--labels model given; nothing was guessed")]
        return Prediction(id=note.id, task=task, mentions=[] if task == "diagnosis" else mentions, labels=labels,
                          diagnosis=diagnosis, errors=errors,
                          meta={"method": "rules", "labels_model": self.labels_dir, "label_sources": sources})


def _diagnosis(text: str, cancer_type: str | None) -> Any:
    """A diagnosis from the classifier's cancer type, else the first diagnosis term in the report's opening."""
    from cancerllm.data.schema import Diagnosis
    from cancerllm.knowledge.cancer_types import OPENING_CHARS, find_type_terms
    from cancerllm.knowledge.icd import TCGA_PROJECTS

    evidence = None
    if cancer_type is None:
        hits = sorted((h for h in find_type_terms(text) if h.start < OPENING_CHARS), key=lambda h: h.start)
        if not hits:
            return None
        cancer_type, evidence = hits[0].project, hits[0]
    info = TCGA_PROJECTS.get(cancer_type)
    if info is None:
        return None
    del evidence  # the term's span is in the record's label_sources when the classifier is not used
    return Diagnosis(text=info.name, icd10=info.icd10, cancer_type=cancer_type)


def _load_labeler(folder: Path) -> Any:
    """The fitted ``cancerllm classify`` model of ``folder`` (its ``model.joblib``)."""
    from cancerllm.errors import ResourceError

    path = folder / "model.joblib"
    if not path.is_file():
        raise ResourceError(f"labels: {str(folder)!r} holds no model.joblib; give a `cancerllm classify` output "
                            f"folder (e.g. out/classify/tcga) or build the default with `make model`")
    import joblib

    return joblib.load(path)


def _check_types() -> None:  # every rule type is a schema type (import-time guard against a rename)
    missing = [t for t in RULE_TYPES if t not in ENTITY_TYPES]
    if missing:
        raise RuntimeError(f"rules: types {missing} are not in the phenotype schema")


_check_types()
