"""serve limits: body size (declared and streamed), notes per request, characters per note, config validation.

A real uvicorn server on 127.0.0.1 with small limits, so the oversized bodies stay small enough for the kernel's
socket buffers (the client finishes writing and reads the early 413 instead of a reset connection).
"""

from __future__ import annotations

import json
import logging

import httpx
import pytest

LIMITS = ["generate.max_new_tokens=4", "max_body_bytes=20000", "max_notes=3", "max_note_chars=2000"]
SECRET = "SENTINEL-PHI-7731 "


@pytest.fixture(scope="module")
def limited(tiny_model_dir, running_server):
    with running_server(tiny_model_dir, *LIMITS) as (url, _cfg):
        yield url


def _big_body(n_bytes: int) -> bytes:
    return json.dumps({"notes": [{"id": "a", "text": SECRET * (n_bytes // len(SECRET))}]}).encode()


def test_limits_body_over_content_length_is_413_before_reading(limited, caplog):
    body = _big_body(60_000)
    with caplog.at_level(logging.INFO):
        r = httpx.post(f"{limited}/extract", content=body, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413
    detail = r.json()["detail"]
    assert f"Content-Length is {len(body)} bytes" in detail and "20000 bytes (max_body_bytes)" in detail
    assert "SENTINEL-PHI" not in r.text and "SENTINEL-PHI" not in caplog.text


def test_limits_streamed_body_without_content_length_is_413(limited):
    body = _big_body(60_000)

    def chunks():  # a generator body: httpx sends Transfer-Encoding: chunked and no Content-Length
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]

    r = httpx.post(f"{limited}/extract", content=chunks(), headers={"content-type": "application/json"}, timeout=30)
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413
    assert "more than 20000 bytes were sent" in r.json()["detail"]


def test_limits_small_chunked_body_still_served(limited):
    body = json.dumps({"notes": [{"id": "a", "text": "pT2 N0 M0."}], "types": ["stage_t"]}).encode()
    r = httpx.post(f"{limited}/extract", content=iter([body[:10], body[10:]]),
                   headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["predictions"]] == ["a"]


def test_limits_too_many_notes_is_422_naming_the_limit(limited):
    notes = [{"id": f"n{i}", "text": "pT2"} for i in range(4)]
    r = httpx.post(f"{limited}/extract", json={"notes": notes}, timeout=30)
    assert r.status_code == 422
    (d,) = r.json()["detail"]
    assert d["field"] == "notes" and d["type"] == "too_many_notes"
    assert "got 4 notes, expected at most 3 (max_notes)" in d["message"]


def test_limits_too_long_note_is_422_without_echoing_it(limited):
    long = (SECRET * 200)[:2001]
    r = httpx.post(f"{limited}/diagnose", json={"notes": [{"id": "ok", "text": "pT2"}, {"id": "long", "text": long}]},
                   timeout=30)
    assert r.status_code == 422
    (d,) = r.json()["detail"]
    assert d["field"] == "notes.1.text" and "got 2001 characters, expected at most 2000 (max_note_chars)" in d["message"]
    assert "SENTINEL-PHI" not in r.text


def test_limits_server_healthy_after_rejections(limited):
    h = httpx.get(f"{limited}/health", timeout=30).json()
    assert h["status"] == "ok"
    assert h["limits"] == {"max_body_bytes": 20000, "max_notes": 3, "max_note_chars": 2000, "timeout_s": 120.0}


@pytest.mark.parametrize("override, problem", [
    ("max_body_bytes=0", "max_body_bytes: got 0, expected a positive integer"),
    ("max_notes=-1", "max_notes: got -1, expected a positive integer"),
    ("max_note_chars=0", "max_note_chars: got 0, expected a positive integer"),
    ("timeout_s=0", "timeout_s: got 0.0, expected seconds > 0"),
    ("max_queue=0", "max_queue: got 0, expected a positive integer"),
    ("token=short", "token: got 5 characters, expected at least 8"),
    ("allowed_hosts=[]", "allowed_hosts: got [], expected host names"),
    ("allowed_hosts=[http://x]", "allowed_hosts: got ['http://x'], expected host names"),
])
def test_limits_config_rejects_bad_values(override, problem):
    from cancerllm.config import load_config
    from cancerllm.errors import ConfigError
    from cancerllm.serve.server import ServeConfig

    with pytest.raises(ConfigError) as err:
        load_config(ServeConfig, overrides=[override])
    assert problem in str(err.value)


def test_limits_slow_body_gets_408_after_the_timeout(tiny_model_dir, running_server):
    import socket
    import urllib.parse

    with running_server(tiny_model_dir, "timeout_s=2") as (url, _cfg):
        parts = urllib.parse.urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
            # Declares 1,000 bytes, sends 10, then stalls: the server must answer instead of waiting forever.
            sock.sendall(b"POST /extract HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"notes\": ")
            # Headers and body may arrive in separate packets: read until the server closes the connection.
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
            reply = b"".join(chunks).decode()
    assert reply.startswith("HTTP/1.1 408"), reply[:200]
    assert "request body incomplete after 2 s" in reply
