"""The review loop end to end over HTTP, without a browser (runs where chromium is absent): extract with the real
server, put the record under review, correct it, restart the server on the same file, export, train one sft step."""

from __future__ import annotations

import json
import math

import httpx
from typer.testing import CliRunner

from cancerllm.cli import app
from tests.review.conftest import NOTE, SFT_ONE_STEP, review_server


def test_review_api_restart_export_and_sft(tiny_model_dir, tmp_path):
    db = tmp_path / "review.sqlite"
    start = NOTE.index("invasive ductal carcinoma")
    with review_server(tiny_model_dir, db) as url:
        record = httpx.post(f"{url}/extract", json={"notes": [{"id": "e1", "text": NOTE}]},
                            timeout=120).json()["predictions"][0]
        res = httpx.post(f"{url}/review/notes", json={"note": {"id": "e1", "text": NOTE}, "prediction": record})
        assert res.status_code == 201, res.text
        for i in range(len(record["mentions"])):  # the random tiny model's mentions are all wrong
            assert httpx.post(f"{url}/review/corrections", headers={"X-Reviewer": "ana"},
                              json={"note_id": "e1", "action": "reject", "index": i}).status_code == 200
        res = httpx.post(f"{url}/review/corrections", headers={"X-Reviewer": "ana"}, json={
            "note_id": "e1", "action": "add", "mention": {"type": "cancer_diagnosis", "start": start,
                                                          "end": start + 25, "text": "invasive ductal carcinoma"}})
        assert res.status_code == 200, res.text

    with review_server(tiny_model_dir, db) as url:  # a restart: a new app and a new connection to the same file
        review = httpx.get(f"{url}/review/note", params={"id": "e1"}).json()
        assert review["mentions"][-1]["status"] == "added" and review["mentions"][-1]["current"]["start"] == start
        assert len(review["corrections"]) == len(record["mentions"]) + 1

    gold = tmp_path / "corrected.jsonl"
    runner = CliRunner()
    assert runner.invoke(app, ["review", "export", "--db", str(db), "--out", str(gold)]).exit_code == 0
    (note,) = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines()]
    assert [m["text"] for m in note["mentions"]] == ["invasive ductal carcinoma"]
    out = tmp_path / "sft"
    res = runner.invoke(app, ["sft", "--config", "configs/sft/tiny.yaml", f"model.path={tiny_model_dir}",
                              f"data.train={gold}", f"out={out}", *SFT_ONE_STEP])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 1 and math.isfinite(metrics["train_loss_last"])
