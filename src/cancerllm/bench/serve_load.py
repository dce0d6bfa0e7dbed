"""Loopback load test of ``cancerllm serve``: many concurrent valid and malformed requests against 127.0.0.1.

The server runs as its own process (``python -m cancerllm serve``) so its resident memory can be read before
and after; the client (asyncio + httpx) sends ``requests`` requests with at most ``concurrency`` in flight, each
drawn (seeded) from :data:`KINDS`: about half valid ``/extract`` / ``/diagnose`` calls, the rest malformed JSON,
wrong fields, too many notes, too-long notes, oversized bodies (declared and chunked), a foreign Host header,
invalid UTF-8, deeply nested JSON. Every kind has the status it must get; the bar is no 5xx, no transport error,
every response as expected, and bounded server RSS. Only 127.0.0.1 is ever contacted.

Run it with ``python scripts/load_test.py`` (writes ``out/bench/serve-load/load.json`` and ``load.md``).

Example:
    >>> KINDS["oversized"][2], KINDS["too_many_notes"][2]  # the statuses each kind must get
    ({413}, {422})
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["KINDS", "LoadConfig", "fire", "run", "summarize"]

SENTINEL = "SENTINEL-PHI-7731"
"""Put in every note: the server log is checked for it afterwards (no note text may be logged)."""
NOTES = [f"Invasive ductal carcinoma of the left breast, pT2 N0 M0. ER positive, HER2 negative. {SENTINEL}",
         f"Adenocarcinoma of the sigmoid colon, pT3 N1a. KRAS mutated. No distant metastasis. {SENTINEL}",
         f"Lung adenocarcinoma, right upper lobe, EGFR exon 19 deletion, stage IV. {SENTINEL}"]
SERVER_LIMITS = {"max_body_bytes": 65_536, "max_notes": 8, "max_note_chars": 20_000}
"""The load test's server limits: small, so oversized bodies stay ~100 KB and the test stays light."""

Body = tuple[str, str, Any, dict[str, str]]  # method, path, content (bytes or an iterator of bytes), headers
JSON = {"content-type": "application/json"}


def _notes(rng: random.Random, n: int = 1) -> list[dict[str, str]]:
    return [{"id": f"n{rng.randrange(10**6)}", "text": rng.choice(NOTES)} for _ in range(n)]


def _post(path: str, obj: Any, headers: dict[str, str] | None = None) -> Body:
    return "POST", path, json.dumps(obj).encode(), {**JSON, **(headers or {})}


def _chunked(data: bytes) -> Any:
    async def chunks() -> Any:  # an async generator body: httpx sends it chunked, with no Content-Length
        for i in range(0, len(data), 8192):
            yield data[i:i + 8192]

    return chunks()


# name -> (share of requests, builder(rng) -> Body, the statuses it may get)
KINDS: dict[str, tuple[float, Callable[[random.Random], Body], set[int]]] = {
    "extract": (0.30, lambda r: _post("/extract", {"notes": _notes(r, r.randint(1, 2)), "types": ["stage_t"]}),
                {200}),
    "diagnose": (0.15, lambda r: _post("/diagnose", {"notes": _notes(r)}), {200}),
    "empty_note": (0.05, lambda r: _post("/extract", {"notes": [{"id": "e", "text": "  "}]}), {200}),
    "health": (0.05, lambda r: ("GET", "/health", b"", {}), {200}),
    "not_json": (0.05, lambda r: ("POST", "/extract", b"{notes: [" + SENTINEL.encode(), JSON), {422}),
    "missing_text": (0.04, lambda r: _post("/extract", {"notes": [{"id": "a"}]}), {422}),
    "extra_field": (0.04, lambda r: _post("/diagnose", {"notes": _notes(r), "mrn": SENTINEL}), {422}),
    "unknown_type": (0.03, lambda r: _post("/extract", {"notes": _notes(r), "types": ["size"]}), {422}),
    "too_many_notes": (0.04, lambda r: _post("/extract", {"notes": _notes(r, 9)}), {422}),
    "note_too_long": (0.04, lambda r: _post("/extract", {"notes": [{"id": "l", "text": SENTINEL * 1200}]}), {422}),
    "oversized": (0.05, lambda r: _post("/extract", {"notes": [{"id": "o", "text": SENTINEL * 6000}]}), {413}),
    "oversized_chunked": (0.04, lambda r: ("POST", "/extract", _chunked(_post("/extract", {"notes": [
        {"id": "o", "text": SENTINEL * 6000}]})[2]), JSON), {413}),
    "bad_host": (0.04, lambda r: _post("/extract", {"notes": _notes(r)}, {"host": "evil.example"}), {400, 421}),
    "bad_utf8": (0.04, lambda r: ("POST", "/extract", b'{"notes": [{"id": "a", "text": "\xff\xfe"}]}', JSON),
                 {400, 422}),
    "deep_json": (0.04, lambda r: ("POST", "/diagnose", b"[" * 20_000 + b"]" * 20_000, JSON), {400, 422}),
}


@dataclass
class LoadConfig:
    """Settings of the load test (``python scripts/load_test.py key=value ...``)."""

    requests: int = 2000
    """Requests to send (the run also stops at ``max_seconds``)."""
    concurrency: int = 24
    """Requests in flight at once."""
    seed: int = 0
    max_seconds: float = 540.0
    """Wall-clock bound for sending; requests not started by then are not sent (and are reported)."""
    request_timeout_s: float = 120.0
    model_path: str = "tiny-random"
    """A model folder, 'embedded', or 'tiny-random' (2-layer random Llama with the embedded model's tokenizer)."""
    max_new_tokens: int = 8
    out: Path = Path("out/bench/serve-load")
    server_overrides: list[str] = field(default_factory=list)
    """Extra ``cancerllm serve`` key=value settings (e.g. ``timeout_s=30``)."""

    def validate(self) -> list[str]:
        problems = []
        if self.requests < 1 or self.concurrency < 1:
            problems.append(f"requests/concurrency: got {self.requests}/{self.concurrency}, expected >= 1")
        if self.max_seconds <= 0 or self.request_timeout_s <= 0:
            problems.append("max_seconds/request_timeout_s: expected seconds > 0")
        return problems


async def fire(base_url: str, n: int, concurrency: int, seed: int = 0, max_seconds: float = 540.0,
               timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """Send ``n`` seeded requests (mixed :data:`KINDS`) to ``base_url`` with ``concurrency`` in flight.

    Returns one record per request sent: ``kind``, ``status`` (None on a transport error), ``ok`` (status among
    the kind's expected ones), ``seconds`` and ``error`` (the exception type, if any).
    """
    import httpx

    if not base_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"base_url: got {base_url!r}, expected a loopback URL (the load test never leaves the host)")
    rng = random.Random(seed)
    names = list(KINDS)
    plan = rng.choices(names, weights=[KINDS[k][0] for k in names], k=n)
    queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    for item in enumerate(plan):
        queue.put_nowait(item)
    stop_at = time.monotonic() + max_seconds
    records: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient, wrng: random.Random) -> None:
        # Each worker takes the next planned request until the plan is done or the time bound is reached.
        while not queue.empty() and time.monotonic() < stop_at:
            _i, kind = queue.get_nowait()
            method, path, content, headers = KINDS[kind][1](wrng)
            t0 = time.perf_counter()
            status, error = None, None
            try:
                r = await client.request(method, base_url + path, content=content or None, headers=headers)
                status = r.status_code
            except httpx.HTTPError as err:
                error = type(err).__name__
            records.append({"kind": kind, "status": status, "ok": status in KINDS[kind][2],
                            "seconds": time.perf_counter() - t0, "error": error})

    async with httpx.AsyncClient(limits=limits, timeout=timeout_s) as client:
        await asyncio.gather(*(worker(client, random.Random(seed * 1000 + w)) for w in range(concurrency)))
    return records


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, int(q * len(s)))], 4)


def summarize(records: list[dict[str, Any]], planned: int) -> dict[str, Any]:
    """Status counts (overall and per kind), p50/p95 latency, and the pass/fail counters."""
    statuses = Counter(str(r["status"]) if r["status"] is not None else f"error:{r['error']}" for r in records)
    per_kind: dict[str, dict[str, int]] = {}
    for r in records:
        key = str(r["status"]) if r["status"] is not None else f"error:{r['error']}"
        per_kind.setdefault(r["kind"], Counter())[key] += 1
    valid = [r["seconds"] for r in records if r["status"] == 200 and r["kind"] in ("extract", "diagnose")]
    return {"planned": planned, "sent": len(records), "status_counts": dict(sorted(statuses.items())),
            "per_kind": {k: dict(sorted(v.items())) for k, v in sorted(per_kind.items())},
            "server_errors_5xx": sum(1 for r in records if r["status"] is not None and r["status"] >= 500),
            "transport_errors": sum(1 for r in records if r["status"] is None),
            "unexpected": sum(1 for r in records if not r["ok"]),
            "latency_s": {"p50": _pct([r["seconds"] for r in records], 0.5),
                          "p95": _pct([r["seconds"] for r in records], 0.95),
                          "valid_p50": _pct(valid, 0.5), "valid_p95": _pct(valid, 0.95)}}


def _rss_mib(pid: int) -> float:
    # Linux: VmRSS in /proc; the load test targets this project's Linux machines.
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _tiny_random(out: Path) -> Path:
    """A 2-layer, 64-dim random Llama with the embedded model's tokenizer (ms per request: tests the server)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from cancerllm.model.load import embedded_model_dir

    path = out / "tiny-random-model"
    if (path / "config.json").is_file():
        return path
    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(cfg: LoadConfig, model: str, port: int, log_file: Any) -> subprocess.Popen:
    args = [sys.executable, "-m", "cancerllm", "serve", f"--port={port}", "--host=127.0.0.1",
            f"model.path={model}", "model.device=cpu", f"generate.max_new_tokens={cfg.max_new_tokens}",
            "threads=1", *(f"{k}={v}" for k, v in SERVER_LIMITS.items()), *cfg.server_overrides]
    return subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)


def _wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float = 300.0) -> dict[str, Any]:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before it was ready (see serve.log)")
        try:
            r = httpx.get(f"{url}/health", timeout=5)
            if r.status_code == 200 and r.json()["status"] == "ok":
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server was not ready within {timeout_s:.0f} s")


def _rss_summary(before: float, after: float, samples: list[tuple[float, float]], wall: float) -> dict[str, Any]:
    """Before/after/peak RSS, RSS at each quarter of the run, and whether it plateaued.

    The first requests grow the server (allocator arenas, tokenizer and kernel caches); a leak keeps growing.
    ``bounded``: from the end of the first quarter to the end, RSS grew by less than max(64 MiB, 10 % of before).
    """
    def at(frac: float) -> float:
        return max((r for t, r in samples if t <= frac * wall), default=before)

    quarters = [at(q) for q in (0.25, 0.5, 0.75)] + [after]
    growth = round(after - quarters[0], 1)
    return {"before": before, "after": after, "peak": max([after] + [r for _t, r in samples]),
            "quarters": quarters, "growth_after_first_quarter": growth,
            "bounded": growth < max(64.0, 0.1 * before)}


def run(cfg: LoadConfig) -> dict[str, Any]:
    """Start the server, fire the requests, measure RSS; write ``load.json`` and ``load.md`` under ``cfg.out``."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    model = str(_tiny_random(cfg.out)) if cfg.model_path == "tiny-random" else cfg.model_path
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = cfg.out / "serve.log"
    with open(log_path, "w") as log_file:
        proc = _start_server(cfg, model, port, log_file)
        try:
            health = _wait_healthy(proc, url)
            rss_before = _rss_mib(proc.pid)
            samples = [(0.0, rss_before)]  # (seconds since the load started, server RSS MiB)
            t0 = time.perf_counter()

            async def sampled() -> list[dict[str, Any]]:
                async def sample() -> None:  # server RSS every 0.5 s while the load runs
                    while True:
                        samples.append((time.perf_counter() - t0, _rss_mib(proc.pid)))
                        await asyncio.sleep(0.5)

                sampler = asyncio.create_task(sample())
                try:
                    return await fire(url, cfg.requests, cfg.concurrency, cfg.seed, cfg.max_seconds,
                                      cfg.request_timeout_s)
                finally:
                    sampler.cancel()

            records = asyncio.run(sampled())
            wall = time.perf_counter() - t0
            rss_after = _rss_mib(proc.pid)
            alive = proc.poll() is None
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    summary = summarize(records, cfg.requests)
    server_log = log_path.read_text(errors="replace")
    summary.update({
        "wall_s": round(wall, 1), "requests_per_s": round(len(records) / wall, 1), "concurrency": cfg.concurrency,
        "model": health["model"].get("name"), "max_new_tokens": cfg.max_new_tokens, "server_limits": SERVER_LIMITS,
        "server_rss_mib": _rss_summary(rss_before, rss_after, samples, wall),
        "server_alive_after": alive, "note_text_in_server_log": SENTINEL in server_log,
    })
    summary["passed"] = (summary["server_errors_5xx"] == 0 and summary["transport_errors"] == 0
                         and summary["server_rss_mib"]["bounded"]
                         and summary["unexpected"] == 0 and alive and not summary["note_text_in_server_log"]
                         and summary["sent"] == cfg.requests)
    (cfg.out / "load.json").write_text(json.dumps(summary, indent=2) + "\n")
    (cfg.out / "load.md").write_text(markdown(summary))
    return summary


def markdown(s: dict[str, Any]) -> str:
    """The summary as a short markdown report."""
    lat, rss = s["latency_s"], s["server_rss_mib"]
    lines = [f"# Server load test ({'passed' if s['passed'] else 'FAILED'})", "",
             (f"{s['sent']}/{s['planned']} requests, concurrency {s['concurrency']}, {s['wall_s']} s "
              f"({s['requests_per_s']} req/s); model {s['model']}, max_new_tokens {s['max_new_tokens']}."), "",
             "| status | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in s["status_counts"].items()]
    lines += ["", (f"5xx: {s['server_errors_5xx']} · transport errors: {s['transport_errors']} · unexpected "
                   f"statuses: {s['unexpected']} · note text in server log: {s['note_text_in_server_log']}"), "",
              (f"Latency p50/p95: {lat['p50']}/{lat['p95']} s (all); {lat['valid_p50']}/{lat['valid_p95']} s "
               "(valid /extract and /diagnose)."), "",
              (f"Server RSS: {rss['before']} MiB before, {rss['after']} MiB after, {rss['peak']} MiB peak; "
               f"at each quarter of the run {rss['quarters']} MiB (growth after the first quarter "
               f"{rss['growth_after_first_quarter']} MiB: {'bounded' if rss['bounded'] else 'NOT bounded'})."), "",
              "| kind | statuses |", "|---|---|"]
    lines += [f"| {k} | {', '.join(f'{st}: {n}' for st, n in v.items())} |" for k, v in s["per_kind"].items()]
    return "\n".join(lines) + "\n"
