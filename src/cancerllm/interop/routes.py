"""``GET /fhir/{id}`` and ``POST /fhir`` for the server: the FHIR Bundle of a note, from the server's result store.

The server keeps, in memory, the Prediction records of the last ``max_notes`` notes it answered on ``POST
/extract`` and ``POST /diagnose`` (both joined by note id) and the *hashes* of their texts, never the texts:
``GET /fhir/{id}`` builds the Bundle from those (so it cannot include the text). A note id sent again with another
text replaces the stored one; the same text joins (``/extract`` then ``/diagnose``). ``POST /fhir`` turns a
Prediction a client kept (and optionally its note text, with ``include_text``) into a Bundle without any store.

Installed by :func:`install` (one line in :func:`cancerllm.serve.app.create_app`); the routes sit behind the same
Guard (Host check, bearer token, body size) as ``/extract``.

Example:
    >>> from cancerllm.data.schema import Note, Prediction
    >>> store = ResultStore(max_notes=1)
    >>> store.add([Note(id="a", text="pT2")], [Prediction(id="a", task="phenotype")])
    >>> store.add([Note(id="b", text="N0")], [Prediction(id="b", task="phenotype")])
    >>> store.get("a") is None, store.get("b").digest["size"]
    (True, 2)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cancerllm.data.schema import Note, Prediction
from cancerllm.errors import CancerLLMError
from cancerllm.interop.records import ExportRecord, text_digest

__all__ = ["FhirRequest", "ResultStore", "install"]

FHIR_JSON = "application/fhir+json"


class ResultStore:
    """The last ``max_notes`` notes' predictions (least recently added dropped first), hashes but no text."""

    def __init__(self, max_notes: int = 1000):
        self.max_notes = max_notes
        self._items: OrderedDict[str, ExportRecord] = OrderedDict()

    def add(self, notes: list[Note], records: list[Prediction]) -> None:
        """Keep ``records`` (one per note, in order), replacing a stored note whose text changed."""
        for note, pred in zip(notes, records, strict=True):
            digest = text_digest(note.text)
            old = self._items.pop(pred.id, None)
            if old is not None and old.digest == digest:
                old.merge(pred)  # the same note again: /diagnose after /extract adds its diagnosis
                rec = old
            else:
                rec = ExportRecord.from_prediction(pred, where="server")
                rec.digest = digest
            self._items[pred.id] = rec
            while len(self._items) > self.max_notes:
                self._items.popitem(last=False)

    def get(self, note_id: str) -> ExportRecord | None:
        return self._items.get(note_id)

    def __len__(self) -> int:
        return len(self._items)


class FhirRequest(BaseModel):
    """Body of ``POST /fhir``: a Prediction record, optionally the text it was made on."""

    model_config = ConfigDict(extra="forbid")

    prediction: Prediction
    text: str | None = Field(default=None, description="The note text: adds its hash and checks the spans.")
    include_text: bool = Field(default=False, description="Put the text in the Bundle (needs text).")


def _bundle_response(rec: ExportRecord, include_text: bool = False) -> JSONResponse:
    try:
        from cancerllm.interop.fhir import note_bundle_json
    except ImportError:
        raise HTTPException(501, "FHIR export needs fhir.resources: pip install 'cancerllm[interop]'") from None
    try:
        rec.check_spans()
        _bundle, doc = note_bundle_json(rec, include_text=include_text)
    except CancerLLMError as err:  # our messages name document and field, never note text
        raise HTTPException(422, str(err)) from None
    return JSONResponse(content=doc, media_type=FHIR_JSON)


def install(app: FastAPI, max_notes: int = 1000) -> ResultStore:
    """Add the ``/fhir`` routes to ``app``; returns the store the app's predict path feeds with ``add``."""
    store = ResultStore(max_notes)
    router = APIRouter()

    @router.get("/fhir/{note_id}", response_class=JSONResponse)
    def fhir_bundle(note_id: str) -> Any:
        """The FHIR R4 / mCODE Bundle of a note this server predicted (its last ``max_notes`` notes)."""
        rec = store.get(note_id)
        if rec is None:
            raise HTTPException(404, f"no prediction for this note id among the last {store.max_notes} notes "
                                     "this server answered; POST the note to /extract first")
        return _bundle_response(rec)

    @router.post("/fhir", response_class=JSONResponse)
    def fhir_from_prediction(body: FhirRequest) -> Any:
        """The FHIR Bundle of a Prediction record sent by the client (nothing is stored)."""
        if body.include_text and body.text is None:
            raise HTTPException(422, "include_text: needs text (the note the prediction was made on)")
        try:
            rec = ExportRecord.from_prediction(body.prediction, where="request")
        except CancerLLMError as err:
            raise HTTPException(422, str(err)) from None
        rec.text = body.text
        return _bundle_response(rec, body.include_text)

    app.include_router(router)
    app.state.fhir_results = store
    return store
