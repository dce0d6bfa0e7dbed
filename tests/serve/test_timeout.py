"""serve timeouts and cancellation: a slow or abandoned request stops generating and frees the worker.

The slow request is 3 notes of 100,000 characters (about 280 prompts for the tiny model: tens of seconds uncut,
on this machine well over a minute under load). Assertions are on status codes and on ordering; the only clock
bounds are generous client timeouts that an uncut slow request would exceed.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest

from cancerllm.serve.cancel import CancellableModel, Job, RequestCancelled

SENTINEL = "SENTINEL-PHI-7731 "
SLOW = {"notes": [{"id": f"big{i}", "text": (f"Invasive ductal carcinoma pT2 N0 M0 {SENTINEL}" * 2000)[:100_000]}
                  for i in range(3)]}
FAST = {"notes": [{"id": "fast", "text": "pT2 N0 M0."}], "types": ["stage_t"]}
SETTINGS = ["generate.max_new_tokens=200", "max_note_chars=100000"]


def test_timeout_stops_generation_and_frees_the_worker(tiny_model_dir, running_server, caplog):
    with caplog.at_level(logging.INFO), running_server(tiny_model_dir, *SETTINGS, "timeout_s=5") as (url, _cfg):
        slow = httpx.post(f"{url}/extract", json=SLOW, timeout=60)
        assert slow.status_code == 504
        assert "not answered within 5 s (timeout_s)" in slow.json()["detail"] and "SENTINEL" not in slow.text
        # The next request is served within its own 5 s budget: the slow request's generation really stopped
        # (had it kept the worker, this one would wait and get a 504 too).
        fast = httpx.post(f"{url}/extract", json=FAST, timeout=60)
        assert fast.status_code == 200, fast.text
        assert [p["id"] for p in fast.json()["predictions"]] == ["fast"]
    assert "POST /extract: 3 note(s) stopped after" in caplog.text and "(timeout)" in caplog.text
    assert "SENTINEL" not in caplog.text


def test_timeout_abandoned_request_does_not_keep_the_next_waiting(tiny_model_dir, running_server, caplog):
    with caplog.at_level(logging.INFO), running_server(tiny_model_dir, *SETTINGS, "timeout_s=600") as (url, _cfg):
        with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes its connection
            httpx.post(f"{url}/extract", json=SLOW, timeout=httpx.Timeout(60, read=3))
        sent = time.monotonic()
        fast = httpx.post(f"{url}/extract", json=FAST, timeout=30)  # an uncut slow request would outlast this
        assert fast.status_code == 200, fast.text
        assert time.monotonic() - sent < 30
    assert "stopped after" in caplog.text and "(client disconnected)" in caplog.text
    assert "SENTINEL" not in caplog.text


def test_timeout_request_waiting_behind_a_slow_one_is_answered_in_order(tiny_model_dir, running_server):
    with running_server(tiny_model_dir, *SETTINGS, "timeout_s=5") as (url, _cfg):
        done: list[tuple[str, int]] = []

        def post(name, body):
            done.append((name, httpx.post(f"{url}/extract", json=body, timeout=60).status_code))

        slow = threading.Thread(target=post, args=("slow", SLOW))
        slow.start()
        time.sleep(0.5)  # the slow request is queued or generating first
        post("fast", FAST)
        slow.join(60)
    # The fast request waited behind the slow one, which was answered (504) first; the fast one was answered too,
    # either 200 or, if its own 5 s ran out in the queue, a 504 that says so; never a hang or another status.
    assert done[0] == ("slow", 504)
    assert done[1][0] == "fast" and done[1][1] in (200, 504)


def test_cancellable_model_stops_within_a_step(tiny_model, tiny_tokenizer):
    from transformers import StoppingCriteria

    job = Job.start(timeout_s=3600)
    steps = []

    class CancelAtStep5(StoppingCriteria):  # stands in for a client that disconnects during decoding
        def __call__(self, input_ids, scores, **kwargs):
            steps.append(1)
            if len(steps) == 5:
                job.cancel("client disconnected")
            return input_ids[:, -1] < 0  # never stops by itself

    enc = tiny_tokenizer(["pT2 N0 M0."], return_tensors="pt")
    model = CancellableModel(tiny_model, job)
    assert next(model.parameters()).device.type == "cpu"  # every other attribute is the model's
    with pytest.raises(RequestCancelled, match="client disconnected"):
        model.generate(**enc, max_new_tokens=500, do_sample=False, stopping_criteria=[CancelAtStep5()],
                       pad_token_id=tiny_tokenizer.pad_token_id)
    assert len(steps) <= 6  # stopped at the step after the cancel, not after 500 tokens
    with pytest.raises(RequestCancelled):  # a later batch of the cancelled request never starts
        model.generate(**enc, max_new_tokens=5)
    assert len(steps) <= 6


def test_job_deadline_cancels_with_reason_timeout():
    job = Job.start(timeout_s=0.01)
    time.sleep(0.05)
    assert job.stopped() and job.reason == "timeout"
    job.cancel("client disconnected")  # the first reason is kept
    assert job.reason == "timeout"


def test_timeout_full_queue_gets_503_with_retry_after(tiny_model_dir, running_server):
    with running_server(tiny_model_dir, *SETTINGS, "timeout_s=5", "max_queue=1") as (url, _cfg):
        statuses: dict[str, int] = {}

        def post(name):
            statuses[name] = httpx.post(f"{url}/extract", json=SLOW, timeout=60).status_code

        first = threading.Thread(target=post, args=("generating",))
        first.start()
        time.sleep(0.5)
        second = threading.Thread(target=post, args=("waiting",))
        second.start()
        time.sleep(0.5)
        third = httpx.post(f"{url}/extract", json=FAST, timeout=60)  # one generating + one waiting = queue full
        first.join(60)
        second.join(60)
    assert third.status_code == 503 and third.headers["retry-after"] == "5"
    assert "max_queue=1" in third.json()["detail"]
    assert statuses == {"generating": 504, "waiting": 504}


def test_cancelled_generation_is_never_reported_as_records(tiny_model, tiny_tokenizer):
    from cancerllm.config import GenerateArgs
    from cancerllm.data.schema import Note
    from cancerllm.infer.predictor import Predictor
    from cancerllm.serve.app import _work

    job = Job.start(timeout_s=3600)

    class LeavesMidway(Predictor):  # the client disconnects once the request has started predicting
        def predict(self, notes, task="phenotype", progress=False):
            job.cancel("client disconnected")
            return super().predict(notes, task, progress)

    pred = LeavesMidway(tiny_model, tiny_tokenizer, types=["stage_t"], gen=GenerateArgs(max_new_tokens=4))
    with pytest.raises(RequestCancelled, match="client disconnected"):
        _work(pred, [Note(id="a", text="pT2 N0 M0.")], "phenotype", None, job)
