"""The HTTP app: a thin typed adapter over ``Predictor.predict`` (request schema -> predict -> response schema).

Routes: ``POST /extract`` and ``POST /diagnose`` (one Prediction per note, in input order), ``GET /health`` (the
loaded model's name, no filesystem paths), ``GET /schema`` (entity types, assertions), ``GET /`` (the
self-contained review page). Swagger/ReDoc are off: their pages load scripts from a CDN; ``/openapi.json`` stays.

Guarantees a client can rely on:

* one record per note: an empty note gets a record with an error and is not sent to the model; a note that breaks
  the model call gets its own record with the error while the other notes of the request are still predicted;
  a batch never turns into a 500.
* a malformed body is a 422 whose ``detail`` names each bad field (``notes.0.text``) without echoing its value;
  too many notes or a too-long note is a 422 naming the limit; a too-large body is a 413 (:mod:`.guard`).
* a request gets its answer or a 504 within ``timeout_s`` (waiting included); its generation then stops at the
  next token (:mod:`.cancel`), as it does when the client disconnects, so the next request is not kept waiting.
* no note text is logged or put in an error response: the only log line per request holds the route, counts and
  seconds.

Example:
    >>> from fastapi.testclient import TestClient
    >>> with TestClient(create_app(lambda: None), base_url="http://localhost") as client:
    ...     client.post("/extract", json={"notes": [{"id": "a"}]}).json()["detail"][0]["field"]
    'notes.0.text'
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from cancerllm.data.schema import Note, Prediction
from cancerllm.interop.routes import install as install_fhir_routes
from cancerllm.review.routes import include_review
from cancerllm.serve.cancel import CancellableModel, Job, RequestCancelled
from cancerllm.serve.guard import Guard
from cancerllm.serve.schemas import Health, PredictRequest, PredictResponse, SchemaInfo
from cancerllm.serve.server import ServeConfig

__all__ = ["create_app", "predict_isolated", "public_model_info", "review_page", "scrub"]

log = logging.getLogger("cancerllm.serve")


def review_page() -> str:
    """The review page HTML (inline JS/CSS, no network), shipped as package data ``serve/static/review.html``."""
    from importlib.resources import files

    return (files("cancerllm.serve") / "static" / "review.html").read_text(encoding="utf-8")


def scrub(message: str, texts: list[str], window: int = 16) -> str:
    """``message``, or a placeholder if it quotes any ``window`` characters of one of ``texts`` (note text).

    Exception messages from libraries sometimes include their input; an error returned or logged by the server
    must not carry a note.

    Example:
        >>> scrub("ValueError: bad token in 'left breast carcinoma pT2'", ["Invasive left breast carcinoma pT2 N0"])
        'ValueError: (message withheld: it quoted the note)'
        >>> scrub("MemoryError: out of memory", ["Invasive left breast carcinoma pT2 N0"])
        'MemoryError: out of memory'
    """
    pieces = {message[i:i + window] for i in range(max(len(message) - window + 1, 0))}
    if any(p in t for t in texts for p in pieces):
        return message.split(":", 1)[0] + ": (message withheld: it quoted the note)"
    return message


def predict_isolated(predictor: Any, notes: list[Note], task: str) -> list[Prediction]:
    """:func:`cancerllm.infer.predictor.predict_isolated` for the server: one record per note, a failure message
    that never quotes note text, and a cancelled request (:class:`~cancerllm.serve.cancel.RequestCancelled`)
    propagated at once. Empty notes get the Predictor's error record without a model call."""
    from cancerllm.infer.predictor import predict_isolated as isolated

    return isolated(predictor, notes, task, failed="model call failed", clean=lambda msg, note: scrub(msg, [note.text]))


def public_model_info(info: dict[str, Any]) -> dict[str, Any]:
    """The loader's model info for ``/health``: model and adapter *names*, never filesystem paths.

    Example:
        >>> public_model_info({"path": "/root/.cache/cancerllm/models/smollm2", "adapter": ["/runs/sft/a"],
        ...                    "dtype": "bfloat16", "device": "cpu", "n_params": 3})
        {'name': 'smollm2', 'adapter': ['a'], 'dtype': 'bfloat16', 'device': 'cpu', 'n_params': 3}
    """
    def name(p: Any) -> str:
        # An absolute or relative local path keeps only its last part; a hub id ("org/model") is kept whole.
        s = str(p)
        return Path(s).name if s.startswith(("/", ".", "~")) or Path(s).exists() else s

    out: dict[str, Any] = {}
    if "path" in info:
        out["name"] = name(info["path"])
    if "adapter" in info:
        out["adapter"] = [name(a) for a in info["adapter"]] if info["adapter"] else None
    out.update({k: v for k, v in info.items() if k in ("dtype", "dtype_reason", "device", "n_params")})
    return out


def _field(loc: tuple | list) -> str:
    # FastAPI locations start with where the value came from ("body", "query"); clients name fields by path.
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if parts and parts[0] in ("body", "query", "path") else parts) or "body"


def _limit_problems(body: PredictRequest, cfg: ServeConfig) -> list[dict[str, str]]:
    """422 details for a body that parses but exceeds ``max_notes`` / ``max_note_chars`` (all at once)."""
    problems = []
    if len(body.notes) > cfg.max_notes:
        problems.append({"field": "notes", "type": "too_many_notes",
                         "message": f"got {len(body.notes)} notes, expected at most {cfg.max_notes} (max_notes); "
                                    "split the request, or use cancerllm extract for batches"})
    for i, note in enumerate(body.notes):
        if len(note.text) > cfg.max_note_chars:
            problems.append({"field": f"notes.{i}.text", "type": "note_too_long",
                             "message": f"got {len(note.text)} characters, expected at most {cfg.max_note_chars} "
                                        "(max_note_chars); a note is never cut, so split it or use cancerllm extract"})
    return problems


async def _watch_disconnect(request: Request, job: Job, every_s: float = 0.2) -> None:
    # uvicorn reports a closed connection as an "http.disconnect" message; polling it is cheap and lets an
    # abandoned request stop generating instead of holding the model for minutes.
    while not job.stopped():
        if await request.is_disconnected():
            job.cancel("client disconnected")
            return
        await asyncio.sleep(every_s)


def _work(base: Any, notes: list[Note], task: str, types: list[str] | None, job: Job) -> tuple[list[Prediction], Any]:
    """Runs on the generation thread: predict with a per-request copy of the Predictor whose model honours ``job``."""
    from cancerllm.infer.generate import GenerationStats

    job.check()  # it may have waited in the queue past its deadline, or its client may have left
    # A shallow copy shares the model and tokenizer but gets its own types, counters and cancellable model view.
    pred = copy.copy(base)
    pred.stats = GenerationStats()
    if getattr(base, "model", None) is not None:
        pred.model = CancellableModel(base.model, job)
    if types is not None:
        pred.types = list(types)
    records = predict_isolated(pred, notes, task)
    # A deadline that passed while the last notes were post-processed: reported as stopped, never as a 200.
    job.check()
    return records, pred.stats


def create_app(predictor_factory: Callable[[], Any], cfg: ServeConfig | None = None) -> FastAPI:
    """Build the app; ``predictor_factory()`` runs once at startup and returns a loaded Predictor.

    Args:
        predictor_factory: e.g. ``lambda: load_predictor(ExtractConfig(input="-", run="out/sft/tiny"))``.
        cfg: limits, timeout, token and allowed hosts (:class:`~cancerllm.serve.server.ServeConfig`; defaults
            when None). The token falls back to the ``CANCERLLM_SERVE_TOKEN`` environment variable.
    Returns:
        A FastAPI app; run it with ``uvicorn`` or :func:`cancerllm.serve.server.serve`.
    """
    cfg = cfg or ServeConfig()
    token = cfg.effective_token()
    # One generation thread: generation already uses every core, and a fast tokenizer must not be used from two
    # threads at once. Requests queue in front of it (at most max_queue), each with its own deadline.
    state: dict[str, Any] = {"predictor": None, "executor": None, "pending": 0, "jobs": set()}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        state["executor"] = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cancerllm-generate")
        t0 = time.perf_counter()
        state["predictor"] = predictor_factory()
        if state["predictor"] is not None:
            log.info("predictor ready in %.1f s", time.perf_counter() - t0)
        yield
        for job in list(state["jobs"]):  # stop a running generation so shutdown does not wait for it
            job.cancel("server shutting down")
        state["executor"].shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="CancerLLM", summary="Grounded oncology phenotypes and ICD-10-CM diagnoses from notes.",
                  lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(Guard, max_body_bytes=cfg.max_body_bytes, allowed_hosts=cfg.allowed_hosts, token=token,
                       body_timeout_s=cfg.timeout_s)
    fhir_results = install_fhir_routes(app)  # GET /fhir/{id} (Bundles of the notes answered below), POST /fhir

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default 422 echoes the offending input back; for a note that would be clinical text.
        detail = [{"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": detail})

    def _finished(job: Job) -> Callable[[Any], None]:
        def done(fut: Any) -> None:  # runs on the event loop once the generation thread is done with this job
            state["pending"] -= 1
            state["jobs"].discard(job)
            if not fut.cancelled():
                fut.exception()  # retrieved here: a 504'd request's late RequestCancelled is expected
        return done

    async def _predict(request: Request, task: str, body: PredictRequest) -> Any:
        job = Job.start(cfg.timeout_s)
        route = "extract" if task == "phenotype" else "diagnose"
        base = state["predictor"]
        if base is None:
            raise HTTPException(503, "no model loaded: start the server with --run RUN or --model.path PATH")
        problems = _limit_problems(body, cfg)
        if problems:
            return JSONResponse(status_code=422, content={"detail": problems})
        if state["pending"] > cfg.max_queue:  # pending counts the request generating now plus those waiting
            log.info("POST /%s: 503, %d requests already waiting", route, state["pending"] - 1)
            raise HTTPException(503, f"busy: {state['pending'] - 1} requests are waiting for the model "
                                     f"(max_queue={cfg.max_queue}); retry later", headers={"Retry-After": "5"})
        notes = [Note(id=n.id, text=n.text) for n in body.notes]
        t0 = time.perf_counter()
        fut = asyncio.get_running_loop().run_in_executor(state["executor"], _work, base, notes, task, body.types, job)
        state["pending"] += 1
        state["jobs"].add(job)
        fut.add_done_callback(_finished(job))
        watcher = asyncio.create_task(_watch_disconnect(request, job))
        try:
            # asyncio.wait never cancels fut: after a timeout the thread sees the cancelled job and stops itself.
            await asyncio.wait({fut, watcher}, timeout=max(job.remaining(), 0.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
        seconds = time.perf_counter() - t0
        if fut.done() and not fut.cancelled() and fut.exception() is None:
            records, stats = fut.result()
            fhir_results.add(notes, records)
            log.info("POST /%s: %d note(s), %d with errors, %.2f s", route, len(notes),
                     sum(1 for r in records if r.errors), seconds)
            return PredictResponse(task=task, predictions=records, seconds=round(seconds, 3),
                                   generation=stats.as_dict())
        if fut.done() and not fut.cancelled() and not isinstance(fut.exception(), RequestCancelled):
            log.error("POST /%s: %d note(s) failed after %.2f s (%s)", route, len(notes), seconds,
                      type(fut.exception()).__name__)
            raise HTTPException(500, f"internal error ({type(fut.exception()).__name__}); see the server log (which "
                                     "holds no note text)")
        job.cancel("timeout")  # keeps an earlier reason (client disconnected, server shutting down)
        log.info("POST /%s: %d note(s) stopped after %.2f s (%s)", route, len(notes), seconds, job.reason)
        if job.reason == "client disconnected":
            return JSONResponse(status_code=499, content={"detail": "client disconnected"})  # nobody reads it
        raise HTTPException(504, f"request not answered within {cfg.timeout_s:g} s (timeout_s), waiting included; "
                                 "its generation was stopped. Send fewer or shorter notes, or raise timeout_s")

    @app.post("/extract", response_model=PredictResponse)
    async def extract(request: Request, body: PredictRequest) -> Any:
        """Phenotype mentions (type, span, value, assertion) for each note."""
        return await _predict(request, "phenotype", body)

    @app.post("/diagnose", response_model=PredictResponse)
    async def diagnose(request: Request, body: PredictRequest) -> Any:
        """A diagnosis statement with a validated ICD-10-CM code for each note."""
        return await _predict(request, "diagnosis", body)

    @app.get("/health", response_model=Health)
    def health() -> Health:
        import importlib.metadata

        p = state["predictor"]
        return Health(status="ok" if p is not None else "no model",
                      model=public_model_info(getattr(p, "info", {}) or {}),
                      prompt_style=getattr(p, "style_name", ""), types=list(getattr(p, "types", [])),
                      version=importlib.metadata.version("cancerllm"), auth=token is not None,
                      limits={"max_body_bytes": cfg.max_body_bytes, "max_notes": cfg.max_notes,
                              "max_note_chars": cfg.max_note_chars, "timeout_s": cfg.timeout_s})

    @app.get("/schema", response_model=SchemaInfo)
    def schema() -> SchemaInfo:
        from cancerllm.knowledge.phenotypes import ASSERTIONS, ENTITY_TYPES

        types = [{"name": t.name, "definition": t.definition, "examples": list(t.examples), "family": t.family,
                  "value_format": t.value_format} for t in ENTITY_TYPES.values()]
        # The tasks this server answers (/extract, /diagnose); trial criteria go through `cancerllm extract --task trial`.
        return SchemaInfo(entity_types=types, assertions=list(ASSERTIONS), tasks=["phenotype", "diagnosis"])

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(review_page())

    include_review(app, cfg)  # /review/* when cfg.review_db is set (cancerllm.review.routes)
    return app
