"""serve protections: bearer token, Host allow-list, no CDN in any served page, no filesystem path in /health."""

from __future__ import annotations

import logging
import re
import urllib.parse

import httpx
import pytest

TOKEN = "tok-3f9a7c2e-never-logged"
NOTE = {"notes": [{"id": "a", "text": "pT2 N0 M0."}], "types": ["stage_t"]}


@pytest.fixture(scope="module")
def guarded(tiny_model_dir, running_server):
    with running_server(tiny_model_dir, "generate.max_new_tokens=4", f"token={TOKEN}") as (url, _cfg):
        yield url


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("method, path", [("post", "/extract"), ("post", "/diagnose"), ("get", "/schema"),
                                          ("get", "/openapi.json")])
def test_security_token_required(guarded, method, path, caplog):
    kw = {"json": NOTE} if method == "post" else {}
    with caplog.at_level(logging.DEBUG):
        missing = httpx.request(method, f"{guarded}{path}", timeout=30, **kw)
        wrong = httpx.request(method, f"{guarded}{path}", headers=_bearer(TOKEN[:-1] + "X"), timeout=30, **kw)
        basic = httpx.request(method, f"{guarded}{path}", headers={"authorization": f"Basic {TOKEN}"}, timeout=30,
                              **kw)
    for r in (missing, wrong, basic):
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in r.json()["detail"] and TOKEN not in r.text
    assert TOKEN not in caplog.text


def test_security_token_accepted(guarded):
    r = httpx.post(f"{guarded}/extract", json=NOTE, headers=_bearer(TOKEN), timeout=60)
    assert r.status_code == 200, r.text
    assert [p["id"] for p in r.json()["predictions"]] == ["a"]
    assert httpx.get(f"{guarded}/schema", headers=_bearer(TOKEN), timeout=30).status_code == 200


def test_security_health_and_static_page_need_no_token(guarded):
    h = httpx.get(f"{guarded}/health", timeout=30)
    assert h.status_code == 200 and h.json()["auth"] is True and TOKEN not in h.text
    page = httpx.get(f"{guarded}/", timeout=30)  # static HTML, no data: a browser cannot send a header on navigation
    assert page.status_code == 200 and TOKEN not in page.text
    assert 'id="token"' in page.text and "Bearer ${" in page.text  # the page sends the token the user types


def test_security_token_from_environment(monkeypatch):
    from cancerllm.config import load_config
    from cancerllm.serve.server import ServeConfig

    monkeypatch.setenv("CANCERLLM_SERVE_TOKEN", TOKEN)
    assert load_config(ServeConfig).effective_token() == TOKEN
    monkeypatch.delenv("CANCERLLM_SERVE_TOKEN")
    assert load_config(ServeConfig).effective_token() is None


def test_security_cli_token_option_is_validated_before_loading():
    from typer.testing import CliRunner

    from cancerllm.cli import app

    res = CliRunner().invoke(app, ["serve", "--token", "short", "model.path=/nonexistent"])
    assert res.exit_code == 2 and "token: got 5 characters, expected at least 8" in res.output
    assert "short" not in res.output  # the token itself is not echoed


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.2", "localhost.evil.example"])
def test_security_bad_host_rejected(server_url, host):
    r = httpx.post(f"{server_url}/extract", json=NOTE, headers={"host": host}, timeout=30)
    assert r.status_code in (400, 421)
    assert "allowed_hosts" in r.json()["detail"]
    assert httpx.get(f"{server_url}/health", headers={"host": host}, timeout=30).status_code in (400, 421)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST:1234", "[::1]:8000"])
def test_security_loopback_hosts_accepted(server_url, host):
    assert httpx.get(f"{server_url}/health", headers={"host": host}, timeout=30).status_code == 200


def test_security_allowed_hosts_configurable(tiny_model_dir, running_server):
    with running_server(tiny_model_dir, "allowed_hosts=[notes.example.org]") as (url, _cfg):
        assert httpx.get(f"{url}/health", headers={"host": "notes.example.org:8443"}, timeout=30).status_code == 200
        assert httpx.get(f"{url}/health", timeout=30).status_code in (400, 421)  # 127.0.0.1 no longer listed


def _html_pages(base: str) -> dict[str, str]:
    """Every GET route of the app that answers HTML, plus FastAPI's usual documentation paths."""
    paths = {"/", "/docs", "/redoc", "/docs/oauth2-redirect"}
    paths |= set(httpx.get(f"{base}/openapi.json", timeout=30).json()["paths"])
    pages = {}
    for path in sorted(paths):
        r = httpx.get(f"{base}{path}", timeout=30)
        if r.status_code == 200 and r.headers["content-type"].startswith("text/html"):
            pages[path] = r.text
    return pages


def test_security_no_external_url_in_served_pages(server_url):
    pages = _html_pages(server_url)
    assert "/" in pages  # the review page is served
    own = urllib.parse.urlsplit(server_url).netloc
    for path, html in pages.items():
        for url in re.findall(r"https?://[^\s\"'<>)]+", html):
            assert urllib.parse.urlsplit(url).netloc == own, f"{path} references {url}"
    assert httpx.get(f"{server_url}/docs", timeout=30).status_code == 404  # Swagger UI (CDN scripts) is off


def _strings(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj


def test_security_health_shows_no_filesystem_path(server_url, tiny_model_dir):
    h = httpx.get(f"{server_url}/health", timeout=30)
    assert h.status_code == 200 and h.json()["model"]["name"] == tiny_model_dir.name
    assert str(tiny_model_dir) not in h.text and str(tiny_model_dir.parent) not in h.text
    for s in _strings(h.json()):
        assert not re.search(r"(^|[\s'\"(])(/|~/|[A-Za-z]:\\)\w", s), s
