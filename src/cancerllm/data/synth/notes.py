"""The five synthetic note kinds, each a top-to-bottom sequence of sections written into a ``Doc``.

``WRITERS[kind](doc, case, rng, long_note=..., with_phi=...)`` writes one note. Section headers vary in case and
punctuation as in real notes ("FINAL DIAGNOSIS:", "Assessment/Plan:"). Long notes get an interval-history block
in the middle, so the gold mentions of the assessment sit far from the start (tests chunking and truncation).

Example:
    >>> import random
    >>> from cancerllm.data.synth import Doc
    >>> from cancerllm.data.synth.case import make_case
    >>> d = Doc(); WRITERS["radiology"](d, make_case(random.Random(2), 1), random.Random(0), long_note=False,
    ...                                  with_phi=False)
    >>> d.render(random.Random(0), 0.0)[0].splitlines()[0].startswith(("EXAM", "CT", "MRI", "PET"))
    True
"""

from __future__ import annotations

import random

from cancerllm.data.synth import sections as s
from cancerllm.data.synth.case import Case
from cancerllm.data.synth.vocab import FILLER

__all__ = ["WRITERS"]


def _header(d, title: str, rng: random.Random) -> None:
    style = rng.randrange(3)
    d.t({0: f"{title.upper()}:\n", 1: f"{title.title()}:\n", 2: f"\n== {title.upper()} ==\n"}[style])


def _long_pad(d, case: Case, rng: random.Random, long_note: bool, with_phi: bool) -> None:
    if long_note:
        _header(d, "Review of systems", rng)
        d.t(" ".join(FILLER["ROS"]) + "\n")
        _header(d, "Physical examination", rng)
        d.t("\n".join(FILLER["EXAM"]) + "\n")
        s.pad(d, rng, rng.randint(8000, 16000), with_phi)


def _repeat(d, rng: random.Random, paragraph: str) -> None:
    """Entity-free boilerplate repeated to 8-16k characters (copied-forward text is common in real notes)."""
    target = rng.randint(8000, 16000)
    while len(d) < target:
        d.t(paragraph)
    d.t("\n")


def pathology(d, case: Case, rng: random.Random, *, long_note: bool, with_phi: bool) -> None:
    d.t(rng.choice(("SURGICAL PATHOLOGY REPORT", "Surgical Pathology Report", "PATHOLOGY REPORT")) + "\n")
    if with_phi:
        s.phi_block(d, case, rng, "Collected")
    noun, _, _ = s.person(case)
    d.t("\n")
    _header(d, "Clinical history", rng)
    d.t(f"{case.age}-year-old {noun} with a mass in the ")
    s.site(d, case, rng)
    d.t(".\n")
    if "PSA" in case.markers:
        surface, value = s.marker_surface(rng, "PSA", case.markers["PSA"])
        d.t("Preoperative ")
        d.m("biomarker", surface, value)
        d.t(".\n")
    surgery = next((tx for tx in case.past_tx if tx.category == "surgery"), None)
    _header(d, "Specimen", rng)
    s.site(d, case, rng, capital=True)
    d.t(", ")
    if surgery:
        s.treatment(d, surgery, rng)
    else:
        d.t("core needle biopsy")
    d.t("\n\n")
    _header(d, "Final diagnosis", rng)
    d.t("- ")
    s.histology(d, case, rng, capital=True)
    if case.grade:
        d.t(", ")
        s.grade(d, case, rng)
    d.t(".\n- Tumor size: " if surgery else ".\n- Tumor size (per imaging): ")
    s.tumor_size(d, case, rng)
    d.t(rng.choice((" in greatest dimension.\n", ".\n")))
    if surgery:
        d.t(f"- Margins: uninvolved; closest margin {rng.randint(2, 12)} mm.\n")
        if case.t is not None:
            d.t("- ")
            s.nodes(d, case, rng)
    if long_note:
        _header(d, "Gross description", rng)
        _repeat(d, rng, ("Received fresh, labeled with the patient's name and medical record number. The specimen "
                         "is inked and serially sectioned. Representative sections are submitted in cassettes A1 "
                         "through A12. "))
    if case.t is not None and case.m == 0 and surgery and rng.random() < 0.9:
        d.t("- Pathologic stage: ")
        s.stage(d, case, rng, rng.choice(("p", "p", "p", "yp")), with_m=rng.random() < 0.6)
        d.t(".\n")
    if case.markers and set(case.markers) != {"PSA"}:
        _header(d, rng.choice(("Ancillary studies", "Biomarkers")), rng)
        shown = {k: v for k, v in case.markers.items() if k not in ("PSA", "CEA", "CA-125")}
        if shown:
            sub = _subcase(case, shown)
            s.markers(d, sub, rng)
            d.t(".\n")
    d.t("\nElectronically signed" + (" by " if with_phi else ".\n"))
    if with_phi:
        d.phi("name", rng.choice(s.FAKE_DOCTORS))
        d.t(".\n")


def _subcase(case: Case, markers: dict) -> Case:
    """A shallow copy of the case showing only some biomarkers (the case itself is shared between notes)."""
    from dataclasses import replace

    return replace(case, markers=markers)


def _hpi(d, case: Case, rng: random.Random, with_phi: bool) -> None:
    noun, title, _ = s.person(case)
    if with_phi:
        d.t(f"{title} ")
        d.phi("name", case.name[0])
    else:
        d.t("The patient")
    d.t(f" is a {case.age}-year-old {noun} with ")
    s.diagnosis_phrase(d, case, rng)
    if case.t is not None or case.stage_group:
        d.t(", ")
        s.stage(d, case, rng, _prefix(case, rng), with_m=True, group=True)
    d.t(".\n")
    d.t("Biopsy showed ")
    s.histology(d, case, rng)
    if case.grade:
        d.t(", ")
        s.grade(d, case, rng)
    if case.markers:
        d.t("; ")
        s.markers(d, case, rng)
    d.t(".\n")
    if case.mets:
        s.present_mets(d, case, rng)


def _prefix(case: Case, rng: random.Random) -> str:
    # One prefix per note keeps a note's T/N/M statements consistent ("pT2" in the HPI and "pT2" in the plan).
    return rng.choice(("p", "c", ""))


def _oncologic_history(d, case: Case, rng: random.Random) -> None:
    for tx in case.past_tx:
        d.t("- ")
        if tx.category == "surgery":
            d.cue(rng.choice(("s/p", "Status post")))
            d.t(" ")
            s.treatment(d, tx, rng, "historical")
        else:
            d.cue("Completed")
            d.t(f" {rng.choice((4, 6, 8))} cycles of ")
            s.treatment(d, tx, rng, "historical")
        d.t(".\n")
    for tx in case.current_tx:
        d.t(rng.choice(("- Currently receiving ", "- Started ", "- On ")))
        s.treatment(d, tx, rng)
        d.t(".\n")


def progress(d, case: Case, rng: random.Random, *, long_note: bool, with_phi: bool) -> None:
    d.t(rng.choice(("ONCOLOGY PROGRESS NOTE", "Hematology/Oncology Clinic Follow-up", "MEDICAL ONCOLOGY VISIT")) + "\n")
    if with_phi:
        s.phi_block(d, case, rng, "Date of service")
    d.t("\n")
    _header(d, "History of present illness", rng)
    _hpi(d, case, rng, with_phi)
    d.t("\n")
    _header(d, "Oncologic history", rng)
    _oncologic_history(d, case, rng)
    d.t("\n")
    _header(d, "Past medical history", rng)
    s.history(d, case, rng)
    d.t("Hypertension. Hyperlipidemia.\n\n")
    _header(d, "Family history", rng)
    s.family(d, case, rng)
    d.t("\n")
    _header(d, "Social history", rng)
    d.t(" ".join(rng.sample(FILLER["SOCIAL"], 2)) + "\n\n")
    _long_pad(d, case, rng, long_note, with_phi)
    tumor_markers = [k for k in ("PSA", "CEA", "CA-125") if k in case.markers]
    if tumor_markers:
        _header(d, "Labs", rng)
        surface, value = s.marker_surface(rng, tumor_markers[0], case.markers[tumor_markers[0]])
        d.m("biomarker", surface, value)
        d.t(".\n\n")
    _header(d, "Imaging", rng)
    s.response(d, case, rng) if case.current_tx else d.t("Surveillance imaging is stable.\n")
    s.negated_mets(d, case, rng)
    d.t("\n")
    _header(d, rng.choice(("Assessment and plan", "Assessment/Plan", "Impression and plan")), rng)
    d.t("1. ")
    if case.stage_group and rng.random() < 0.5:
        s.stage(d, case, rng, "", group=True, tnm=False)
        d.t(" ")
        s.cancer_name(d, case, rng)
    else:
        s.cancer_name(d, case, rng, capital=True)
    d.t(". " + rng.choice(("Continue current therapy.", "Tolerating treatment.", "Plan reviewed.")) + "\n")
    s.survival(d, case, rng)
    if rng.random() < 0.5:
        d.t("2. ")
        s.possible_mets(d, case, rng)
    d.t("Return to clinic in 3 weeks.\n")


def discharge(d, case: Case, rng: random.Random, *, long_note: bool, with_phi: bool) -> None:
    d.t("DISCHARGE SUMMARY\n")
    if with_phi:
        s.phi_block(d, case, rng, "Admission date")
    d.t("\n")
    surgery = next((tx for tx in case.past_tx if tx.category == "surgery"), None)
    _header(d, "Principal diagnosis", rng)
    s.histology(d, case, rng, capital=True)
    d.t(" of the ")
    s.site(d, case, rng)
    d.t(".\n\n")
    _header(d, "Secondary diagnoses", rng)
    s.history(d, case, rng)
    d.t("Hypertension. Type 2 diabetes mellitus.\n\n")
    _header(d, "Hospital course", rng)
    noun, _, pronoun = s.person(case)
    if surgery:
        d.t(f"The patient is a {case.age}-year-old {noun} admitted for elective ")
        s.treatment(d, surgery, rng)
        d.t(f". {pronoun} tolerated the procedure well. Final pathology showed ")
        s.tumor_size(d, case, rng)
        d.t(" ")
        s.histology(d, case, rng)
        if case.t is not None:
            d.t(", ")
            s.stage(d, case, rng, "p", with_m=False, group=False)
        d.t(".\n")
    else:
        d.t(f"The patient is a {case.age}-year-old {noun} with ")
        s.cancer_name(d, case, rng)
        d.t(" admitted with febrile neutropenia after cycle 2 of ")
        if case.current_tx:
            s.treatment(d, case.current_tx[0], rng)
        else:
            d.t("chemotherapy")
        d.t(". Treated with intravenous antibiotics with resolution of fever.\n")
        if case.mets:
            s.present_mets(d, case, rng)
    _long_pad(d, case, rng, long_note, with_phi)
    _header(d, "Discharge medications", rng)
    d.t("\n".join(f"- {x}" for x in rng.sample(FILLER["MEDS"], 4)) + "\n")
    hormonal = [tx for tx in case.current_tx if tx.category == "hormonal"]
    if hormonal:
        d.t("- ")
        s.treatment(d, hormonal[0], rng)
        d.t(" as directed\n")
    d.t("\n")
    _header(d, "Follow-up", rng)
    d.t("Medical oncology clinic in 1-2 weeks")
    if with_phi:
        d.t(" on ")
        d.phi("date", s.date(rng))
    d.t(" to review pathology and adjuvant options.\n")


def radiology(d, case: Case, rng: random.Random, *, long_note: bool, with_phi: bool) -> None:
    exam = {"GBM": "MRI BRAIN WITH AND WITHOUT CONTRAST", "DLBC": "PET/CT SKULL BASE TO MID-THIGH"}.get(
        case.cancer.code, "CT CHEST, ABDOMEN AND PELVIS WITH CONTRAST")
    d.t(f"EXAM: {exam}\n")
    if with_phi:
        s.phi_block(d, case, rng, "Exam date")
    d.t("\nINDICATION: ")
    s.cancer_name(d, case, rng)
    if case.current_tx:
        d.t(", restaging on ")
        s.treatment(d, case.current_tx[0], rng)
    d.t(".\n\n")
    _header(d, "Findings", rng)
    d.t(rng.choice(("There is a ", "Redemonstrated ")))
    s.tumor_size(d, case, rng)
    d.t(" mass in the ")
    s.site(d, case, rng)
    d.t(".\n")
    if case.t is not None:
        if case.n:
            d.t("Enlarged ")
            d.m("metastasis_site", case.cancer.nodes, case.cancer.nodes)
            d.t(" are again seen.\n")
        else:
            d.cue("No")
            d.t(" enlarged ")
            d.m("metastasis_site", case.cancer.nodes, case.cancer.nodes, "negated")
            d.t(".\n")
    if case.mets:
        s.present_mets(d, case, rng)
    s.negated_mets(d, case, rng)
    if rng.random() < 0.6:
        s.possible_mets(d, case, rng)
    if long_note:
        _repeat(d, rng, ("Visualized osseous structures show degenerative change. The gallbladder is unremarkable. "
                         "Kidneys enhance symmetrically. Small hiatal hernia. Atherosclerotic calcification of the "
                         "aorta. "))
    d.t("\n")
    _header(d, "Impression", rng)
    if case.current_tx:
        s.response(d, case, rng)
    elif rng.random() < 0.5:
        # No therapy on board: a post-treatment change may be recurrence, a hedged (possible) diagnosis.
        d.t("Soft tissue thickening at the treatment site is ")
        d.cue(rng.choice(("concerning for", "suspicious for")))
        d.t(" recurrent ")
        d.m("cancer_diagnosis", case.cancer.names[0], case.cancer.code, "possible")
        d.t(".\n")
    else:
        d.t("Findings as above.\n")


def trial(d, case: Case, rng: random.Random, *, long_note: bool, with_phi: bool) -> None:
    d.t("CLINICAL TRIAL ELIGIBILITY SCREENING\n")
    d.t(f"Protocol: FAKE-TRIAL-{rng.randint(100, 999)}, a randomized phase {rng.choice(('II', 'III'))} study.\n")
    if with_phi:
        s.phi_block(d, case, rng, "Screening date")
    d.t("\n")
    _header(d, "Diagnosis", rng)
    s.histology(d, case, rng, capital=True)
    d.t(" of the ")
    s.site(d, case, rng)
    if case.t is not None or case.stage_group:
        d.t(", ")
        s.stage(d, case, rng, rng.choice(("c", "")), with_m=True, group=True)
    d.t(".\n")
    if case.markers:
        d.t("Molecular profile: ")
        s.markers(d, case, rng)
        d.t(".\n")
    if case.mets:
        s.present_mets(d, case, rng)
    if case.past_tx:
        d.t("\nPrior therapy:\n")
        _oncologic_history(d, _subcase_tx(case), rng)
    d.t("\nInclusion criteria:\n[x] Measurable disease per RECIST 1.1.\n[x] ECOG performance status 0-1.\n")
    d.t("[x] Adequate organ function.\n\nExclusion criteria reviewed:\n")
    if not any(tx.category == "immunotherapy" for tx in case.past_tx + case.current_tx):
        d.t("- ")
        d.cue("No")
        d.t(" prior ")
        d.m("treatment", "immunotherapy", "immunotherapy", "negated")
        d.t(".\n")
    if "brain" not in case.mets:
        d.t("- ")
        d.cue("No")
        d.t(" known active ")
        d.m("metastasis_site", "brain", "brain", "negated")
        d.t(" metastases.\n")
    _long_pad(d, case, rng, long_note, with_phi)
    d.t("\nStatistical note: the reference ")
    orr = rng.choice((30, 35, 40, 45))
    d.m("outcome", f"ORR {orr}%", f"ORR: {orr}%")
    d.t(" with standard therapy.\nDetermination: " + rng.choice(("eligible", "eligible pending labs")) + ".\n")


def _subcase_tx(case: Case) -> Case:
    """Trial screening lists prior therapy only; current treatment is not yet relevant there."""
    from dataclasses import replace

    return replace(case, current_tx=[])


WRITERS = {"pathology": pathology, "progress": progress, "discharge": discharge, "radiology": radiology,
           "trial": trial}
