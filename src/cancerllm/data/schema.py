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
from cancerllm.knowledge.trial import GROUP_TYPES, PATHOLOGY_RELATION_TYPES, TRIAL_ENTITY_TYPES, TRIAL_RELATION_TYPES

__all__ = ["TASKS", "Assertion", "Diagnosis", "Group", "InstructionExample", "Mention", "Note", "Prediction", "Relation"]

Assertion = Literal["present", "negated", "possible", "historical", "family"]
TASKS = ("phenotype", "diagnosis", "trial")
Task = Literal["phenotype", "diagnosis", "trial"]
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
        if v not in ENTITY_TYPES and v not in TRIAL_ENTITY_TYPES:  # pathology types, or Chia's trial types
            allowed = ", ".join(repr(t) for t in sorted(ENTITY_TYPES))
            trial = ", ".join(repr(t) for t in TRIAL_ENTITY_TYPES)
            raise ValueError(f"got {v!r}, expected one of [{allowed}] (pathology) or [{trial}] (trial criteria)")
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


def _empty(v: list) -> bool:
    return not v


class Relation(BaseModel):
    """A typed link between two mentions of the same record, by index into its ``mentions`` list.

    ``head`` is brat's Arg1 and ``tail`` Arg2: "HbA1c > 7%" is ``Relation(type="Has_value", head=<HbA1c>,
    tail=<> 7%>)``. Extra fields (Chia's ``ann_id``) are kept.
    """

    model_config = ConfigDict(extra="allow")

    type: str
    head: int
    tail: int

    @field_validator("type")
    @classmethod
    def _known_relation(cls, v: str) -> str:
        if v not in TRIAL_RELATION_TYPES and v not in PATHOLOGY_RELATION_TYPES:
            raise ValueError(f"got {v!r}, expected one of {list(TRIAL_RELATION_TYPES) + list(PATHOLOGY_RELATION_TYPES)}")
        return v


class Group(BaseModel):
    """An n-ary equivalence annotation: ``OR`` (alternatives) or ``NOT``, members by mention index."""

    model_config = ConfigDict(extra="allow")

    type: str
    members: list[int]

    @field_validator("type")
    @classmethod
    def _known_group(cls, v: str) -> str:
        if v not in GROUP_TYPES:
            raise ValueError(f"got {v!r}, expected one of {list(GROUP_TYPES)}")
        return v


def _check_links(relations: list[Relation], groups: list[Group], n: int) -> None:
    """Every relation argument and group member must index an existing mention."""
    for i, r in enumerate(relations):
        if not (0 <= r.head < n and 0 <= r.tail < n):
            raise ValueError(f"relations[{i}]: head {r.head} / tail {r.tail} outside the {n} mentions")
    for i, g in enumerate(groups):
        if any(not 0 <= m < n for m in g.members):
            raise ValueError(f"groups[{i}]: a member index is outside the {n} mentions")


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
    # Trial criteria (Chia): links between mentions. Left out of the JSON when empty, so records without them
    # (every pathology note) are written byte for byte as before.
    relations: list[Relation] = Field(default_factory=list, exclude_if=_empty)
    groups: list[Group] = Field(default_factory=list, exclude_if=_empty)

    @model_validator(mode="after")
    def _links_in_range(self) -> Note:
        _check_links(self.relations, self.groups, len(self.mentions))
        return self

    def check_spans(self) -> None:
        for m in self.mentions:
            m.check_span(self.text, self.id)


class InstructionExample(BaseModel):
    """One supervised prompt -> completion pair (TRL prompt/completion format: loss on the completion only)."""

    id: str
    task: Task
    prompt: str
    completion: str
    note_id: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class Prediction(BaseModel):
    """One output record of extract/diagnose: always written, even when generation failed (see ``errors``)."""

    id: str
    task: Task
    mentions: list[Mention] = Field(default_factory=list)
    relations: list[Relation] = Field(default_factory=list, exclude_if=_empty)
    """Trial task: links between the predicted mentions (by index); left out of the JSON when empty."""
    groups: list[Group] = Field(default_factory=list, exclude_if=_empty)
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
