"""Typed records (pydantic): notes, mentions, diagnoses, instruction examples and prediction records.

Spans are Python string offsets (Unicode code points, end-exclusive), so ``note.text[m.start:m.end] == m.text``
holds for every grounded mention whatever the script of the note.

Example:
    >>> note = Note(id="n1", text="ER positive, no HER2 amplification.")
    >>> m = Mention(type="biomarker", text="ER positive", start=0, end=11, value="ER: positive")
    >>> m.check_span(note.text)
    >>> Mention(type="size", text="x", start=0, end=1)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Mention
    type
      Value error, got 'size', expected one of ['biomarker', 'cancer_diagnosis', ...
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cancerllm.errors import DataFormatError
from cancerllm.knowledge.phenotypes import ASSERTIONS, ENTITY_TYPES

__all__ = ["TASKS", "Assertion", "Diagnosis", "InstructionExample", "Mention", "Note", "Prediction"]

Assertion = Literal["present", "negated", "possible", "historical", "family"]
TASKS = ("phenotype", "diagnosis")
assert set(ASSERTIONS) == set(Assertion.__args__)  # one source of truth, two spellings


class Mention(BaseModel):
    """One phenotype value grounded in the note.

    ``start``/``end`` are None only for a value the model inferred without quoting the note (``inferred=True``);
    such mentions are kept but never counted as grounded.
    """

    model_config = ConfigDict(extra="forbid")

    type: str
    text: str
    start: int | None = None
    end: int | None = None
    assertion: Assertion = "present"
    value: str | None = None
    """Normalised value (``T2``, ``ER: positive``, ``2.3 cm``); defaults to the surface text."""
    code: str | None = None
    """A code where one applies (ICD-10-CM, ICD-O-3)."""
    inferred: bool = False

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in ENTITY_TYPES:
            allowed = ", ".join(repr(t) for t in sorted(ENTITY_TYPES))
            raise ValueError(f"got {v!r}, expected one of [{allowed}]")
        return v

    @model_validator(mode="after")
    def _span_shape(self) -> Mention:
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end must both be set or both be None")
        if self.start is not None and not 0 <= self.start <= self.end:
            raise ValueError(f"span [{self.start}, {self.end}) is not a valid range")
        if self.start is None and not self.inferred:
            raise ValueError("a mention without a span must set inferred=true")
        return self

    def check_span(self, text: str, doc_id: str | None = None) -> None:
        """Raise DataFormatError unless ``text[start:end] == self.text`` (no text is quoted in the error)."""
        if self.start is None:
            return
        if self.end > len(text) or text[self.start:self.end] != self.text:
            raise DataFormatError(f"span [{self.start}, {self.end}) of a {self.type} mention does not match "
                                  f"its text (note length {len(text)})", doc_id=doc_id, field="mentions")


class Diagnosis(BaseModel):
    """A diagnosis statement with its ICD-10-CM code (validated against the packaged code table on use)."""

    model_config = ConfigDict(extra="forbid")

    text: str
    icd10: str | None = None
    cancer_type: str | None = None
    """TCGA-style project code (BRCA, LUAD...) when known."""


class Note(BaseModel):
    """A clinical note or pathology report, with optional gold labels."""

    model_config = ConfigDict(extra="allow")

    id: str
    text: str
    patient_id: str | None = None
    kind: str | None = None
    """pathology, progress, discharge, radiology, trial, ..."""
    cancer_type: str | None = None
    split: str | None = None
    mentions: list[Mention] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    labels: dict[str, str | None] = Field(default_factory=dict)
    """Document-level gold classes, e.g. {'t_stage': 'T2', 'n_stage': 'N0', 'm_stage': None}."""

    def check_spans(self) -> None:
        for m in self.mentions:
            m.check_span(self.text, self.id)


class InstructionExample(BaseModel):
    """One supervised prompt -> completion pair (TRL prompt/completion format: loss on the completion only)."""

    id: str
    task: Literal["phenotype", "diagnosis"]
    prompt: str
    completion: str
    note_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Prediction(BaseModel):
    """One output record of extract/diagnose: always written, even when generation failed (see ``errors``)."""

    id: str
    task: Literal["phenotype", "diagnosis"]
    mentions: list[Mention] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    labels: dict[str, str | None] = Field(default_factory=dict)
    """Document-level values derived from the mentions (t_stage, n_stage, m_stage, cancer_type)."""
    errors: list[str] = Field(default_factory=list)
    """Why a part of the output was dropped or repaired. An empty list means fully valid."""
    coverage: dict[str, int] = Field(default_factory=dict)
    """{'chars_total', 'chars_seen', 'chunks'}: how much of the note the model read."""
    retrieved: list[dict[str, Any]] = Field(default_factory=list)
    """RAG examples used in the prompt: [{'id', 'score'}]."""
    raw: list[str] = Field(default_factory=list)
    """Raw generations (kept for audit; contains model output only, never the prompt)."""
    meta: dict[str, Any] = Field(default_factory=dict)
