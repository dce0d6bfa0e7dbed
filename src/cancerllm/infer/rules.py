"""Grounded extraction without a trained model: the knowledge layer read as an extractor.

``cancerllm extract note.txt`` on a fresh install has no fine-tuned adapter, and the embedded base model writes no
usable JSON. This extractor is what such a user gets instead of nothing: every mention is found in the text by
the project's own knowledge modules (the TNM finder of :mod:`cancerllm.knowledge.tnm`, the size / node reader of
:mod:`cancerllm.classify.measures`, the diagnosis terms of :mod:`cancerllm.knowledge.cancer_types`) and the small
lexicons below, so ``note[start:end] == mention.text`` by construction, and each carries an assertion read from
cue words before it in its sentence (NegEx-style: "no", "negative for", "history of", "suspicious for", "mother").

Between the mentions found, :func:`cancerllm.infer.relations.link_relations` adds ``Treats`` (treatment -> the
current cancer's ``cancer_diagnosis`` mentions) and ``Indicated_by`` (a biomarker-gated drug -> the biomarker result
its label requires, :mod:`cancerllm.knowledge.indications`) as the record's ``relations``.

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

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cancerllm.data.schema import Mention, Note, Prediction
from cancerllm.infer.generate import GenerationStats
from cancerllm.infer.relations import link_relations
from cancerllm.knowledge.phenotypes import ENTITY_TYPES

__all__ = ["RULE_TYPES", "RulePredictor", "assertion_at", "find_mentions"]

log = logging.getLogger(__name__)

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

_MARKER = (r"ER|PR|HER-?2(?:/neu)?|Ki-?67|PD-?L1|EGFR|KRAS|NRAS|ALK|BRAF|MSI|MMR|PSA|CEA|CA[- ]?125|"
           r"estrogen\s+receptor|progesterone\s+receptor")
# Results: calls, percentages, IHC scores, PD-L1 scores and named variants ("G12C", "V600E", "exon 19 deletion").
_RESULT = (r"(?:positive|negative|equivocal|not\s+amplified|amplified|wild[- ]type|(?:MSI-)?high|stable|intact|lost"
           r"|rearrange(?:d|ment(?:\s+detected)?)|fusion(?:\s+positive)?|not\s+detected|detected"
           r"|(?:[A-Z]\d{2,4}[A-Z]|exon\s+\d+\s+(?:deletion|insertion|skipping))(?:\s+mutat(?:ed|ion))?|mutated"
           r"|\d+(?:\.\d+)?\s*%|[0-3]\+|0\b(?!\.\d)"
           r"|(?:TPS|CPS|tumou?r\s+proportion\s+score|combined\s+positive\s+score)\s*:?\s*\d+(?:\.\d+)?\s*%?)")
_BIOMARKER = re.compile(rf"\b({_MARKER})\b(?:\s*(?:\(IHC\)|\([\w-]+\)|status|receptor|expression|testing"
                        rf"|proliferation\s+index))?\s*(?::|-|is|was)?\s*({_RESULT})", _I)
# "ER+", "PR-" (receptor shorthand) and microsatellite status written as words ("MSI-H", "MSS").
_SIGNED = re.compile(r"\b(ER|PR|HER-?2)([+-])(?=[\s,.;)]|$)", _I)
_MSI_WORDS = re.compile(r"\b(?:MSI-H|MSS|microsatellite\s+(?:stable|instability[- ]high|unstable))\b", _I)

# Diagnosis names (site-anchored), most specific first; bare histologies ("melanoma", "adenocarcinoma") stay histology.
# "<organ> carcinoma" only where it is not a histology name ("renal cell carcinoma", "papillary thyroid carcinoma").
_CARCINOMA_ORGAN = (r"breast|prostate|lung|colon|rectal|bladder|gastric|pancreatic|ovarian|endometrial|cervical"
                    r"|o?esophageal")
_ORGAN = (rf"{_CARCINOMA_ORGAN}|(?:non-?small|small)[- ]cell\s+lung|squamous\s+cell\s+lung|colorectal|kidney|renal"
          r"|stomach|uterine|(?:papillary\s+|follicular\s+|anaplastic\s+|medullary\s+)?thyroid|liver"
          r"|head\s+and\s+neck|oropharyngeal|laryngeal|oral|skin|brain|testicular|anal|vulvar|gallbladder")
_DIAGNOSIS = re.compile(
    rf"\b(?:(?:{_ORGAN})\s+cancer|(?:{_CARCINOMA_ORGAN})\s+(?:adeno)?carcinoma"
    r"|(?:urothelial\s+|squamous\s+cell\s+)?carcinoma\s+of\s+the\s+(?:breast|prostate|cervix|lung|colon|rectum|bladder"
    r"|stomach|pancreas|ovary|endometrium|esophagus|thyroid|kidney|tongue|larynx)"
    r"|NSCLC|SCLC|CRC|HCC|RCC|HNSCC|PDAC|TNBC|GBM|DLBCL|(?:malignant|cutaneous)\s+melanoma|soft\s+tissue\s+sarcoma)\b",
    _I)
# Diagnosis word -> TCGA project, only where the word names one project (NSCLC, CRC, RCC name several: no value).
_DIAGNOSIS_CODES = (("LUSC", r"squamous\s+cell\s+lung|lung\s+squamous"), ("LUAD", r"lung\s+adenocarcinoma"),
                    ("BRCA", r"breast|TNBC"), ("PRAD", r"prostat"), ("COAD", r"colon"), ("READ", r"\brect"),
                    ("BLCA", r"bladder"), ("STAD", r"gastric|stomach"), ("PAAD", r"pancrea|PDAC"), ("OV", r"ovar"),
                    ("UCEC", r"endometri|uterine"), ("CESC", r"cervi"), ("ESCA", r"o?esophag"), ("THCA", r"thyroid"),
                    ("LIHC", r"liver|HCC"), ("HNSC", r"head\s+and\s+neck|oropharyn|laryn|oral|tongue|HNSCC"),
                    ("SKCM", r"melanoma"), ("GBM", r"GBM"), ("DLBC", r"DLBCL"), ("SARC", r"sarcoma"))

# Treatments. Drug names per category; a regimen written with "/" ("carboplatin/paclitaxel", "dabrafenib/trametinib")
# or a chemotherapy doublet with "and" ("carboplatin and pemetrexed") is one mention, filed under its first drug.
_DRUGS = {
    "chemotherapy": r"carboplatin|cisplatin|paclitaxel|nab-paclitaxel|docetaxel|doxorubicin|cyclophosphamide|etoposide"
                    r"|gemcitabine|5-?FU|fluorouracil|capecitabine|oxaliplatin|irinotecan|pemetrexed|temozolomide"
                    r"|FOLFOX|mFOLFOX6|FOLFIRI|(?:modified\s+)?FOLFIRINOX|FLOT|CAPOX|XELOX|ABVD|R-CHOP",
    "hormonal": r"tamoxifen|letrozole|anastrozole|exemestane|fulvestrant|aromatase\s+inhibitor|leuprolide|goserelin"
                r"|enzalutamide|abiraterone|apalutamide|darolutamide|bicalutamide|androgen\s+deprivation\s+therapy|ADT",
    "targeted": r"trastuzumab|pertuzumab|ado-trastuzumab\s+emtansine|T-DM1|lapatinib|neratinib|tucatinib|bevacizumab"
                r"|cetuximab|panitumumab|osimertinib|erlotinib|gefitinib|afatinib|dacomitinib|amivantamab|crizotinib"
                r"|alectinib|brigatinib|lorlatinib|ceritinib|sotorasib|adagrasib|dabrafenib|trametinib|vemurafenib"
                r"|encorafenib|cobimetinib|binimetinib|imatinib|sunitinib|sorafenib|lenvatinib|cabozantinib|pazopanib"
                r"|axitinib|regorafenib|palbociclib|ribociclib|abemaciclib|olaparib|niraparib|rucaparib",
    "immunotherapy": r"pembrolizumab|nivolumab|atezolizumab|durvalumab|ipilimumab|dostarlimab|cemiplimab|avelumab",
}
_ANY_DRUG = "|".join(_DRUGS.values())
_TIMING = r"(?:(?:adjuvant|neoadjuvant|perioperative|induction|maintenance)\s+)?"
_BRAND = r"(?:\s+\((?-i:[A-Z][a-z]+)\))?"  # "trastuzumab (Herceptin)": the brand name belongs to the mention
_REGIMENS = (re.compile(rf"\b{_TIMING}(?:{_DRUGS['chemotherapy']})\s+(?:and|plus)\s+(?:{_DRUGS['chemotherapy']})\b",
                        _I),
             re.compile(rf"\b{_TIMING}(?:{_ANY_DRUG})(?:\s*/\s*(?:{_ANY_DRUG}))*\b{_BRAND}", _I))
_PROCEDURES = {
    "surgery": r"(?:(?:total|partial|radical|modified\s+radical|simple|robotic|laparoscopic|VATS|sleeve)\s+)?"
               r"(?:lumpectomy|mastectomy|lobectomy|pneumonectomy|nephrectomy|prostatectomy|(?:hemi|sigmoid\s+)?colectomy"
               r"|(?:abdominal\s+)?hysterectomy(?:\s+with\s+BSO)?|gastrectomy|esophagectomy|hepatectomy|whipple"
               r"|pancreat(?:ic)?o?duodenectomy|cystectomy|thyroidectomy|wide\s+local\s+excision|orchiectomy"
               r"|oophorectomy|neck\s+dissection|low\s+anterior\s+resection|sentinel\s+lymph\s+node\s+biopsy"
               r"|transurethral\s+resection(?:\s+of\s+(?:the\s+)?bladder\s+tumou?r)?|TURBT|lymphadenectomy)",
    "chemotherapy": r"(?:(?:adjuvant|neoadjuvant|systemic|palliative)\s+)?chemotherapy",
    "radiation": r"(?:(?:adjuvant|neoadjuvant|definitive|palliative|concurrent|whole[- ]breast|external\s+beam"
                 r"|stereotactic\s+body|vaginal(?:\s+cuff)?)\s+)?(?:radiation(?:\s+therapy)?|radiotherapy"
                 r"|chemoradiation|chemoradiotherapy|brachytherapy|XRT|SBRT|EBRT|IMRT|ISRT|radioactive\s+iodine)",
    "immunotherapy": r"(?:intravesical\s+)?BCG|immunotherapy",
}
_TREATMENTS = [(cat, re.compile(rf"\b(?:{p})\b", _I)) for cat, p in _PROCEDURES.items()]


def _drug_category(surface: str) -> str:
    """The category of a regimen's first drug ("carboplatin/paclitaxel" -> chemotherapy)."""
    first = re.split(r"\s*/\s*|\s+(?:and|plus)\s+", surface)[0]
    return next((cat for cat, p in _DRUGS.items() if re.fullmatch(p, first, _I)), "targeted")


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

RULE_TYPES = ("cancer_diagnosis", "histology", "primary_site", "laterality", "grade", "stage_t", "stage_n", "stage_m", "stage_group",
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
    scan("biomarker", _SIGNED, lambda m: f"{_marker_name(m.group(1))}: {'positive' if m.group(2) == '+' else 'negative'}")
    scan("biomarker", _MSI_WORDS, lambda m: "MSI: stable" if re.search("stable|MSS", m.group(), _I) else "MSI: high")
    scan("cancer_diagnosis", _DIAGNOSIS, lambda m: _diagnosis_code(m.group()))
    scan("histology", _HISTOLOGY, lambda m: " ".join(m.group().lower().split()))
    for rx in _REGIMENS:
        scan("treatment", rx, lambda m: _treatment_value(_drug_category(m.group()), m.group()))
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


def _diagnosis_code(surface: str) -> str | None:
    """The TCGA project a diagnosis name points at, or None when it names several ("NSCLC", "RCC")."""
    return next((code for code, p in _DIAGNOSIS_CODES if re.search(p, surface, _I)), None)


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
        # Types it cannot find (metastasis_site, outcome, ...) are dropped: asked only for those, it finds nothing.
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
        if task == "diagnosis":
            mentions = []
        # Treats / Indicated_by between the mentions just found (see cancerllm.infer.relations).
        relations = link_relations(mentions, note.text)
        return Prediction(id=note.id, task=task, mentions=mentions, relations=relations, labels=labels,
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

    from cancerllm.classify.recipe import reader_fingerprint

    model = joblib.load(path)
    fitted, installed = getattr(model, "reader", None), reader_fingerprint()
    if fitted != installed:
        log.warning(
            "labels: %s was fitted with report readers %s, not the installed %s: its labels can differ from the ones "
            "measured when it was built; rebuild it (`make model` for the default, or rerun `cancerllm classify`)",
            folder, fitted or "of unknown version (saved before readers were fingerprinted)", installed)
    return model


def _check_types() -> None:  # every rule type is a schema type (import-time guard against a rename)
    missing = [t for t in RULE_TYPES if t not in ENTITY_TYPES]
    if missing:
        raise RuntimeError(f"rules: types {missing} are not in the phenotype schema")


_check_types()
