"""Draw one coherent synthetic cancer case, and the surface forms of its phenotypes.

A case fixes everything that must agree across a patient's notes: cancer type, site and side, histology, grade,
T/N/M, size, biomarker results (only those plausible for the type), treatments (gated by those results, e.g.
trastuzumab only when HER2 is positive), metastatic sites (only when M1), outcomes and distractor history.
The surface helpers return ``(surface, value)`` pairs; values follow ``docs/schema.md``.

Example:
    >>> case = make_case(random.Random(3), 42)
    >>> case.patient_id, case.cancer.code in CANCERS
    ('FAKE-PT-00042', True)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cancerllm.data.synth.vocab import (
    CANCERS,
    FAKE_GIVEN,
    FAKE_SURNAMES,
    FAMILY_DISTRACTORS,
    HISTORY_DISTRACTORS,
    NOTE_KINDS,
    Cancer,
    Site,
    Tx,
)

__all__ = ["ROMAN", "Case", "grade_surface", "make_case", "marker_surface", "size_surface", "stage_tokens"]

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
_RESPONSES = ("complete response", "partial response", "stable disease", "progressive disease")
_RESPONSE_ABBR = {"complete response": "CR", "partial response": "PR", "stable disease": "SD",
                  "progressive disease": "PD"}


@dataclass
class Case:
    """Everything known about one fake patient's current cancer (see module docstring)."""

    patient_id: str
    cancer: Cancer
    site: Site
    side: str | None
    histology: str
    sex: str
    age: int
    t: int | None
    n: int | None
    m: int | None
    subs: tuple[str, str, str]
    stage_group: str | None
    grade: tuple | None
    size_cm: float
    markers: dict[str, tuple[str, str]]
    """marker -> (gate key used by Tx.needs, detail shown in the value)."""
    past_tx: list[Tx]
    current_tx: list[Tx]
    mets: list[str]
    response: str
    pfs: float
    os_months: int
    name: tuple[str, str]
    mrn: str
    history: tuple | None
    family: list[tuple] = field(default_factory=list)
    kinds: tuple[str, ...] = NOTE_KINDS

    @property
    def icd10(self) -> str:
        return self.site.codes[self.side]

    @property
    def diagnosis_text(self) -> str:
        side = f"{self.side} " if self.side else ""
        # "glioblastoma, IDH-wildtype" -> "glioblastoma of the left frontal lobe": qualifiers stay out of the phrase.
        return f"{self.histology.split(',')[0]} of the {side}{self.site.name}{self.site.suffix}"

    @property
    def response_abbr(self) -> str:
        return _RESPONSE_ABBR[self.response]


def _markers(rng: random.Random, c: Cancer) -> dict[str, tuple[str, str]]:
    """Biomarker results drawn with rough real-world frequencies, mutually exclusive drivers kept exclusive."""
    out: dict[str, tuple[str, str]] = {}
    for mk in c.biomarkers:
        r = rng.random()
        if mk == "ER":
            out[mk] = ("positive", f"{rng.choice((60, 80, 90, 95, 100))}%") if r < 0.75 else ("negative", "<1%")
        elif mk == "PR":
            pos = r < (0.8 if out.get("ER", ("",))[0] == "positive" else 0.1)
            out[mk] = ("positive", f"{rng.choice((20, 50, 70, 90))}%") if pos else ("negative", "<1%")
        elif mk == "HER2":
            out[mk] = ("positive", "3+") if r < 0.2 else ("negative", rng.choice(("0", "1+")))
        elif mk == "Ki-67":
            out[mk] = ("value", f"{rng.choice((5, 10, 15, 20, 30, 40, 60, 80))}%")
        elif mk == "PD-L1":
            score = str(rng.choice((0, 1, 5, 10, 20, 50, 60, 80, 90)))
            out[mk] = ("tps" if c.code in ("LUAD", "LUSC") else "cps", score)
        elif mk == "EGFR":
            out[mk] = ("mutated", rng.choice(("exon 19 deletion", "L858R"))) if r < 0.15 else ("wild-type", "")
        elif mk == "ALK":
            driver = out.get("EGFR", ("",))[0] == "mutated"
            out[mk] = ("rearranged", "") if r < 0.06 and not driver else ("negative", "")
        elif mk == "KRAS":
            driver = out.get("EGFR", ("",))[0] == "mutated" or out.get("ALK", ("",))[0] == "rearranged"
            rate = {"PAAD": 0.9, "LUAD": 0.25}.get(c.code, 0.4)
            lung = ("G12C", "G12C", "G12C", "G12V", "G12D")
            variants = lung if c.code == "LUAD" else ("G12D", "G12V", "G13D", "G12R")
            mut = rng.choice(variants)
            out[mk] = (mut, mut) if r < rate and not driver else ("wild-type", "")
        elif mk == "MSI":
            out[mk] = ("high", "") if r < {"UCEC": 0.3}.get(c.code, 0.15) else ("stable", "")
        elif mk == "BRAF":
            rate = {"SKCM": 0.5, "THCA": 0.6}.get(c.code, 0.1)
            kras_mut = out.get("KRAS", ("wild-type",))[0] != "wild-type"
            out[mk] = ("V600E", "V600E") if r < rate and not kras_mut else ("wild-type", "")
        elif mk == "PSA":
            out[mk] = ("value", f"{rng.uniform(4.1, 48.0):.1f} ng/mL")
        elif mk == "CEA":
            out[mk] = ("value", f"{rng.uniform(1.2, 85.0):.1f} ng/mL")
        elif mk == "CA-125":
            out[mk] = ("value", f"{rng.randint(40, 1800)} U/mL")
    return out


def _eligible(tx: Tx, markers: dict[str, tuple[str, str]]) -> bool:
    """A gated treatment needs its biomarker result: 'HER2:positive', 'KRAS:G12C', 'MSI:high'..."""
    if tx.needs is None:
        return True
    mk, want = tx.needs.split(":")
    return mk in markers and want in markers[mk]


def _stage_group(c: Cancer, t: int, n: int, m: int, rng: random.Random) -> str:
    """A plausible AJCC-like group from T, N, M (generic, not a per-site AJCC table)."""
    if m == 1:
        return "IV" + rng.choice(("", "", "A", "B"))
    if n == 0:
        return {1: "IA", 2: "IB", 3: "IIA", 4: "IIB"}[t] if not c.gyn else {1: "IA", 2: "II", 3: "IIIA", 4: "IIIB"}[t]
    if n == 1:
        return "IIB" if t <= 2 else ("IIIA" if t == 3 else "IIIB")
    return "IIIA" if n == 2 and t <= 3 else ("IIIB" if n == 2 else "IIIC")


def make_case(rng: random.Random, patient: int) -> Case:
    """Draw one case for patient number ``patient`` (id ``FAKE-PT-<patient:05d>``)."""
    c = CANCERS[rng.choice(sorted(CANCERS))]
    site = rng.choice(c.sites)
    side = rng.choice(sorted(k for k in site.codes if k)) if None not in site.codes else None
    sex = c.sex or rng.choice("FM")
    t = n = m = None
    subs = ("", "", "")
    group = None
    if c.staged:
        t = rng.choices((1, 2, 3, 4), (30, 35, 22, 13))[0]
        n = rng.choices((0, 1, 2, 3), (50, 28, 15, 7))[0] if c.code not in ("PRAD", "THCA") else rng.choice((0, 0, 1))
        m = 1 if rng.random() < (0.2 if c.mets else 0.0) else 0
        subs = (rng.choice({1: ("", "a", "b", "c"), 2: ("", "a", "b"), 3: ("", "", "a", "b"), 4: ("", "a", "b")}[t]),
                rng.choice(("", "", "a", "b")) if n in (1, 2) else "",
                rng.choice(("", "a", "b", "c")) if m else "")
        group = _stage_group(c, t, n, m, rng)
    elif c.code == "DLBC":
        group = rng.choice(("I", "II", "III", "IV")) + rng.choice(("A", "B"))
    lo, hi = c.size_range
    frac = {None: rng.random(), 1: rng.uniform(0.0, 0.3), 2: rng.uniform(0.25, 0.6)}.get(t, rng.uniform(0.5, 1.0))
    size = round(lo + frac * (hi - lo), 1)
    grade = _grade(rng, c)
    markers = _markers(rng, c)
    txs = [tx for tx in c.treatments if _eligible(tx, markers)]
    surgery = [tx for tx in txs if tx.category == "surgery"]
    systemic = [tx for tx in txs if tx.category != "surgery"]
    past = [rng.choice(surgery)] if surgery and m == 0 else []
    past += rng.sample(systemic, min(len(systemic), rng.randint(0, 1)))
    remaining = [tx for tx in systemic if tx not in past]
    current = rng.sample(remaining, min(len(remaining), rng.randint(1, 2))) if remaining else []
    if m == 0 and past and rng.random() < 0.3:
        current = []  # treated and now on surveillance
    mets = rng.sample(c.mets, rng.randint(1, min(3, len(c.mets)))) if m == 1 else []
    hist_pool = [h for h in HISTORY_DISTRACTORS if h[1] != c.code and h[4] in (None, sex)]
    history = rng.choice(hist_pool) if rng.random() < 0.45 else None
    fam_pool = [f for f in FAMILY_DISTRACTORS]
    family = rng.sample(fam_pool, rng.choice((0, 1, 1, 2)))
    return Case(
        patient_id=f"FAKE-PT-{patient:05d}", cancer=c, site=site, side=side, histology=rng.choice(c.histologies),
        sex=sex, age=rng.randint(34, 86), t=t, n=n, m=m, subs=subs, stage_group=group, grade=grade, size_cm=size,
        markers=markers, past_tx=past, current_tx=current, mets=mets,
        response=rng.choices(_RESPONSES, (10, 40, 30, 20))[0], pfs=round(rng.uniform(2.0, 30.0), 1),
        os_months=rng.randint(8, 60), name=(rng.choice(FAKE_SURNAMES), rng.choice(FAKE_GIVEN)),
        mrn=f"FAKE-{rng.randint(0, 9999999):07d}", history=history, family=family)


def _grade(rng: random.Random, c: Cancer) -> tuple | None:
    """(system, number or pattern) for the grading system of the cancer type; None when not graded."""
    if c.grading == "none":
        return None
    if c.grading == "gleason":
        a, b = rng.choice(((3, 3), (3, 4), (3, 4), (4, 3), (4, 4), (4, 5), (5, 4)))
        return ("gleason", (a, b))
    if c.grading == "twotier":
        return ("twotier", rng.choice(("high", "high", "low")))
    top = {"isup": 4, "who": 4}.get(c.grading, 3)
    return (c.grading, 4 if c.grading == "who" else rng.randint(1, top))


def grade_surface(rng: random.Random, grade: tuple) -> tuple[str, str]:
    """Surface and value of a grade: ("Nottingham grade 2", "G2"), ("Gleason score 4+3=7", "Gleason 4+3=7")."""
    system, g = grade
    if system == "gleason":
        a, b = g
        tmpl = rng.choice(("Gleason score {a}+{b}={s}", "Gleason {a}+{b}={s}", "Gleason score {a} + {b} = {s}"))
        return tmpl.format(a=a, b=b, s=a + b), f"Gleason {a}+{b}={a + b}"
    if system == "twotier":
        return rng.choice((f"{g} grade", f"{g}-grade")), f"{g} grade"
    options = {
        "nottingham": (f"Nottingham grade {g}", f"Nottingham grade {g} of 3", f"grade {g}", f"G{g}"),
        "diff": (("well", "moderately", "poorly", "un")[g - 1] + (" " if g < 4 else "") + "differentiated", f"G{g}"),
        "isup": (f"ISUP grade {g}", f"WHO/ISUP grade {g}", f"Fuhrman grade {g}"),
        "who": (f"WHO grade {g}", f"WHO grade {ROMAN[g]}", f"CNS WHO grade {g}"),
        "figo": (f"FIGO grade {g}", f"grade {g}"),
    }[system]
    return rng.choice(options), f"G{g}"


def marker_surface(rng: random.Random, mk: str, result: tuple[str, str], compact: bool = False) -> tuple[str, str]:
    """Surface and value for one biomarker result; ``compact`` gives the packed 'ER+' style where one exists."""
    key, detail = result
    if mk in ("ER", "PR"):
        pos = key == "positive"
        long = {"ER": "estrogen receptor", "PR": "progesterone receptor"}[mk]
        if compact:
            return f"{mk}{'+' if pos else '-'}", f"{mk}: {key}"
        return rng.choice((f"{mk} {key}", f"{mk}: {key}", f"{long} {key}")), f"{mk}: {key}"
    if mk == "HER2":
        if compact or rng.random() < 0.5:
            return f"HER2 {detail}", f"HER2: {key}"
        return rng.choice((f"HER2 {key}", f"HER2/neu {key}")), f"HER2: {key}"
    if mk == "Ki-67":
        surface = rng.choice((f"Ki-67 {detail}", f"Ki-67 proliferation index {detail}", f"Ki67 {detail}"))
        return surface, f"Ki-67: {detail}"
    if mk == "PD-L1":
        if key == "tps":
            surf = rng.choice((f"PD-L1 TPS {detail}%", f"PD-L1 (22C3) TPS {detail}%",
                               f"PD-L1 tumor proportion score {detail}%"))
            return surf, f"PD-L1: TPS {detail}%"
        return rng.choice((f"PD-L1 CPS {detail}", f"PD-L1 combined positive score {detail}")), f"PD-L1: CPS {detail}"
    if mk == "MSI":
        if key == "high":
            return rng.choice(("MSI-H", "MSI-high", "microsatellite instability-high")), "MSI: high"
        return rng.choice(("MSS", "microsatellite stable")), "MSI: stable"
    if mk in ("PSA", "CEA", "CA-125"):
        return f"{mk} {detail}", f"{mk}: {detail}"
    if key in ("wild-type", "negative"):
        return rng.choice((f"{mk} {key}", f"{mk}: {key}")), f"{mk}: {key}"
    if mk == "ALK":
        return rng.choice(("ALK rearranged", "ALK rearrangement detected", "ALK fusion positive")), "ALK: rearranged"
    suffix = rng.choice(("", " mutation", " mutated")) if mk != "EGFR" or detail == "L858R" else ""
    return f"{mk} {detail}{suffix}", f"{mk}: {detail}"


def size_surface(rng: random.Random, cm: float) -> tuple[str, str]:
    """('23 mm', '2.3 cm'), ('2.3 cm', '2.3 cm') or ('2.3 x 1.9 x 1.2 cm', '2.3 cm'): value = greatest dimension."""
    value = f"{cm:g} cm"
    r = rng.random()
    if r < 0.3:
        return f"{round(cm * 10):d} mm", value
    if r < 0.45:
        b = round(cm * rng.uniform(0.5, 0.9), 1)
        return f"{cm:g} x {b:g} x {round(b * rng.uniform(0.5, 0.9), 1):g} cm", value
    return value, value


def stage_tokens(rng: random.Random, case: Case, prefix: str, with_m: bool) -> list[tuple[str, str | None, str]]:
    """TNM as pieces: ``(text, type or None for a separator, value)``; packed 'pT2aN1M0' or spaced 'pT2a pN1 M0'.

    Example:
        >>> case = make_case(random.Random(0), 1)
        >>> case.cancer.code, case.t, case.n, case.m, case.subs
        ('OV', 1, 1, 0, ('b', 'b', ''))
        >>> stage_tokens(random.Random(0), case, "p", with_m=True)
        [('pT1b', 'stage_t', 'T1'), (', ', None, ''), ('pN1b', 'stage_n', 'N1'), (', ', None, ''),
         ('cM0', 'stage_m', 'M0')]
    """
    t_sub, n_sub, m_sub = case.subs
    style = rng.choice(("packed", "spaced", "spaced", "comma"))
    space = " " if rng.random() < 0.05 else ""  # OCR-like "pT 2" now and then
    t_txt = f"{prefix}T{space}{case.t}{t_sub}"
    n_pre = "" if style == "packed" else prefix
    n_txt = f"{n_pre}N{case.n}{n_sub}"
    m_pre = "" if style == "packed" else rng.choice(("", "c"))
    m_txt = f"{m_pre}M{case.m}{m_sub}"
    sep = {"packed": "", "spaced": " ", "comma": ", "}[style]
    parts = [(t_txt, "stage_t", f"T{case.t}"), (sep, None, ""), (n_txt, "stage_n", f"N{case.n}")]
    if with_m:
        parts += [(sep, None, ""), (m_txt, "stage_m", f"M{case.m}")]
    return parts
