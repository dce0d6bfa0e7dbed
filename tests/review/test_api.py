"""The /review routes on the real app (FastAPI TestClient): load, list, correct, validation, guards, no text leaks."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from cancerllm.config import load_config
from cancerllm.serve.app import create_app
from cancerllm.serve.server import ServeConfig

ALICE = {"X-Reviewer": "alice"}


def _client(tmp_path, *overrides: str) -> TestClient:
    cfg = load_config(ServeConfig, overrides=[f"review_db={tmp_path / 'review.sqlite'}", *overrides])
    return TestClient(create_app(lambda: None, cfg), base_url="http://localhost")


def _leaks(body: str, text: str, n: int = 12) -> set[str]:
    return {text[i:i + n] for i in range(len(text) - n + 1) if text[i:i + n] in body}


@pytest.fixture
def client(tmp_path, note_text, record):
    with _client(tmp_path) as c:
        assert c.post("/review/notes", json={"note": {"id": "u1", "text": note_text},
                                             "prediction": record.model_dump(mode="json")}).status_code == 201
        yield c


def test_review_routes_absent_without_review_db():
    with TestClient(create_app(lambda: None, ServeConfig()), base_url="http://localhost") as c:
        assert c.get("/review/notes").status_code == 404


def test_review_load_list_get_and_edit_a_span(client, note_text):
    listed = client.get("/review/notes").json()["notes"]
    assert [(n["id"], n["mentions"]) for n in listed] == [("u1", {"unreviewed": 4})]
    assert not _leaks(str(listed), note_text)  # the list holds ids and counts, no text
    start = note_text.index("pT2")
    res = client.post("/review/corrections", headers=ALICE, json={
        "note_id": "u1", "action": "edit", "index": 1,
        "mention": {"type": "stage_t", "start": start, "end": start + 3, "text": "pT2", "value": "T2"}})
    assert res.status_code == 200, res.text
    m = res.json()["mentions"][1]
    assert m["status"] == "edited" and m["current"]["text"] == "pT2" and m["current"]["end"] == start + 3
    assert res.json()["corrections"][0]["reviewer"] == "alice"
    assert client.get("/review/note", params={"id": "u1"}).json()["mentions"][1]["status"] == "edited"


def test_review_added_mention_without_value_gets_the_normalised_one(client, note_text):
    start = note_text.index("left breast")
    res = client.post("/review/corrections", headers=ALICE, json={
        "note_id": "u1", "action": "add", "mention": {"type": "laterality", "start": start, "end": start + 11}})
    assert res.status_code == 200, res.text
    added = res.json()["mentions"][-1]
    assert (added["index"], added["status"], added["origin"]) == (4, "added", "reviewer")
    assert (added["current"]["text"], added["current"]["value"]) == ("left breast", "left")


def test_review_label_edit_and_accept_reject(client):
    assert client.post("/review/corrections", json={"note_id": "u1", "target": "label", "label": "m_stage",
                                                    "action": "edit", "value": "M0", "reviewer": "bo"}).status_code == 200
    assert client.post("/review/corrections", headers=ALICE, json={"note_id": "u1", "action": "reject",
                                                                   "index": 2}).status_code == 200
    review = client.get("/review/note", params={"id": "u1"}).json()
    assert {lab["name"]: lab["value"] for lab in review["labels"]}["m_stage"] == "M0"
    assert review["mentions"][2]["status"] == "rejected"


@pytest.mark.parametrize(("body", "field", "says"), [
    ({"action": "edit", "index": 1, "mention": {"type": "size", "start": 0, "end": 2}}, "mention.type",
     "expected one of ['biomarker', 'cancer_diagnosis'"),
    ({"action": "edit", "index": 1, "mention": {"type": "stage_t", "start": 0, "end": 2, "assertion": "maybe"}},
     "mention.assertion", "'present', 'negated', 'possible', 'historical' or 'family'"),
    ({"action": "edit", "index": 1, "mention": {"type": "stage_t", "start": 3, "end": 5, "text": "invasive"}},
     "mention.text", "Unicode code points"),
    ({"action": "edit", "index": 1, "mention": {"type": "stage_t", "start": 3, "end": 5000}}, "mention.end",
     "expected at most the note length"),
    ({"action": "edit", "index": 9, "mention": {"type": "stage_t", "start": 3, "end": 5}}, "index", "expected 0..3"),
    ({"action": "edit", "index": 1}, "mention", "needs the corrected mention"),
    ({"action": "accept"}, "index", "expected the mention's index"),
    ({"action": "accept", "index": 0, "reviewer": ""}, "reviewer", "X-Reviewer"),
    ({"action": "edit", "target": "label", "label": "m_stage", "value": "M7"}, "value", "['M0', 'M1'] or null"),
    ({"action": "edit", "target": "label", "label": "grade"}, "label", "expected one of ['m_stage', 'n_stage'"),
    ({"action": "delete", "index": 0}, "action", "'accept', 'reject', 'edit' or 'add'"),
])
def test_review_correction_errors_name_the_field_and_allowed_values(client, note_text, body, field, says):
    headers = {} if "reviewer" in body else ALICE
    res = client.post("/review/corrections", headers=headers, json={"note_id": "u1", **body})
    assert res.status_code == 422, res.text
    detail = res.json()["detail"]
    assert any(d["field"] == field and says in d["message"] for d in detail), detail
    assert not _leaks(res.text, note_text)  # no error quotes the note, not even the text the client sent
    assert all(c["reviewer"] != "" for c in client.get("/review/note", params={"id": "u1"}).json()["corrections"])


def test_review_unknown_note_is_404_and_conflicting_load_409(client, note_text, record):
    res = client.post("/review/corrections", headers=ALICE, json={"note_id": "nope", "action": "accept", "index": 0})
    assert res.status_code == 404 and res.json()["detail"][0]["field"] == "note_id"
    assert client.get("/review/note", params={"id": "nope"}).status_code == 404
    res = client.post("/review/notes", json={"note": {"id": "u1", "text": note_text + "!"},
                                             "prediction": record.model_dump(mode="json")})
    assert res.status_code == 409 and not _leaks(res.text, note_text)
    res = client.post("/review/notes", json={"note": {"id": "u2", "text": note_text},
                                             "prediction": record.model_dump(mode="json")})
    assert res.status_code == 422 and res.json()["detail"][0]["field"] == "prediction.id"


def test_review_routes_sit_behind_the_token_and_host_guards(tmp_path):
    with _client(tmp_path, "token=s3cret-token") as c:
        assert c.get("/review/notes").status_code == 401
        assert c.get("/review/notes", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert c.get("/review/notes", headers={"Authorization": "Bearer s3cret-token",
                                               "Host": "evil.example"}).status_code == 400


def test_review_requests_log_no_note_text(tmp_path, note_text, record, caplog):
    with caplog.at_level(logging.DEBUG), _client(tmp_path) as c:
        c.post("/review/notes", json={"note": {"id": "u1", "text": note_text},
                                      "prediction": record.model_dump(mode="json")})
        start = note_text.index("invasive")
        c.post("/review/corrections", headers=ALICE, json={"note_id": "u1", "action": "add", "mention": {
            "type": "histology", "start": start + 9, "end": start + 25, "text": "ductal carcinoma"}})
        c.post("/review/corrections", headers=ALICE, json={"note_id": "u1", "action": "edit", "index": 0, "mention": {
            "type": "histology", "start": start, "end": start + 8, "text": "wrong text here"}})
    assert "POST /review/corrections: add mention, 200" in caplog.text
    assert "POST /review/corrections: edit mention, 422" in caplog.text
    assert not _leaks(caplog.text, note_text)
