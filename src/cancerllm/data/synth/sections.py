"""Sentence builders shared by the synthetic note kinds: each writes one clinical statement into a ``Doc``.

Every builder writes the current case's phenotypes as gold mentions and keeps one assertion context per sentence:
a negation, hedging, history or family cue never shares a sentence with a present mention of the current
cancer. Examples of what they write (mentions in brackets):

* ``stage``:      "Pathologic stage: [pT2a][N1][M0] ([stage IIB])."
* ``negated_mets``: "No evidence of metastatic disease in the [liver]."  (cue "No evidence of")
* ``history``:    "History of [melanoma], s/p [wide local excision] in 2009."
* ``family``:     "Mother had [breast cancer] at age 52."

Example:
    >>> import random
    >>> from cancerllm.data.synth import Doc
    >>> from cancerllm.data.synth.case import make_case
    >>> d = Doc(); family(d, make_case(random.Random(5), 1), random.Random(0))
    >>> text, mentions, _ = d.render(random.Random(0), 0.0)
    >>> all(m.assertion == "family" for m in mentions)
    True
"""

from __future__ import annotations

import random

from cancerllm.data.synth.case import Case, grade_surface, marker_surface, size_surface, stage_tokens
from cancerllm.data.synth.vocab import FAKE_DOCTORS, FILLER, METASTASIS_SITES
from cancerllm.knowledge.abbreviations import expand

__all__ = [
    "FAKE_DOCTORS",
    "cancer_name",
    "date",
    "diagnosis_phrase",
    "family",
    "grade",
    "histology",
    "history",
    "marker_surface",
    "markers",
    "negated_mets",
    "nodes",
    "pad",
    "person",
    "phi_block",
    "possible_mets",
    "present_mets",
    "response",
    "site",
    "stage",
    "survival",
    "treatment",
    "tumor_size",
]


def date(rng: random.Random) -> str:
    return f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{rng.randint(2016, 2024)}"


def person(case: Case) -> tuple[str, str, str]:
    """(noun, title, pronoun): ("woman", "Ms.", "She")."""
    return ("woman", "Ms.", "She") if case.sex == "F" else ("man", "Mr.", "He")


def phi_block(d, case: Case, rng: random.Random, date_label: str) -> None:
    """Fake identifiers: 'Patient: Testperson, Alpha  MRN: FAKE-0001234 ...' (recorded as PHI spans)."""
    d.t("Patient: ")
    d.phi("name", f"{case.name[0]}, {case.name[1]}")
    d.t("    MRN: ")
    d.phi("mrn", case.mrn)
    d.t("    DOB: ")
    d.phi("date", f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/{2024 - case.age}")
    d.t(f"\n{date_label}: ")
    d.phi("date", date(rng))
    d.t("    Provider: ")
    d.phi("name", rng.choice(FAKE_DOCTORS))
    d.t("\n")


def site(d, case: Case, rng: random.Random, capital: bool = False) -> None:
    """'[left] [upper lobe]' (laterality + primary site); the side is omitted for unpaired organs."""
    if case.side:
        d.m("laterality", case.side.capitalize() if capital else case.side, case.side)
        d.t(" ")
        capital = False
    name = case.site.name
    d.m("primary_site", name.capitalize() if capital else name, name)


def cancer_name(d, case: Case, rng: random.Random, capital: bool = False) -> None:
    name = rng.choice(case.cancer.names)
    name = name[0].upper() + name[1:] if capital else name
    d.m("cancer_diagnosis", name, case.cancer.code)


def histology(d, case: Case, rng: random.Random, capital: bool = False) -> None:
    """Histology, sometimes as its unambiguous abbreviation ('IDC', 'HCC'), value always the full name."""
    surface = case.histology
    abbr = _HISTOLOGY_ABBR.get(surface)
    if abbr and rng.random() < 0.3:
        surface = abbr
    elif capital:
        surface = surface[0].upper() + surface[1:]
    d.m("histology", surface, case.histology)


def grade(d, case: Case, rng: random.Random) -> None:
    surface, value = grade_surface(rng, case.grade)
    d.m("grade", surface, value)


def tumor_size(d, case: Case, rng: random.Random) -> None:
    surface, value = size_surface(rng, case.size_cm)
    d.m("tumor_size", surface, value)


def stage(d, case: Case, rng: random.Random, prefix: str, with_m: bool = True, group: bool = True,
          tnm: bool = True) -> None:
    """TNM tokens then, optionally, the group: 'pT2aN1M0 (stage IIB)'. Nothing for unstaged types."""
    tnm = tnm and case.t is not None
    if tnm:
        for text, etype, value in stage_tokens(rng, case, prefix, with_m):
            d.m(etype, text, value) if etype else d.t(text)
    if group and case.stage_group:
        d.t(" (" if tnm else "")
        if case.cancer.gyn:
            d.m("stage_group", f"FIGO stage {case.stage_group}", f"Stage {case.stage_group}")
        else:
            d.t(rng.choice(("", "AJCC ")) if case.cancer.staged else "")  # lymphoma groups are Ann Arbor
            d.m("stage_group", f"{rng.choice(('stage', 'Stage'))} {case.stage_group}", f"Stage {case.stage_group}")
        d.t(")" if tnm else "")


def markers(d, case: Case, rng: random.Random) -> None:
    """Biomarkers on one line; breast receptors sometimes packed as 'ER+/PR-, HER2 3+'."""
    names = list(case.markers)
    compact = "ER" in names and "PR" in names and rng.random() < 0.5
    for i, mk in enumerate(names):
        if i:
            d.t("/" if compact and mk == "PR" else ", ")
        surface, value = marker_surface(rng, mk, case.markers[mk], compact=compact and mk in ("ER", "PR"))
        d.m("biomarker", surface, value)


def nodes(d, case: Case, rng: random.Random) -> None:
    """Regional nodes: involved (present) or 'No metastatic carcinoma in 14 ... lymph nodes' (negated)."""
    total = rng.randint(3, 24)
    if case.n:
        d.t(f"Metastatic carcinoma in {min(total, rng.randint(1, 3) * case.n)} of {total} ")
        d.m("metastasis_site", case.cancer.nodes, case.cancer.nodes)
        d.t(".\n")
    else:
        d.cue("No")
        d.t(f" metastatic carcinoma in {total} ")
        d.m("metastasis_site", case.cancer.nodes, case.cancer.nodes, "negated")
        d.t(f" (0/{total}).\n")


def _met_noun(d, key: str, assertion: str) -> None:
    d.m("metastasis_site", METASTASIS_SITES[key][0], key, assertion)


def present_mets(d, case: Case, rng: random.Random) -> None:
    """'Metastatic disease to the [liver] and [bone].'"""
    d.t(rng.choice(("Known metastatic disease to the ", "Metastatic disease involving the ")))
    for i, key in enumerate(case.mets):
        d.t(" and the " if i == len(case.mets) - 1 and i else (", the " if i else ""))
        _met_noun(d, key, "present")
    d.t(".\n")


def negated_mets(d, case: Case, rng: random.Random) -> None:
    """'No evidence of metastatic disease in the [liver].' for a site the case does not have."""
    free = [k for k in case.cancer.mets if k not in case.mets]
    if not free:
        return
    key = rng.choice(free)
    if rng.random() < 0.5:
        d.cue(rng.choice(("No evidence of", "No", "Absence of")))
        d.t(" metastatic disease in the ")
        _met_noun(d, key, "negated")
    else:
        d.cue(rng.choice(("No evidence of", "No")))
        d.t(" ")
        d.m("metastasis_site", METASTASIS_SITES[key][1], key, "negated")
        d.t(" metastases")
    d.t(".\n")


def possible_mets(d, case: Case, rng: random.Random) -> None:
    """Hedged: 'Findings suspicious for [hepatic] metastasis.' / '[pulmonary] metastasis cannot be excluded.'"""
    free = [k for k in case.cancer.mets if k not in case.mets]
    if not free:
        return
    key = rng.choice(free)
    adj = METASTASIS_SITES[key][1]
    style = rng.randrange(3)
    if style == 0:
        d.t("A small indeterminate lesion is seen; ")
        d.m("metastasis_site", adj, key, "possible")
        d.t(" metastasis ")
        d.cue("cannot be excluded")
    elif style == 1:
        d.t("Findings ")
        d.cue(rng.choice(("suspicious for", "concerning for")))
        d.t(" ")
        d.m("metastasis_site", adj, key, "possible")
        d.t(" metastasis")
    else:
        d.t("Will obtain imaging to ")
        d.cue(rng.choice(("r/o", "rule out")))
        d.t(" ")
        _met_noun(d, key, "possible")
        d.t(" involvement")
    d.t(".\n")


def history(d, case: Case, rng: random.Random) -> None:
    """Historical distractor: another cancer, sometimes with its own old stage, never a label."""
    if case.history is None:
        return
    name, code, tx_surface, tx_value, _ = case.history
    d.cue(rng.choice(("History of", "Remote history of")))
    d.t(" ")
    if rng.random() < 0.4:
        d.m("stage_group", "stage I", "Stage I", "historical")
        d.t(" ")
    d.m("cancer_diagnosis", name, code, "historical")
    if rng.random() < 0.35:
        d.t(" (")
        d.m("stage_t", "pT1a", "T1", "historical")
        d.t(" ")
        d.m("stage_n", "N0", "N0", "historical")
        d.t(")")
    d.t(", ")
    d.cue(rng.choice(("s/p", "status post")))
    d.t(" ")
    d.m("treatment", tx_surface, tx_value, "historical")
    d.t(f" in {rng.randint(1995, 2012)}.\n")


def family(d, case: Case, rng: random.Random) -> None:
    """Family distractors: 'Mother had [breast cancer] at age 52.'"""
    if not case.family:
        d.t("Noncontributory.\n")
        return
    for relative, name, code in case.family:
        d.cue(relative.capitalize())
        if rng.random() < 0.3:
            d.t(" was diagnosed with ")
            d.m("stage_group", "stage III", "Stage III", "family")
            d.t(" ")
        else:
            d.t(" had ")
        d.m("cancer_diagnosis", name, code, "family")
        d.t(f" at age {rng.randint(38, 82)}.\n")


def treatment(d, tx, rng: random.Random, assertion: str = "present") -> None:
    d.m("treatment", rng.choice(tx.surfaces), f"{tx.category}: {tx.agent}", assertion)


def response(d, case: Case, rng: random.Random) -> None:
    """Response by the type's criteria; the abbreviation 'PR' is resolved to 'partial response' by its context."""
    criteria = {"GBM": "RANO", "DLBC": "Lugano criteria"}.get(case.cancer.code, "RECIST 1.1")
    if rng.random() < 0.5:
        d.t(rng.choice(("Restaging shows ", "Findings are compatible with ")))
        d.m("outcome", case.response, f"response: {case.response}")
    else:
        abbr = case.response_abbr
        d.t("Best response: ")
        d.m("outcome", abbr, f"response: {expand(abbr, f'Best response: {abbr} per {criteria}')}")
    d.t(f" per {criteria}.\n")


def survival(d, case: Case, rng: random.Random) -> None:
    """'Current PFS 11.2 months on [osimertinib].' and sometimes 'Expected median OS 24 months ...'."""
    if case.current_tx:
        d.t("Current ")
        pfs = rng.choice((f"PFS {case.pfs:g} months", f"progression-free survival of {case.pfs:g} months"))
        d.m("outcome", pfs, f"PFS: {case.pfs:g} months")
        d.t(" on ")
        treatment(d, case.current_tx[0], rng)
        d.t(".\n")
    if rng.random() < 0.5:
        d.t("Expected median ")
        surface = rng.choice((f"OS {case.os_months} months", f"overall survival of {case.os_months} months"))
        d.m("outcome", surface, f"OS: {case.os_months} months")
        d.t(" was discussed with the patient.\n")


def diagnosis_phrase(d, case: Case, rng: random.Random) -> None:
    """'left breast cancer', 'prostate cancer' or 'NSCLC, primary in the right upper lobe'."""
    site_name = case.site.name
    names = case.cancer.names
    leading = [x for x in names if x.startswith(site_name)]
    if case.side and leading:
        d.m("laterality", case.side, case.side)
        d.t(" ")
        d.m("cancer_diagnosis", rng.choice(leading), case.cancer.code)
    elif any(site_name in x for x in names) and not case.side:
        cancer_name(d, case, rng)
    else:
        cancer_name(d, case, rng)
        d.t(", primary in the ")
        site(d, case, rng)


def pad(d, rng: random.Random, target: int, with_phi: bool) -> None:
    """Grow the note to about ``target`` characters with entity-free interval history, exam and labs."""
    d.t("\nINTERVAL HISTORY:\n")
    weeks = 3 * (target // 600)
    while len(d) < target:
        # Each visit paragraph mixes narrative and numbers, like a copied-forward note.
        d.t("Seen in clinic on ")
        if with_phi:
            d.phi("date", date(rng))
        else:
            d.t(f"week {weeks}")
            weeks = max(weeks - 3, 1)
        d.t(" for a scheduled visit. " + " ".join(rng.sample(FILLER["VISIT"], 3)) + " ")
        d.t(" ".join(rng.sample(FILLER["ROS"], 2)) + "\n")
        digits = {k: rng.randint(1, 9) for k in "abcdef"}
        d.t(rng.choice(FILLER["LABS"]).format(**digits) + "\n")
    d.t("\n")


_HISTOLOGY_ABBR = {"invasive ductal carcinoma": "IDC", "invasive lobular carcinoma": "ILC",
                   "hepatocellular carcinoma": "HCC", "clear cell renal cell carcinoma": "ccRCC",
                   "pancreatic ductal adenocarcinoma": "PDAC", "high-grade serous carcinoma": "HGSC"}
assert all(expand(a) == h for h, a in _HISTOLOGY_ABBR.items())  # the table and the generator agree
