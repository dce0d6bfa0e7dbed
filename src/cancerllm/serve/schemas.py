"""Request and response bodies of the HTTP API (pydantic): what ``POST /extract`` and ``POST /diagnose`` accept.

The response carries the library's own :class:`~cancerllm.data.schema.Prediction` records unchanged, one per input
note and in input order, so a client of the server and a user of ``Predictor.predict`` read the same fields.

Example:
    >>> req = PredictRequest(notes=[{"id": "n1", "text": "pT2 N0 M0."}])
    >>> req.notes[0].id, req.types
    ('n1', None)
    >>> PredictRequest(notes=[])
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for PredictRequest
    notes
      List should have at least 1 item after validation, not 0 ...
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cancerllm.data.schema import Prediction
from cancerllm.knowledge.phenotypes import ENTITY_TYPES

__all__ = ["Health", "NoteIn", "PredictRequest", "PredictResponse", "SchemaInfo"]

# Notes per request and characters per note are server settings (``ServeConfig.max_notes`` / ``max_note_chars``),
# checked by the app after parsing so a deployment can change them; the body size bounds parsing itself.


class NoteIn(BaseModel):
    """One note to process. Extra fields (gold labels, metadata) are rejected so typos in field names surface."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="Caller's note id, echoed in the record.")
    text: str = Field(description="The note text; an empty note gets a record with an error.")


class PredictRequest(BaseModel):
    """Body of ``POST /extract`` and ``POST /diagnose``."""

    model_config = ConfigDict(extra="forbid")

    notes: list[NoteIn] = Field(min_length=1, description="At most the server's max_notes (see GET /health).")
    types: list[str] | None = Field(default=None, description="Entity types to ask for (extract only); default: "
                                    "the server's types (the run's trained types, else every schema type).")

    @field_validator("types")
    @classmethod
    def _known_types(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        unknown = [t for t in v if t not in ENTITY_TYPES]
        if unknown or not v:
            raise ValueError(f"got {unknown or v}, expected a non-empty list of {sorted(ENTITY_TYPES)}")
        return v


class PredictResponse(BaseModel):
    """One Prediction per input note, in input order, plus timing and token counts of this request."""

    task: str
    predictions: list[Prediction]
    seconds: float
    generation: dict[str, Any] = Field(default_factory=dict)
    """Prompt/new token counts and generate time of this request (``GenerationStats.as_dict``)."""


class Health(BaseModel):
    """``GET /health``: the loaded model (names, never filesystem paths), how it was configured, and the limits."""

    status: str
    model: dict[str, Any]
    prompt_style: str
    types: list[str]
    version: str
    auth: bool = False
    """True when the API routes need ``Authorization: Bearer <token>``."""
    limits: dict[str, Any] = Field(default_factory=dict)
    """``max_body_bytes``, ``max_notes``, ``max_note_chars`` and ``timeout_s`` of this server."""


class SchemaInfo(BaseModel):
    """``GET /schema``: entity types (with definitions and examples), assertion values and tasks."""

    entity_types: list[dict[str, Any]]
    assertions: list[str]
    tasks: list[str]
