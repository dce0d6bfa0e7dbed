"""GET /fhir/{id} and POST /fhir through a real server (uvicorn, the tiny model, httpx)."""

from __future__ import annotations

import base64
import hashlib
import logging

import httpx
from fhir.resources.R4B.bundle import Bundle

from cancerllm.interop import codes as C
from tests.interop._shared import NOTE, SENTINEL, note_mentions


def test_routes_get_fhir_returns_the_bundle_of_an_extracted_note(fhir_server, caplog):
    with caplog.at_level(logging.DEBUG):
        r = httpx.post(f"{fhir_server}/extract", json={"notes": [{"id": "fx-1", "text": NOTE}], "types": ["stage_t"]},
                       timeout=120)
        assert r.status_code == 200, r.text
        got = httpx.get(f"{fhir_server}/fhir/fx-1", timeout=30)
    assert got.status_code == 200 and got.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate(got.json())  # the served JSON validates as a FHIR Bundle
    doc = bundle.entry[0].resource
    assert doc.get_resource_type() == "DocumentReference" and doc.identifier[0].value == "fx-1"
    assert doc.masterIdentifier.value == hashlib.sha256(NOTE.encode()).hexdigest()
    assert SENTINEL not in got.text and "data" not in got.json()["entry"][0]["resource"]["content"][0]["attachment"]
    # whatever the tiny model found, every Observation points to this note's DocumentReference
    for e in bundle.entry[1:]:
        if e.resource.get_resource_type() == "Observation":
            assert e.resource.derivedFrom[0].reference == f"urn:uuid:{doc.id}"
    assert SENTINEL not in caplog.text


def test_routes_get_fhir_unknown_id_is_404(fhir_server):
    r = httpx.get(f"{fhir_server}/fhir/never-seen", timeout=30)
    assert r.status_code == 404 and "POST the note to /extract first" in r.json()["detail"]


def test_routes_post_fhir_maps_a_prediction_and_checks_its_spans(fhir_server):
    pred = {"id": "p1", "task": "phenotype", "mentions": [m.model_dump() for m in note_mentions()]}
    r = httpx.post(f"{fhir_server}/fhir", json={"prediction": pred, "text": NOTE}, timeout=30)
    assert r.status_code == 200, r.text
    bundle = Bundle.model_validate(r.json())
    codes = [c.code for e in bundle.entry if e.resource.get_resource_type() == "Observation"
             for c in e.resource.code.coding or []]
    assert C.BIOMARKER_LOINC["ER"][0] in codes and C.BIOMARKER_LOINC["HER2"][0] not in codes  # HER2 was negated
    assert SENTINEL not in r.text
    with_text = httpx.post(f"{fhir_server}/fhir", json={"prediction": pred, "text": NOTE, "include_text": True},
                           timeout=30).json()
    assert base64.b64decode(with_text["entry"][0]["resource"]["content"][0]["attachment"]["data"]).decode() == NOTE
    # a span that does not fit the text: 422 naming the document and field, without quoting the note
    other = NOTE.replace("ER positive", "ER weakly+")
    bad = httpx.post(f"{fhir_server}/fhir", json={"prediction": pred, "text": other}, timeout=30)
    assert bad.status_code == 422 and "mentions.3" in bad.json()["detail"] and SENTINEL not in bad.text
