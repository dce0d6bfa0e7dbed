"""The HTTP app: a thin typed adapter over ``Predictor.predict`` (request schema -> predict -> response schema).

Routes: ``POST /extract`` and ``POST /diagnose`` (one Prediction per note, in input order), ``GET /health`` (the
loaded model), ``GET /schema`` (entity types, assertions), ``GET /`` (the self-contained review page).

Guarantees a client can rely on:

* one record per note: an empty note gets a record with an error and is not sent to the model; a note that breaks
  the model call gets its own record with the error while the other notes of the request are still predicted;
  a batch never turns into a 500.
* a malformed body is a 422 whose ``detail`` names each bad field (``notes.0.text``) without echoing its value.
* no note text is logged: the only log line per request holds the route, counts and seconds.

Example:
    >>> from fastapi.testclient import TestClient
    >>> with TestClient(create_app(lambda: None)) as client:
    ...     client.post("/extract", json={"notes": [{"id": "a"}]}).json()["detail"][0]["field"]
    'notes.0.text'
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse

from cancerllm.data.schema import Note, Prediction
from cancerllm.serve.schemas import Health, PredictRequest, PredictResponse, SchemaInfo

__all__ = ["create_app", "predict_isolated", "review_page"]

log = logging.getLogger("cancerllm.serve")


def review_page() -> str:
    """The review page HTML (inline JS/CSS, no network), shipped as package data ``serve/static/review.html``."""
    from importlib.resources import files

    return (files("cancerllm.serve") / "static" / "review.html").read_text(encoding="utf-8")


def predict_isolated(predictor: Any, notes: list[Note], task: str) -> list[Prediction]:
    """``predictor.predict`` with per-note isolation: one record per note whatever fails.

    Blank notes get an error record without a model call. If the batched call raises (the Predictor already
    isolates prompt building and parsing; this catches the rest, e.g. an out-of-memory generate), each note is
    retried alone so only the note that breaks it carries the error.
    """
    out: dict[int, Prediction] = {}
    todo = []
    for i, note in enumerate(notes):
        if note.text.strip():
            todo.append(i)
        else:
            out[i] = Prediction(id=note.id, task=task, errors=[
                f"text: empty note ({len(note.text)} characters, none visible); nothing to {task}"])
    if todo:
        try:
            for i, pred in zip(todo, predictor.predict([notes[i] for i in todo], task)):
                out[i] = pred
        except Exception as err:  # noqa: BLE001 - any failure must degrade to per-note records, never a 500
            log.warning("%s batch of %d notes failed (%s); retrying note by note", task, len(todo),
                        type(err).__name__)
            for i in todo:
                try:
                    out[i] = predictor.predict([notes[i]], task)[0]
                except Exception as one:  # noqa: BLE001
                    out[i] = Prediction(id=notes[i].id, task=task, errors=[
                        f"model call failed: {type(one).__name__}: {str(one)[:200]}"])
    return [out[i] for i in range(len(notes))]


def _field(loc: tuple | list) -> str:
    # FastAPI locations start with where the value came from ("body", "query"); clients name fields by path.
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if parts and parts[0] in ("body", "query", "path") else parts) or "body"


def create_app(predictor_factory: Callable[[], Any]) -> FastAPI:
    """Build the app; ``predictor_factory()`` runs once at startup and returns a loaded Predictor.

    Args:
        predictor_factory: e.g. ``lambda: load_predictor(ExtractConfig(input="-", run="out/sft/tiny"))``.
    Returns:
        A FastAPI app; run it with ``uvicorn`` or :func:`cancerllm.serve.server.serve`.
    """
    state: dict[str, Any] = {"predictor": None}
    # One prediction at a time: generation already uses every core, and Predictor.stats is not thread-safe.
    lock = threading.Lock()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        t0 = time.perf_counter()
        state["predictor"] = predictor_factory()
        if state["predictor"] is not None:
            log.info("predictor ready in %.1f s", time.perf_counter() - t0)
        yield

    app = FastAPI(title="CancerLLM", summary="Grounded oncology phenotypes and ICD-10-CM diagnoses from notes.",
                  lifespan=lifespan)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default 422 echoes the offending input back; for a note that would be clinical text.
        detail = [{"field": _field(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": detail})

    def _predict(task: str, body: PredictRequest) -> PredictResponse:
        from cancerllm.infer.generate import GenerationStats

        base = state["predictor"]
        if base is None:
            raise HTTPException(503, "no model loaded: start the server with --run RUN or --model.path PATH")
        notes = [Note(id=n.id, text=n.text) for n in body.notes]
        t0 = time.perf_counter()
        with lock:
            # A shallow copy shares the model and tokenizer but gets its own types and counters for this request.
            pred = copy.copy(base)
            pred.stats = GenerationStats()
            if body.types is not None:
                pred.types = list(body.types)
            records = predict_isolated(pred, notes, task)
        seconds = time.perf_counter() - t0
        log.info("POST /%s: %d note(s), %d with errors, %.2f s", "extract" if task == "phenotype" else "diagnose",
                 len(notes), sum(1 for r in records if r.errors), seconds)
        return PredictResponse(task=task, predictions=records, seconds=round(seconds, 3),
                               generation=pred.stats.as_dict())

    @app.post("/extract", response_model=PredictResponse)
    def extract(body: PredictRequest) -> PredictResponse:
        """Phenotype mentions (type, span, value, assertion) for each note."""
        return _predict("phenotype", body)

    @app.post("/diagnose", response_model=PredictResponse)
    def diagnose(body: PredictRequest) -> PredictResponse:
        """A diagnosis statement with a validated ICD-10-CM code for each note."""
        return _predict("diagnosis", body)

    @app.get("/health", response_model=Health)
    def health() -> Health:
        import importlib.metadata

        p = state["predictor"]
        return Health(status="ok" if p is not None else "no model", model=getattr(p, "info", {}) or {},
                      prompt_style=getattr(p, "style_name", ""), types=list(getattr(p, "types", [])),
                      version=importlib.metadata.version("cancerllm"))

    @app.get("/schema", response_model=SchemaInfo)
    def schema() -> SchemaInfo:
        from cancerllm.data.phenotypes import ASSERTIONS, ENTITY_TYPES
        from cancerllm.data.schema import TASKS

        types = [{"name": t.name, "definition": t.definition, "examples": list(t.examples), "family": t.family,
                  "value_format": t.value_format} for t in ENTITY_TYPES.values()]
        return SchemaInfo(entity_types=types, assertions=list(ASSERTIONS), tasks=list(TASKS))

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(review_page())

    return app
