"""Grounding, repair and voting on realistic model outputs (pure functions, no model)."""

from __future__ import annotations

from cancerllm.data.prompts import get_style
from cancerllm.infer.postprocess import cancer_type_of, check_diagnosis, ground_mentions, merge_mentions, vote_diagnosis

NOTE = "FINAL DIAGNOSIS: Infiltrating ductal carcinoma. pT2 pN1a. Negative for metastasis. ER positive."


def test_postprocess_grounds_copied_text_with_case_and_spacing_drift():
    parsed, errs = get_style("json.v1").parse_phenotype(
        '{"mentions":[{"type":"stage_t","text":"PT2"},{"type":"stage_n","text":"pN1a","value":"N1"},'
        '{"type":"histology","text":"infiltrating  ductal carcinoma"},{"type":"biomarker","text":"HER2 3+"}]}')
    assert errs == []
    ms, gerrs = ground_mentions(NOTE, 0, parsed)
    assert [m.type for m in ms] == ["stage_t", "stage_n", "histology"]
    for m in ms:
        assert NOTE[m.start:m.end] == m.text
    assert ms[0].value == "T2" and ms[1].value == "N1"
    assert gerrs == ["biomarker mention text not found in the note (7 chars); dropped"]


def test_postprocess_offsets_shift_to_note_coordinates():
    chunk_start = 100
    ms, _ = ground_mentions("pT3 N0", chunk_start, [{"type": "stage_t", "text": "pT3", "value": None,
                                                     "assertion": "present"}])
    assert (ms[0].start, ms[0].end) == (100, 103)


def test_postprocess_truncated_json_is_repaired_and_reported():
    out = '{"mentions":[{"type":"stage_t","text":"pT2","value":"T2"},{"type":"stage_n","te'
    parsed, errs = get_style("json.v1").parse_phenotype(out)
    assert [p["type"] for p in parsed] == ["stage_t"]
    assert "recovered 1 complete mention object" in errs[0]


def test_postprocess_unknown_type_and_assertion_are_reported():
    parsed, errs = get_style("json.v1").parse_phenotype(
        '{"mentions":[{"type":"size","text":"2 cm"},{"type":"stage_m","text":"M0","assertion":"maybe"}]}')
    assert [p["type"] for p in parsed] == ["stage_m"] and parsed[0]["assertion"] == "present"
    assert len(errs) == 2 and "'size'" in errs[0] and "'maybe'" in errs[1]


def test_postprocess_merge_drops_overlap_duplicates():
    ms, _ = ground_mentions(NOTE, 0, [{"type": "stage_t", "text": "pT2", "value": None, "assertion": "present"}])
    assert len(merge_mentions(ms + ms)) == 1


def test_postprocess_icd_repair_and_rejection():
    dx, errs = check_diagnosis("breast invasive carcinoma", "C50.919x")
    assert dx.icd10 == "C50.919" and "repaired to C50.919" in errs[0]
    assert dx.cancer_type == "BRCA"
    dx, errs = check_diagnosis("lung adenocarcinoma", "LUNG")
    assert dx.icd10 is None and "no valid ancestor" in errs[0]
    dx, errs = check_diagnosis("lung adenocarcinoma", "C34.11")
    assert dx.icd10 == "C34.11" and errs == [] and dx.cancer_type == "LUAD"


def test_postprocess_vote_prefers_majority_then_earliest():
    assert vote_diagnosis([("a", "C1"), ("b", "C2"), ("b", "C3")]) == ("b", "C2")
    assert vote_diagnosis([("a", "C1"), ("b", "C2")]) == ("a", "C1")
    assert vote_diagnosis([(None, None)]) == (None, None)
    assert cancer_type_of("something unrelated") is None


def test_postprocess_stage_text_must_name_a_category():
    note = "Tumor A, block B: pTla pNO MX. Stage T noted."
    parsed = [{"type": "stage_t", "text": t, "value": None, "assertion": "present"} for t in ("A", "pTla", "Stage T")]
    parsed.append({"type": "stage_n", "text": "pNO", "value": None, "assertion": "present"})
    ms, errs = ground_mentions(note, 0, parsed)
    assert [m.text for m in ms] == ["pTla", "pNO"]
    assert [m.value for m in ms] == ["T1", "N0"]  # OCR digits read as digits
    assert len(errs) == 2 and all("is not a T category" in e for e in errs)


def _stage(etype: str, text: str) -> dict:
    return {"type": etype, "text": text, "value": None, "assertion": "present"}


def test_postprocess_stage_value_comes_from_the_guarded_token():
    # The guard accepted "pT2"/"pN1" but the value used to be read from "t 3" / "n 2" elsewhere in the quote.
    note = "Mass at 3 o'clock, pT2. Metastatic carcinoma in 2 of 14 nodes (pN1)."
    ms, errs = ground_mentions(note, 0, [_stage("stage_t", "at 3 o'clock, pT2"),
                                         _stage("stage_n", "in 2 of 14 nodes (pN1)")])
    assert errs == [] and [(m.type, m.value) for m in ms] == [("stage_t", "T2"), ("stage_n", "N1")]


def test_postprocess_no_inside_not_is_not_a_stage_n():
    note = "Tumor NOT identified at margins. STAGE: pT2 NO MX."
    ms, errs = ground_mentions(note, 0, [_stage("stage_n", "NO")])
    assert [(note[m.start:m.end], m.start, m.value) for m in ms] == [("NO", note.index("NO MX"), "N0")]
    ms, errs = ground_mentions(note, 0, [_stage("stage_n", "NOT")])
    assert ms == [] and errs == ["stage_n text is not a N category (3 chars); dropped"]


def test_postprocess_out_of_order_mention_is_grounded_nearby_not_on_a_later_repeat():
    note = "Grade 2. pT2 pN0. " + "Filler text. " * 10 + "Summary: pT2 pN0."
    ms, _ = ground_mentions(note, 0, [{"type": "grade", "text": "Grade 2", "value": None, "assertion": "present"},
                                      _stage("stage_n", "pN0"), _stage("stage_t", "pT2")])
    assert [(m.text, m.start) for m in ms] == [("Grade 2", 0), ("pN0", 13), ("pT2", 9)]


def test_postprocess_diagnosis_copied_from_a_retrieved_example_is_reported():
    # A retrieved example (another patient) shows its diagnosis; the model copies it for a colon report.
    style = get_style("json.v1")
    example_answer = style.diagnosis_target("lung adenocarcinoma", "C34.90")
    parsed, perr = style.parse_diagnosis(example_answer)
    note = "Sigmoid colon, resection: adenocarcinoma, moderately differentiated, pT3 pN0."
    dx, errs = check_diagnosis(parsed["text"], parsed["icd10"], note=note)
    assert perr == [] and dx.text == "lung adenocarcinoma"
    assert errs == [("diagnosis text not grounded: none of its 1 key term(s) occurs in the note "
                     "(copied from a retrieved example?)")]
    # The same statement about a lung report is grounded (the site written as "lobectomy" counts too).
    _, errs = check_diagnosis("lung adenocarcinoma", "C34.90", note="Right upper lobectomy: adenocarcinoma.")
    assert errs == []
    _, errs = check_diagnosis("colon adenocarcinoma", "C18.7", note=note)
    assert errs == []
