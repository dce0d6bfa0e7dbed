"""Data tables for the synthetic note generator: cancer types, sites, treatments, cue words, fake identities.

Everything here is plain data. The combinations encode clinical plausibility the tests check: HER2 only in
breast, gastric and oesophageal cancer; Gleason and PSA only in prostate; PD-L1 TPS, EGFR and ALK only in lung;
KRAS, MSI and CEA in colorectal (KRAS also lung and pancreas); no TNM for glioblastoma or lymphoma.

Cue lists are the words that decide an assertion. The generator writes every negated, possible, historical or
family mention in a sentence containing one of its cues, and never puts a negation, hedging or family cue in
the sentence of a present mention, so a rule-based checker (or a test) can recover the gold assertion.

Example:
    >>> CANCERS["PRAD"].biomarkers
    ('PSA',)
    >>> len(CANCERS) >= 17
    True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CANCERS",
    "CANCER_CODES",
    "FAKE_DOCTORS",
    "FAKE_GIVEN",
    "FAKE_SURNAMES",
    "FAMILY_CUES",
    "FAMILY_DISTRACTORS",
    "FILLER",
    "HISTORICAL_CUES",
    "HISTORY_DISTRACTORS",
    "METASTASIS_SITES",
    "NEGATION_CUES",
    "NOTE_KINDS",
    "POSSIBLE_CUES",
    "Cancer",
    "Site",
    "Tx",
]

NOTE_KINDS = ("pathology", "progress", "discharge", "radiology", "trial")


@dataclass(frozen=True)
class Site:
    """A primary site. ``codes`` maps laterality (or None for unpaired organs) to an ICD-10-CM code."""

    name: str
    codes: dict[str | None, str]
    suffix: str = ""
    """Appended in the diagnosis text: "adenocarcinoma of the right upper lobe" + " of the lung"."""


@dataclass(frozen=True)
class Tx:
    """A treatment option. Gold value is ``"category: agent"``; ``needs`` gates it on a biomarker result."""

    category: str
    agent: str
    surfaces: tuple[str, ...]
    needs: str | None = None
    """E.g. "ER:positive", "HER2:positive", "EGFR:mutated" (see synth._eligible)."""


@dataclass(frozen=True)
class Cancer:
    """One cancer type (TCGA project code) with everything needed to write a coherent case."""

    code: str
    names: tuple[str, ...]
    """cancer_diagnosis surfaces ("breast cancer", "NSCLC"); value is the code."""
    histologies: tuple[str, ...]
    sites: tuple[Site, ...]
    grading: str
    """nottingham | gleason | diff | isup | who | figo | twotier | none."""
    biomarkers: tuple[str, ...]
    treatments: tuple[Tx, ...]
    mets: tuple[str, ...]
    nodes: str
    staged: bool = True
    sex: str | None = None
    gyn: bool = False
    """Stage groups written FIGO style."""
    size_range: tuple[float, float] = (0.6, 7.5)


S, T = Site, Tx
_CHEMO_PT = T("chemotherapy", "carboplatin/paclitaxel", ("carboplatin/paclitaxel", "carboplatin and paclitaxel"))
_PEMBRO = T("immunotherapy", "pembrolizumab", ("pembrolizumab", "pembrolizumab (Keytruda)"))
_NIVO = T("immunotherapy", "nivolumab", ("nivolumab",))

CANCERS: dict[str, Cancer] = {c.code: c for c in [
    Cancer("BRCA", ("breast cancer", "carcinoma of the breast"),
           ("invasive ductal carcinoma", "invasive lobular carcinoma"),
           (S("breast", {"left": "C50.912", "right": "C50.911"}),
            S("upper-outer quadrant of the breast", {"left": "C50.412", "right": "C50.411"})),
           "nottingham", ("ER", "PR", "HER2", "Ki-67"),
           (T("surgery", "lumpectomy", ("lumpectomy", "partial mastectomy")),
            T("surgery", "mastectomy", ("mastectomy", "total mastectomy")),
            T("surgery", "sentinel lymph node biopsy", ("sentinel lymph node biopsy", "SLNB")),
            T("chemotherapy", "doxorubicin/cyclophosphamide/paclitaxel",
              ("AC-T", "dose-dense AC followed by paclitaxel")),
            T("chemotherapy", "docetaxel/cyclophosphamide", ("TC", "docetaxel/cyclophosphamide")),
            T("targeted", "trastuzumab", ("trastuzumab", "trastuzumab (Herceptin)"), "HER2:positive"),
            T("hormonal", "tamoxifen", ("tamoxifen",), "ER:positive"),
            T("hormonal", "letrozole", ("letrozole", "an aromatase inhibitor (letrozole)"), "ER:positive"),
            T("radiation", "whole-breast radiation", ("whole-breast radiation", "adjuvant whole breast XRT"))),
           ("bone", "liver", "lung", "brain"), "axillary lymph nodes", sex="F", size_range=(0.5, 6.5)),
    Cancer("LUAD", ("non-small cell lung cancer", "NSCLC", "lung adenocarcinoma"), ("adenocarcinoma",),
           (S("upper lobe", {"right": "C34.11", "left": "C34.12"}, " of the lung"),
            S("lower lobe", {"right": "C34.31", "left": "C34.32"}, " of the lung"),
            S("middle lobe", {"right": "C34.2"}, " of the lung")),
           "diff", ("PD-L1", "EGFR", "ALK", "KRAS"),
           (T("surgery", "lobectomy", ("lobectomy", "VATS lobectomy")),
            T("chemotherapy", "carboplatin/pemetrexed", ("carboplatin/pemetrexed", "carboplatin and pemetrexed")),
            _PEMBRO,
            T("targeted", "osimertinib", ("osimertinib",), "EGFR:mutated"),
            T("targeted", "alectinib", ("alectinib",), "ALK:rearranged"),
            T("targeted", "sotorasib", ("sotorasib",), "KRAS:G12C"),
            T("radiation", "stereotactic body radiation therapy", ("SBRT", "stereotactic body radiation therapy"))),
           ("brain", "bone", "liver", "adrenal gland", "pleura"), "mediastinal lymph nodes"),
    Cancer("LUSC", ("non-small cell lung cancer", "NSCLC", "squamous cell lung cancer"), ("squamous cell carcinoma",),
           (S("upper lobe", {"right": "C34.11", "left": "C34.12"}, " of the lung"),
            S("lower lobe", {"right": "C34.31", "left": "C34.32"}, " of the lung")),
           "diff", ("PD-L1",),
           (T("surgery", "lobectomy", ("lobectomy", "sleeve lobectomy")), _CHEMO_PT, _PEMBRO,
            T("immunotherapy", "durvalumab", ("durvalumab",)),
            T("radiation", "radiation therapy", ("definitive radiation", "XRT"))),
           ("bone", "liver", "adrenal gland", "brain"), "hilar lymph nodes"),
    Cancer("PRAD", ("prostate cancer", "carcinoma of the prostate"), ("acinar adenocarcinoma", "adenocarcinoma"),
           (S("prostate", {None: "C61"}),), "gleason", ("PSA",),
           (T("surgery", "radical prostatectomy", ("radical prostatectomy", "RALP")),
            T("hormonal", "androgen deprivation therapy", ("ADT", "androgen deprivation therapy", "leuprolide")),
            T("hormonal", "enzalutamide", ("enzalutamide",)),
            T("chemotherapy", "docetaxel", ("docetaxel",)),
            T("radiation", "external beam radiation therapy", ("EBRT", "external beam radiation"))),
           ("bone", "liver", "lung"), "pelvic lymph nodes", sex="M", size_range=(0.8, 4.0)),
    Cancer("COAD", ("colon cancer", "colorectal cancer", "CRC"), ("adenocarcinoma", "mucinous adenocarcinoma"),
           (S("sigmoid colon", {None: "C18.7"}), S("ascending colon", {None: "C18.2"}), S("cecum", {None: "C18.0"}),
            S("transverse colon", {None: "C18.4"}), S("descending colon", {None: "C18.6"})),
           "diff", ("KRAS", "MSI", "BRAF", "CEA"),
           (T("surgery", "hemicolectomy", ("right hemicolectomy", "hemicolectomy")),
            T("surgery", "sigmoid colectomy", ("sigmoid colectomy",)),
            T("chemotherapy", "FOLFOX", ("FOLFOX", "mFOLFOX6")),
            T("chemotherapy", "capecitabine/oxaliplatin", ("CAPOX", "capecitabine/oxaliplatin")),
            T("targeted", "bevacizumab", ("bevacizumab",)),
            T("targeted", "cetuximab", ("cetuximab",), "KRAS:wild-type"),
            T("immunotherapy", "pembrolizumab", ("pembrolizumab",), "MSI:high")),
           ("liver", "lung", "peritoneum"), "pericolic lymph nodes"),
    Cancer("READ", ("rectal cancer", "rectal adenocarcinoma"), ("adenocarcinoma",),
           (S("rectum", {None: "C20"}),), "diff", ("KRAS", "MSI", "CEA"),
           (T("surgery", "low anterior resection", ("low anterior resection", "LAR with TME")),
            T("chemotherapy", "FOLFOX", ("FOLFOX",)),
            T("chemotherapy", "capecitabine", ("capecitabine",)),
            T("radiation", "chemoradiation", ("neoadjuvant chemoradiation", "long-course chemoradiation"))),
           ("liver", "lung"), "mesorectal lymph nodes"),
    Cancer("SKCM", ("melanoma", "malignant melanoma", "cutaneous melanoma"), ("superficial spreading melanoma",
                                                                             "nodular melanoma"),
           (S("skin of the trunk", {None: "C43.59"}), S("upper arm", {"left": "C43.62", "right": "C43.61"}),
            S("lower leg", {"left": "C43.72", "right": "C43.71"}), S("scalp", {None: "C43.4"})),
           "none", ("BRAF", "PD-L1"),
           (T("surgery", "wide local excision", ("wide local excision", "WLE")),
            _PEMBRO, T("immunotherapy", "nivolumab/ipilimumab", ("nivolumab/ipilimumab", "ipilimumab plus nivolumab")),
            T("targeted", "dabrafenib/trametinib", ("dabrafenib/trametinib",), "BRAF:V600E")),
           ("lung", "brain", "liver", "bone"), "regional lymph nodes", size_range=(0.3, 3.0)),
    Cancer("KIRC", ("renal cell carcinoma", "RCC", "kidney cancer"), ("clear cell renal cell carcinoma",),
           (S("kidney", {"left": "C64.2", "right": "C64.1"}),), "isup", ("PD-L1",),
           (T("surgery", "radical nephrectomy", ("radical nephrectomy",)),
            T("surgery", "partial nephrectomy", ("partial nephrectomy", "robotic partial nephrectomy")),
            T("targeted", "sunitinib", ("sunitinib",)), T("targeted", "axitinib", ("axitinib",)), _NIVO, _PEMBRO),
           ("lung", "bone", "adrenal gland", "brain"), "hilar lymph nodes", size_range=(2.0, 11.0)),
    Cancer("BLCA", ("bladder cancer", "urothelial carcinoma of the bladder"), ("urothelial carcinoma",),
           (S("lateral wall of the bladder", {None: "C67.2"}), S("trigone of the bladder", {None: "C67.0"}),
            S("bladder", {None: "C67.9"})), "twotier", ("PD-L1",),
           (T("surgery", "transurethral resection of bladder tumor", ("TURBT", "transurethral resection")),
            T("surgery", "radical cystectomy", ("radical cystectomy",)),
            T("chemotherapy", "gemcitabine/cisplatin", ("gemcitabine/cisplatin", "gem/cis")),
            T("immunotherapy", "BCG", ("intravesical BCG", "BCG")), _PEMBRO),
           ("lung", "bone", "liver"), "pelvic lymph nodes"),
    Cancer("HNSC", ("head and neck cancer", "HNSCC", "oropharyngeal cancer"), ("squamous cell carcinoma",),
           (S("base of tongue", {None: "C01"}), S("lateral border of the tongue", {None: "C02.1"}),
            S("glottic larynx", {None: "C32.0"}), S("oropharynx", {None: "C10.9"})), "diff", ("PD-L1",),
           (T("surgery", "neck dissection", ("neck dissection", "partial glossectomy with neck dissection")),
            T("radiation", "chemoradiation", ("concurrent chemoradiation", "IMRT with weekly cisplatin")),
            T("targeted", "cetuximab", ("cetuximab",)), _PEMBRO),
           ("lung", "bone"), "cervical lymph nodes", size_range=(0.8, 5.0)),
    Cancer("THCA", ("thyroid cancer", "papillary thyroid cancer"), ("papillary thyroid carcinoma",),
           (S("thyroid", {None: "C73"}),), "none", ("BRAF",),
           (T("surgery", "total thyroidectomy", ("total thyroidectomy",)),
            T("radiation", "radioactive iodine", ("radioactive iodine", "RAI ablation")),
            T("hormonal", "levothyroxine suppression", ("TSH suppression with levothyroxine",))),
           ("lung", "bone"), "central neck lymph nodes", size_range=(0.4, 4.5)),
    Cancer("LIHC", ("liver cancer", "hepatocellular carcinoma", "HCC"), ("hepatocellular carcinoma",),
           (S("right lobe of the liver", {None: "C22.0"}), S("liver", {None: "C22.0"})), "diff", (),
           (T("surgery", "partial hepatectomy", ("partial hepatectomy", "right hepatectomy")),
            T("chemotherapy", "transarterial chemoembolization", ("TACE", "transarterial chemoembolization")),
            T("targeted", "lenvatinib", ("lenvatinib",)),
            T("immunotherapy", "atezolizumab/bevacizumab", ("atezolizumab/bevacizumab", "atezo/bev"))),
           ("lung", "bone", "adrenal gland"), "portal lymph nodes", size_range=(1.5, 12.0)),
    Cancer("STAD", ("gastric cancer", "stomach cancer"), ("adenocarcinoma", "signet ring cell carcinoma"),
           (S("gastric antrum", {None: "C16.3"}), S("gastric body", {None: "C16.2"}),
            S("gastric cardia", {None: "C16.0"})),
           "diff", ("HER2", "PD-L1", "MSI"),
           (T("surgery", "gastrectomy", ("total gastrectomy", "subtotal gastrectomy")),
            T("chemotherapy", "FLOT", ("FLOT", "perioperative FLOT")),
            T("targeted", "trastuzumab", ("trastuzumab",), "HER2:positive"), _NIVO),
           ("liver", "peritoneum", "lung"), "perigastric lymph nodes"),
    Cancer("PAAD", ("pancreatic cancer", "PDAC"), ("pancreatic ductal adenocarcinoma", "adenocarcinoma"),
           (S("head of the pancreas", {None: "C25.0"}), S("body of the pancreas", {None: "C25.1"}),
            S("tail of the pancreas", {None: "C25.2"})), "diff", ("KRAS", "CEA"),
           (T("surgery", "pancreaticoduodenectomy", ("Whipple procedure", "pancreaticoduodenectomy")),
            T("surgery", "distal pancreatectomy", ("distal pancreatectomy",)),
            T("chemotherapy", "FOLFIRINOX", ("FOLFIRINOX", "modified FOLFIRINOX")),
            T("chemotherapy", "gemcitabine/nab-paclitaxel", ("gemcitabine/nab-paclitaxel", "gem/nab-paclitaxel"))),
           ("liver", "peritoneum", "lung"), "peripancreatic lymph nodes", size_range=(1.2, 5.5)),
    Cancer("OV", ("ovarian cancer", "ovarian carcinoma"), ("high-grade serous carcinoma",),
           (S("ovary", {"left": "C56.2", "right": "C56.1"}),), "none", ("CA-125",),
           (T("surgery", "debulking surgery", ("optimal debulking", "TAH-BSO with omentectomy")),
            _CHEMO_PT, T("targeted", "olaparib", ("olaparib",)), T("targeted", "bevacizumab", ("bevacizumab",))),
           ("peritoneum", "omentum", "liver", "pleura"), "pelvic lymph nodes", sex="F", gyn=True,
           size_range=(3.0, 14.0)),
    Cancer("UCEC", ("endometrial cancer", "uterine cancer"), ("endometrioid adenocarcinoma",),
           (S("endometrium", {None: "C54.1"}),), "figo", ("MSI", "ER"),
           (T("surgery", "total hysterectomy", ("total hysterectomy with BSO", "robotic hysterectomy")),
            _CHEMO_PT, T("radiation", "vaginal brachytherapy", ("vaginal brachytherapy", "vaginal cuff brachytherapy")),
            T("immunotherapy", "dostarlimab", ("dostarlimab",), "MSI:high")),
           ("lung", "peritoneum", "liver"), "pelvic lymph nodes", sex="F", gyn=True, size_range=(1.0, 6.0)),
    Cancer("GBM", ("glioblastoma", "GBM"), ("glioblastoma, IDH-wildtype",),
           (S("frontal lobe", {"left": "C71.1", "right": "C71.1"}),
            S("temporal lobe", {"left": "C71.2", "right": "C71.2"}),
            S("parietal lobe", {"left": "C71.3", "right": "C71.3"})), "who", ("Ki-67",),
           (T("surgery", "gross total resection", ("gross total resection", "subtotal resection")),
            T("chemotherapy", "temozolomide", ("temozolomide", "TMZ")),
            T("radiation", "chemoradiation", ("concurrent chemoradiation (60 Gy)", "RT with concurrent temozolomide")),
            T("targeted", "bevacizumab", ("bevacizumab",))),
           (), "regional lymph nodes", staged=False, size_range=(2.0, 6.5)),
    Cancer("CESC", ("cervical cancer", "carcinoma of the cervix"), ("squamous cell carcinoma",),
           (S("cervix", {None: "C53.9"}), S("endocervix", {None: "C53.0"})), "diff", ("PD-L1",),
           (T("radiation", "chemoradiation", ("chemoradiation with weekly cisplatin", "definitive chemoradiation")),
            T("radiation", "brachytherapy", ("brachytherapy", "HDR brachytherapy")),
            T("surgery", "radical hysterectomy", ("radical hysterectomy",)), _PEMBRO),
           ("lung", "liver", "bone"), "pelvic lymph nodes", sex="F", gyn=True),
    Cancer("ESCA", ("esophageal cancer", "esophageal adenocarcinoma"), ("adenocarcinoma", "squamous cell carcinoma"),
           (S("distal esophagus", {None: "C15.5"}), S("mid esophagus", {None: "C15.4"})), "diff", ("HER2", "PD-L1"),
           (T("surgery", "esophagectomy", ("Ivor Lewis esophagectomy", "esophagectomy")),
            T("radiation", "chemoradiation", ("CROSS chemoradiation", "neoadjuvant chemoradiation")),
            T("targeted", "trastuzumab", ("trastuzumab",), "HER2:positive"), _NIVO),
           ("liver", "lung", "bone"), "paraesophageal lymph nodes"),
    Cancer("SARC", ("soft tissue sarcoma", "sarcoma"), ("undifferentiated pleomorphic sarcoma", "leiomyosarcoma"),
           (S("thigh", {"left": "C49.22", "right": "C49.21"}),), "diff", ("Ki-67",),
           (T("surgery", "wide resection", ("wide resection", "radical resection")),
            T("chemotherapy", "doxorubicin", ("doxorubicin",)),
            T("radiation", "preoperative radiation", ("preoperative radiation", "preoperative RT (50 Gy)"))),
           ("lung",), "regional lymph nodes", size_range=(3.0, 15.0)),
    Cancer("DLBC", ("diffuse large B-cell lymphoma", "DLBCL", "lymphoma"), ("diffuse large B-cell lymphoma",),
           (S("lymph nodes of multiple sites", {None: "C83.38"}),), "none", ("Ki-67",),
           (T("chemotherapy", "R-CHOP", ("R-CHOP", "rituximab plus CHOP")),
            T("radiation", "involved-site radiation", ("involved-site radiation", "ISRT"))),
           (), "regional lymph nodes", staged=False, size_range=(2.0, 9.0)),
]}

CANCER_CODES = tuple(CANCERS)

# Metastasis site value -> surfaces usable as a noun ("metastases to the liver") and an adjective ("hepatic").
METASTASIS_SITES: dict[str, tuple[str, str]] = {
    "liver": ("liver", "hepatic"), "bone": ("bone", "osseous"), "lung": ("lungs", "pulmonary"),
    "brain": ("brain", "intracranial"), "adrenal gland": ("adrenal gland", "adrenal"),
    "peritoneum": ("peritoneum", "peritoneal"), "pleura": ("pleura", "pleural"), "omentum": ("omentum", "omental"),
}

# Pre-cues come before the mention within its sentence ("No evidence of hepatic metastases").
NEGATION_CUES = ("no evidence of", "negative for", "no", "without", "denies", "free of", "absence of")
# Hedging cues may follow the mention ("pulmonary metastasis cannot be excluded").
POSSIBLE_CUES = ("suspicious for", "cannot be excluded", "possible", "r/o", "rule out", "concerning for",
                 "questionable", "may represent")
HISTORICAL_CUES = ("history of", "h/o", "s/p", "status post", "previously treated", "remote", "completed")
FAMILY_CUES = ("mother", "father", "sister", "brother", "maternal aunt", "paternal uncle", "grandmother",
               "family history")

# Distractor cancers: (cancer_diagnosis surface, value code, treatment surface, treatment value, sex or None).
HISTORY_DISTRACTORS = (
    ("melanoma", "SKCM", "wide local excision", "surgery: wide local excision", None),
    ("papillary thyroid cancer", "THCA", "total thyroidectomy", "surgery: total thyroidectomy", None),
    ("breast cancer", "BRCA", "lumpectomy", "surgery: lumpectomy", "F"),
    ("prostate cancer", "PRAD", "radical prostatectomy", "surgery: radical prostatectomy", "M"),
    ("colon cancer", "COAD", "right hemicolectomy", "surgery: hemicolectomy", None),
    ("bladder cancer", "BLCA", "TURBT", "surgery: transurethral resection of bladder tumor", None),
    ("Hodgkin lymphoma", "DLBC", "ABVD", "chemotherapy: ABVD", None),
    ("renal cell carcinoma", "KIRC", "partial nephrectomy", "surgery: partial nephrectomy", None),
)
FAMILY_DISTRACTORS = (
    ("mother", "breast cancer", "BRCA"), ("father", "prostate cancer", "PRAD"), ("sister", "ovarian cancer", "OV"),
    ("brother", "colon cancer", "COAD"), ("maternal aunt", "breast cancer", "BRCA"),
    ("paternal uncle", "lung cancer", "LUAD"), ("grandmother", "pancreatic cancer", "PAAD"),
    ("father", "melanoma", "SKCM"), ("mother", "endometrial cancer", "UCEC"),
)

# Obviously fake identities: nobody is called "Testperson, Alpha", and MRNs carry a FAKE- prefix.
FAKE_SURNAMES = ("Testperson", "Sample", "Fakename", "Placeholder", "Exampleton", "Dummy", "Mockley", "Synthetica")
FAKE_GIVEN = ("Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel", "India", "Juliet")
FAKE_DOCTORS = ("Dr. Zulu Fakedoc", "Dr. Yankee Notreal", "Dr. X-ray Madeup", "Dr. Whiskey Pretend")

# Entity-free sentences for padding long notes. None contains a cue word, a grade, a stage or a cancer term.
FILLER = {
    "ROS": ("Reports mild fatigue, stable appetite and intermittent constipation.",
            "Sleep is fair; uses melatonin at night.", "Weight stable over the last three months.",
            "Occasional tingling in the fingertips, unchanged.", "Mood is good with strong support from family."),
    "EXAM": ("General: alert, pleasant and comfortable.", "HEENT: mucous membranes moist, oropharynx clear.",
             "Lungs: clear to auscultation bilaterally.", "Heart: regular rate and rhythm, normal S1 and S2.",
             "Abdomen: soft, nontender, normal bowel sounds.", "Extremities: trace ankle edema.",
             "Neuro: cranial nerves intact, strength 5/5 throughout.", "Skin: port site clean and dry."),
    "LABS": ("WBC {a}.{b} K/uL, hemoglobin 1{c}.{d} g/dL, platelets {e}{f}0 K/uL.",
             "Sodium 13{c} mmol/L, potassium 4.{d} mmol/L, creatinine 0.{a}{b} mg/dL.",
             "AST {e}{a} U/L, ALT {f}{b} U/L, total bilirubin 0.{c} mg/dL.", "TSH 1.{d}{a} mIU/L, glucose 9{b} mg/dL."),
    "MEDS": ("lisinopril 10 mg daily", "metformin 500 mg twice daily", "ondansetron 8 mg as needed for nausea",
             "atorvastatin 20 mg nightly", "omeprazole 20 mg daily", "apixaban 5 mg twice daily",
             "vitamin D3 2000 units daily", "gabapentin 300 mg at bedtime"),
    "SOCIAL": ("Lives with spouse; retired teacher.", "Former smoker, 20 pack-years, quit 10 years ago.",
               "Drinks one glass of wine weekly.", "Walks 30 minutes most days."),
    "VISIT": ("Tolerated the last infusion well.",
              "Blood counts were reviewed and adequate for treatment.", "Discussed nutrition and exercise.",
              "Supportive care plan reviewed with the patient and spouse.", "Port flushed; site clean and dry.",
              "Antiemetics adjusted for mild nausea.", "Vaccinations are up to date."),
}
