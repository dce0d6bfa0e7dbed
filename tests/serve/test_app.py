"""serve: real HTTP requests (httpx) against a real uvicorn server running the tiny model."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

from cancerllm.data.schema import Note
from cancerllm.knowledge.phenotypes import ASSERTIONS, ENTITY_TYPES
from cancerllm.serve.app import predict_isolated

GOOD = "Invasive ductal carcinoma of the left breast, pT2 N0 M0. SENTINEL-PHI-7731"


def test_app_health_reports_the_loaded_model(server_url, tiny_model_dir):
    h = httpx.get(f"{server_url}/health", timeout=30).json()
    assert h["status"] == "ok" and h["model"]["name"] == tiny_model_dir.name
    assert h["model"]["dtype"] == "float32" and h["prompt_style"] == "json.v1"
    assert h["types"] == list(ENTITY_TYPES)


def test_app_schema_lists_types_and_assertions(server_url):
    s = httpx.get(f"{server_url}/schema", timeout=30).json()
    assert [t["name"] for t in s["entity_types"]] == list(ENTITY_TYPES)
    assert s["assertions"] == list(ASSERTIONS) and s["tasks"] == ["phenotype", "diagnosis"]


def test_app_extract_one_record_per_note_empty_note_reported(server_url, caplog):
    body = {"notes": [{"id": "good", "text": GOOD}, {"id": "empty", "text": "   "}], "types": ["stage_t"]}
    with caplog.at_level(logging.DEBUG):
        r = httpx.post(f"{server_url}/extract", json=body, timeout=120)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["task"] == "phenotype" and [p["id"] for p in out["predictions"]] == ["good", "empty"]
    good, empty = out["predictions"]
    assert len(good["raw"]) == 1  # the model ran once on the good note (one type asked, json.v1 style)
    assert good["coverage"]["chars_total"] == len(GOOD)
    assert empty["errors"] and "empty note" in empty["errors"][0] and not empty["raw"]
    assert out["generation"]["prompts"] == 1  # the empty note never reached the model
    # the server logged the request (counts only) and never the note text
    assert "POST /extract: 2 note(s)" in caplog.text and "SENTINEL-PHI" not in caplog.text


def test_app_diagnose_returns_diagnosis_records(server_url):
    r = httpx.post(f"{server_url}/diagnose", json={"notes": [{"id": "d1", "text": GOOD}]}, timeout=120)
    assert r.status_code == 200
    (p,) = r.json()["predictions"]
    assert p["id"] == "d1" and p["task"] == "diagnosis" and len(p["raw"]) == 1


@pytest.mark.parametrize("body, field", [
    ({"notes": [{"id": "a"}]}, "notes.0.text"),
    ({"notes": []}, "notes"),
    ({"notes": [{"id": "a", "text": "x", "mrn": "SENTINEL-PHI-7731"}]}, "notes.0.mrn"),
    ({"notes": [{"id": "a", "text": "SENTINEL-PHI-7731"}], "types": ["size"]}, "types"),
    ({"note": "SENTINEL-PHI-7731"}, "notes"),
])
def test_app_bad_body_is_422_naming_the_field(server_url, body, field):
    r = httpx.post(f"{server_url}/extract", json=body, timeout=30)
    assert r.status_code == 422
    fields = [d["field"] for d in r.json()["detail"]]
    assert field in fields
    assert "SENTINEL-PHI" not in r.text  # the rejected value is not echoed back


def test_app_not_json_is_422(server_url):
    r = httpx.post(f"{server_url}/extract", content=b"{not json", headers={"content-type": "application/json"},
                   timeout=30)
    assert r.status_code == 422 and r.json()["detail"]


def test_app_review_page_is_self_contained(server_url):
    r = httpx.get(f"{server_url}/", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "Array.from" in html and "Download reviewed JSON" in html
    for needle in ("http://", "https://", "<link", "src="):  # no CDN, no external script/style/font
        assert needle not in html, needle
    # every schema type has its own colour in the page's palette
    palette = html.split("const HUES = {")[1].split("};")[0]
    assert {name.strip() for name in re.findall(r"(\w+):", palette)} == set(ENTITY_TYPES)


def test_predict_isolated_retries_note_by_note(tiny_model, tiny_tokenizer):
    from cancerllm.config import GenerateArgs
    from cancerllm.infer.predictor import Predictor

    class Fragile(Predictor):  # a real predictor whose batched call fails when a poisoned note is in the batch
        def predict(self, notes, task="phenotype", progress=False):
            if any("POISON" in n.text for n in notes):
                raise MemoryError("simulated out-of-memory on this note")
            return super().predict(notes, task, progress)

    pred = Fragile(tiny_model, tiny_tokenizer, types=["stage_t"], gen=GenerateArgs(max_new_tokens=4))
    notes = [Note(id="a", text="pT2 N0."), Note(id="b", text="POISON pT3"), Note(id="c", text="")]
    out = predict_isolated(pred, notes, "phenotype")
    assert [p.id for p in out] == ["a", "b", "c"]
    assert out[0].raw and not any("model call failed" in e for e in out[0].errors)
    assert out[1].errors == ["model call failed: MemoryError: simulated out-of-memory on this note"]
    assert "empty note" in out[2].errors[0]


def test_app_cli_serve_verb_is_registered():
    from typer.testing import CliRunner

    from cancerllm.cli import app

    res = CliRunner().invoke(app, ["serve", "--help"])
    assert res.exit_code == 0 and "--run" in res.output and "--port" in res.output
    res = CliRunner().invoke(app, ["serve", "port=70000"])  # config problems exit 2 before any model load
    assert res.exit_code == 2 and "port: got 70000" in res.output


def test_app_without_a_trained_run_serves_grounded_rule_extraction(tmp_path, monkeypatch, running_server):
    """`cancerllm serve` on a fresh install (no run, the embedded base model) answers with grounded mentions."""
    monkeypatch.setenv("CANCERLLM_CACHE", str(tmp_path))  # a fresh install: no `make model` labeller either
    with running_server(None) as (url, _cfg):
        text = "Left breast: invasive lobular carcinoma, 1.4 cm, pT1c pN0. ER positive. No lymphovascular invasion."
        r = httpx.post(f"{url}/extract", json={"notes": [{"id": "a", "text": text}]}, timeout=60)
        assert r.status_code == 200, r.text
        rec = r.json()["predictions"][0]
        assert rec["meta"]["method"] == "rules" and rec["labels"]["t_stage"] == "T1"
        assert rec["labels"]["m_stage"] is None  # nothing states M and no labeller: never guessed
        assert {m["type"] for m in rec["mentions"]} >= {"histology", "stage_t", "stage_n", "biomarker"}
        assert all(text[m["start"]:m["end"]] == m["text"] for m in rec["mentions"])
