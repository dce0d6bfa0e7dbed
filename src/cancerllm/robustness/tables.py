"""Data tables for the perturbations: keyboard neighbours, OCR confusions, oncology terms, surface variants.

Written for this project (no external source). Kept apart from :mod:`cancerllm.robustness.perturb` so the logic
stays readable; only data lives here.

Example:
    >>> "r" in KEYBOARD_NEIGHBOURS["e"] and "w" in KEYBOARD_NEIGHBOURS["e"]
    True
    >>> any("HER-2" in g for g in VARIANT_GROUPS)
    True
"""

from __future__ import annotations

__all__ = ["CLINICAL_TERMS", "KEYBOARD_NEIGHBOURS", "OCR_CONFUSIONS", "VARIANT_GROUPS"]

_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _neighbours() -> dict[str, str]:
    """Letters adjacent on a QWERTY keyboard (same row left/right, and the rows above/below, offset-aware)."""
    pos = {c: (r, i) for r, row in enumerate(_ROWS) for i, c in enumerate(row)}
    out = {}
    for c, (r, i) in pos.items():
        near = []
        for d, e in pos.items():
            if d == c:
                continue
            r2, i2 = e
            # Rows are staggered by about half a key: row r+1 key i-1..i and row r-1 key i..i+1 touch key i.
            if (r2 == r and abs(i2 - i) == 1) or (r2 == r + 1 and i2 in (i - 1, i)) or (r2 == r - 1 and i2 in (i, i + 1)):
                near.append(d)
        out[c] = "".join(sorted(near))
    return out


KEYBOARD_NEIGHBOURS: dict[str, str] = _neighbours()

# Classic OCR confusions (source -> what the scanner reads), both directions where both happen in practice.
OCR_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("li", "h"), ("vv", "w"), ("w", "vv"),
    ("O", "0"), ("0", "O"), ("o", "0"), ("l", "1"), ("1", "l"), ("I", "l"), ("l", "I"), ("i", "l"),
    ("S", "5"), ("5", "S"), ("B", "8"), ("8", "B"), ("e", "c"), ("c", "e"), ("g", "q"), ("n", "ri"),
    ("u", "ii"), ("t", "f"), ("f", "t"), ("a", "o"),
)

# Oncology words a misspelling is most harmful on (lower case). Words of gold mentions are added per note.
CLINICAL_TERMS: frozenset[str] = frozenset(["adenocarcinoma", "carcinoma", "sarcoma", "melanoma", "lymphoma", "leukemia", "glioblastoma", "glioma", "mesothelioma", "seminoma", "thymoma", "neoplasm", "neoplasia", "malignant", "malignancy", "benign", "tumor", "tumour", "mass", "lesion", "metastasis", "metastases", "metastatic", "invasive", "invasion", "infiltrating", "ductal", "lobular", "papillary", "squamous", "basal", "urothelial", "transitional", "clear", "cell", "serous", "mucinous", "endometrioid", "medullary", "follicular", "anaplastic", "poorly", "moderately", "well", "differentiated", "undifferentiated", "grade", "nottingham", "gleason", "stage", "staging", "pathologic", "pathological", "primary", "regional", "distant", "lymph", "node", "nodes", "nodal", "lymphovascular", "perineural", "margin", "margins", "resection", "excision", "biopsy", "mastectomy", "lumpectomy", "lobectomy", "nephrectomy", "prostatectomy", "hysterectomy", "colectomy", "gastrectomy", "dissection", "specimen", "extension", "extranodal", "capsule", "capsular", "estrogen", "progesterone", "receptor", "receptors", "positive", "negative", "amplification", "amplified", "equivocal", "immunohistochemistry", "breast", "lung", "kidney", "renal", "prostate", "colon", "rectum", "rectal", "stomach", "gastric", "liver", "hepatic", "pancreas", "pancreatic", "thyroid", "bladder", "ovary", "ovarian", "uterus", "uterine", "endometrium", "cervix", "cervical", "esophagus", "esophageal", "skin", "brain", "bone", "chemotherapy", "radiation", "radiotherapy", "adjuvant", "neoadjuvant", "tamoxifen", "trastuzumab", "recurrence", "recurrent", "residual", "necrosis", "mitotic", "mitoses", "pleomorphism", "atypia", "hyperplasia", "dysplasia", "situ", "focal", "multifocal", "bilateral", "laterality"])

# Surface variants of one concept; abbrev_swap.v1 replaces a match by another member of its group.
# Upper-case members match case-sensitively ("ER" is not "er"), lower-case phrases case-insensitively.
VARIANT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("HER2", "HER-2", "erbB2", "HER2/neu", "ERBB2"),
    ("PD-L1", "PDL1", "PD L1"),
    ("Ki-67", "Ki67", "MIB-1"),
    ("estrogen receptor", "ER", "oestrogen receptor"),
    ("progesterone receptor", "PgR"),
    ("lymphovascular invasion", "LVI", "angiolymphatic invasion"),
    ("ductal carcinoma in situ", "DCIS"),
    ("invasive ductal carcinoma", "IDC"),
    ("invasive lobular carcinoma", "ILC"),
    ("squamous cell carcinoma", "SCC"),
    ("hepatocellular carcinoma", "HCC"),
    ("renal cell carcinoma", "RCC"),
    ("adenocarcinoma", "adenoca"),
    ("lymph nodes", "LNs"),
    ("lymph node", "LN"),
    ("centimeters", "cms"),
    ("immunohistochemistry", "IHC"),
    ("fluorescence in situ hybridization", "FISH"),
    ("no evidence of disease", "NED"),
    ("status post", "s/p"),
)
