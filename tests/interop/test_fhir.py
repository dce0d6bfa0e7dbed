"""FHIR Bundles: assertion handling, inferred labels, offsets, no note text by default, round-trip validation."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from cancerllm.data.schema import Diagnosis
from cancerllm.interop import codes as C
from cancerllm.interop.fhir import note_bundle, roundtrip
from cancerllm.interop.records import ExportRecord, LabelSource
from cancerllm.knowledge.icd import TCGA_PROJECTS, describe
from tests.interop._shared import NOTE, SENTINEL, dumps, ext, mention, note_mentions, resources, sub


def _record(mentions=None, **kw) -> ExportRecord:
    return ExportRecord(id="n1", text=NOTE, kind="pathology", mentions=mentions or note_mentions(), **kw)


def _codes(resource) -> list[str]:
    return [c.code for c in resource.code.coding or []] + [resource.code.text]


def _by_code(bundle, code: str) -> list:
    return [r for r in resources(bundle, "Observation") if code in _codes(r)]


def test_fhir_negated_marker_is_not_a_positive_observation():
    b = note_bundle(_record())
    markers = [r for r in resources(b, "Observation") if r.meta.profile == [C.PROFILES["biomarker"]]]
    her2 = C.BIOMARKER_LOINC["HER2"][0]
    # "Negative for HER2 amplification" (negated) is left out: no HER2 Observation at all, positive or not
    assert _by_code(b, her2) == []
    assert sorted(r.code.text for r in markers) == ["ER", "PR", "PSA"]
    (er,) = _by_code(b, C.BIOMARKER_LOINC["ER"][0])
    (pr,) = _by_code(b, C.BIOMARKER_LOINC["PR"][0])
    (psa,) = _by_code(b, C.BIOMARKER_LOINC["PSA"][0])
    assert er.valueCodeableConcept.coding[0].code == C.RESULT_LOINC["positive"][0]
    assert pr.valueCodeableConcept.coding[0].code == C.RESULT_LOINC["negative"][0]  # a present negative *result*
    assert float(psa.valueQuantity.value) == 8.4 and psa.valueQuantity.code == "ng/mL"
    # family mentions (mother's breast cancer, her pT1) are not the patient's: no T1 Observation
    assert [r.valueCodeableConcept.text for r in _by_code(b, "21899-0")] == ["T2"]
    for r in resources(b, "Observation"):
        assert [e.valueCode for e in ext(r, C.ASSERTION_EXT)] == ["present"]


def test_fhir_inferred_label_carries_marker_and_probability_and_no_offsets():
    # classify's shape: T quoted (evidence span), N inferred with its probability; no extractor mentions
    t = mention(NOTE, "pT2", "stage_t", value="T2")
    rec = ExportRecord(id="n1", text=NOTE, mentions=[t], labels={"t_stage": "T2", "n_stage": "N1", "m_stage": "M0"},
                       sources={"t_stage": LabelSource("evidence", None, t.start, t.end),
                                "n_stage": LabelSource("inferred", 0.64), "m_stage": LabelSource("inferred", 0.9)},
                       systems=["cancerllm.classify.v1"])
    b = note_bundle(rec)
    (n,) = _by_code(b, "21900-6")
    assert n.valueCodeableConcept.text == "N1"
    (inferred,) = ext(n, C.INFERRED_EXT)
    assert float(sub(inferred, "probability")) == 0.64 and sub(inferred, "source") == "cancerllm.classify.v1"
    assert ext(n, C.SPAN_EXT) == []  # nothing quoted, so no offsets
    (tt,) = _by_code(b, "21899-0")
    assert ext(tt, C.INFERRED_EXT) == [] and [(sub(e, "start"), sub(e, "end")) for e in ext(tt, C.SPAN_EXT)] == [
        (t.start, t.end)]


def test_fhir_quoted_present_value_wins_over_an_inferred_label():
    rec = _record(labels={"t_stage": "T3"}, sources={"t_stage": LabelSource("inferred", 0.55)})
    b = note_bundle(rec)
    assert [r.valueCodeableConcept.text for r in _by_code(b, "21899-0")] == ["T2"]


def test_fhir_note_with_nothing_found_gives_only_the_document_reference():
    b = note_bundle(ExportRecord(id="empty-1", text=NOTE))
    (doc,) = resources(b)
    assert doc.get_resource_type() == "DocumentReference"
    assert doc.identifier[0].value == "empty-1" and doc.subject is None
    assert doc.masterIdentifier.value == hashlib.sha256(NOTE.encode()).hexdigest()
    attachment = json.loads(b.model_dump_json())["entry"][0]["resource"]["content"][0]["attachment"]
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(NOTE.encode()).digest()).decode()  # R4: SHA-1
    assert attachment["size"] == len(NOTE.encode()) and "data" not in attachment
    assert Bundle.model_validate(json.loads(b.model_dump_json())) == b


def test_fhir_offsets_slice_the_note_to_the_mention_text():
    rec = _record()
    b = note_bundle(rec)
    quoted = {(m.start, m.end): m for m in rec.mentions}
    spans = [e for r in resources(b) for e in ext(r, C.SPAN_EXT)]
    assert len(spans) >= 9  # histology, side, site (Condition), ER, PR, PSA, T, N, stage group
    for e in spans:
        s, end, etype = sub(e, "start"), sub(e, "end"), sub(e, "type")
        assert NOTE[s:end] == quoted[(s, end)].text and quoted[(s, end)].type == etype
        assert quoted[(s, end)].assertion == "present"  # negated/family spans never back a resource


def test_fhir_no_note_text_unless_include_text():
    rec = _record()
    plain = dumps(note_bundle(rec))
    assert SENTINEL not in plain and NOTE not in plain and "Negative for HER2" not in plain
    assert base64.b64encode(NOTE.encode()).decode() not in plain
    with_text = json.loads(note_bundle(rec, include_text=True).model_dump_json())
    attachment = with_text["entry"][0]["resource"]["content"][0]["attachment"]
    assert base64.b64decode(attachment["data"]).decode() == NOTE


def test_fhir_condition_maps_diagnosis_site_side_and_histology():
    rec = _record(diagnosis=Diagnosis(text="breast cancer", icd10="C50912", cancer_type="BRCA"),
                  mentions=note_mentions() + [mention(NOTE, "ductal carcinoma", "cancer_diagnosis", value="BRCA")])
    b = note_bundle(rec)
    (cond,) = resources(b, "Condition")
    assert cond.meta.profile == [C.PROFILES["condition"]]
    assert (cond.code.coding[0].system, cond.code.coding[0].code) == (C.ICD10CM, "C50.912")
    assert cond.verificationStatus.coding[0].code == "confirmed" and ext(cond, C.INFERRED_EXT) == []
    (side,) = cond.bodySite[0].extension
    assert cond.bodySite[0].text == "breast" and side.valueCodeableConcept.coding[0].code == "7771000"
    (hist,) = ext(cond, C.HISTOLOGY_EXT)
    assert hist.valueCodeableConcept.text == "invasive ductal carcinoma"
    (doc,) = resources(b, "DocumentReference")
    assert cond.evidence[0].detail[0].reference == f"urn:uuid:{doc.id}"
    for obs in resources(b, "Observation"):  # every finding points to its source note and the cancer
        assert obs.derivedFrom[0].reference == f"urn:uuid:{doc.id}"
        assert obs.focus[0].reference == f"urn:uuid:{cond.id}"


def test_fhir_inferred_cancer_type_uses_the_packaged_icd_table():
    rec = ExportRecord(id="n2", labels={"cancer_type": "LUAD"}, sources={"cancer_type": LabelSource("inferred", 0.8)},
                       systems=["cancerllm.classify.v1"])
    (cond,) = resources(note_bundle(rec), "Condition")
    assert cond.code.coding[0].code == TCGA_PROJECTS["LUAD"].icd10 == "C34.90"
    assert cond.code.coding[0].display == describe("C34.90")
    assert cond.verificationStatus.coding[0].code == "unconfirmed"
    assert float(sub(ext(cond, C.INFERRED_EXT)[0], "probability")) == 0.8 and ext(cond, C.SPAN_EXT) == []


@pytest.mark.parametrize("rec", [
    ExportRecord(id="a"), ExportRecord(id="b", text=NOTE, mentions=note_mentions()),
    ExportRecord(id="c", text="cT3 N1", mentions=[mention("cT3 N1", "cT3", "stage_t", value="T3")]),
    ExportRecord(id="d", labels={"cancer_type": "nonsense"}, sources={"cancer_type": LabelSource("inferred")}),
])
def test_fhir_every_bundle_round_trips(rec):
    b = note_bundle(rec, include_text=rec.text is not None)
    data = json.loads(b.model_dump_json())
    back = Bundle.model_validate(data)
    assert back == b and json.loads(back.model_dump_json()) == data
    assert roundtrip(b) == b
    assert len({e.fullUrl for e in b.entry}) == len(b.entry)
    refs = {r["reference"] for r in _references(data)}
    assert refs <= {e.fullUrl for e in b.entry}  # every reference resolves inside the Bundle


def test_fhir_clinical_prefix_picks_the_clinical_loinc_code():
    rec = ExportRecord(id="c", text="cT3 N1", mentions=[mention("cT3 N1", "cT3", "stage_t", value="T3")])
    (obs,) = resources(note_bundle(rec), "Observation")
    assert obs.code.coding[0].code == "21905-5"


def test_fhir_same_note_exports_the_same_ids():
    a, b = note_bundle(_record()), note_bundle(_record())
    assert [e.fullUrl for e in a.entry] == [e.fullUrl for e in b.entry]


def _references(obj):
    if isinstance(obj, dict):
        if "reference" in obj:
            yield obj
        for v in obj.values():
            yield from _references(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _references(v)
