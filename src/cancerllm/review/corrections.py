"""What a reviewer may send, and the checks a correction passes before it is stored.

A correction targets one mention (by its index in the note's review) or one document label:

* ``accept`` / ``reject`` a mention or a label as the model gave it (or as last corrected);
* ``edit`` a mention (type, span, assertion, value; no value = the normalised one) or a label (its value);
* ``add`` a mention the model missed.

Checks (all problems of one request are reported together, each as ``{"field", "type", "message"}``):
an edited span must lie inside the note with ``start < end`` and, when the client sends the text it selected,
``note[start:end]`` must equal it (offsets are Unicode code points, end-exclusive: a client slicing UTF-16 strings
would be shifted by every emoji before the span); the type and assertion come from the schema's sets, a label's
value from the label's classes. **No message quotes the note or the mention text**; a value the client sent is
shown only when it looks like an identifier (a type name, a label class).

Example:
    >>> c = CorrectionIn(note_id="n1", action="edit", index=0,
    ...                  mention={"type": "stage_t", "start": 4, "end": 7, "text": "pT3"})
    >>> after, problems = check_mention(c, "Dx: pT2 N0", n_mentions=1)
    >>> problems[0]["field"], problems[0]["type"]
    ('mention.text', 'span_mismatch')
    >>> after, problems = check_mention(c.model_copy(update={"mention": MentionIn(type="stage_t", start=4, end=7)}),
    ...                                 "Dx: pT2 N0", n_mentions=1)
    >>> after["text"], problems
    ('pT2', [])
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cancerllm.data.schema import Assertion, Mention, Prediction
from cancerllm.errors import CancerLLMError
from cancerllm.knowledge.phenotypes import ENTITY_TYPES
from cancerllm.knowledge.values import normalize_value

__all__ = ["LABEL_VALUES", "CorrectionIn", "LoadIn", "MentionIn", "ReviewProblem", "check_label", "check_mention",
           "check_reviewer", "shown"]

LABEL_VALUES: dict[str, tuple[str, ...]] = {
    "t_stage": ("T1", "T2", "T3", "T4"), "n_stage": ("N0", "N1", "N2", "N3"), "m_stage": ("M0", "M1")}
"""Document labels a reviewer may set, with their classes (the TCGA coarse TNM classes; ``null`` = not stated)."""

_IDENTIFIER = re.compile(r"[A-Za-z0-9_.:+-]{1,40}")


def shown(value: Any) -> str:
    """``repr(value)`` when it looks like an identifier (safe to echo), else ``(value not shown)``.

    Example:
        >>> shown("size"), shown("left breast carcinoma")
        ("'size'", '(value not shown)')
    """
    return repr(value) if isinstance(value, str) and _IDENTIFIER.fullmatch(value) else "(value not shown)"


class ReviewProblem(CancerLLMError):
    """One or more problems with a review request; ``problems`` are ``{"field", "type", "message"}`` dicts and
    ``status`` the HTTP status the server answers with (422 invalid, 404 unknown note, 409 conflict)."""

    code = "E200"

    def __init__(self, field: str | list[dict[str, str]], type_: str = "", message: str = "", status: int = 422):
        self.problems = field if isinstance(field, list) else [{"field": field, "type": type_, "message": message}]
        self.status = status
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in self.problems))


class MentionIn(BaseModel):
    """A mention as the reviewer wants it (``edit`` / ``add``). ``text`` is optional: the stored text is always
    ``note[start:end]``; when sent, it must equal that slice (it catches clients counting UTF-16 units)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=0)
    assertion: Assertion = "present"
    value: str | None = Field(default=None, max_length=200, description="Normalised value (T2, ER: positive).")
    code: str | None = Field(default=None, max_length=20)
    text: str | None = Field(default=None, description="What the client selected; checked, never echoed.")
    inferred: bool = False

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        if v not in ENTITY_TYPES:
            raise ValueError(f"got {shown(v)}, expected one of {sorted(ENTITY_TYPES)}")
        return v


class CorrectionIn(BaseModel):
    """Body of ``POST /review/corrections``. The reviewer comes from this field or the ``X-Reviewer`` header."""

    model_config = ConfigDict(extra="forbid")

    note_id: str = Field(min_length=1, max_length=200)
    action: Literal["accept", "reject", "edit", "add"]
    target: Literal["mention", "label"] = "mention"
    index: int | None = Field(default=None, ge=0, description="Mention index (accept/reject/edit of a mention).")
    label: str | None = Field(default=None, max_length=40, description="Label name (target=label).")
    mention: MentionIn | None = Field(default=None, description="The corrected mention (edit/add).")
    value: str | None = Field(default=None, max_length=40, description="The corrected label value (edit a label).")
    reviewer: str | None = Field(default=None, max_length=100)


class NoteBody(BaseModel):
    """The note of a review: id and text (the reviewer reads it; it is stored in the review database only)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1)


class LoadIn(BaseModel):
    """Body of ``POST /review/notes``: a note and its phenotype Prediction record (``POST /extract``'s answer)."""

    model_config = ConfigDict(extra="forbid")

    note: NoteBody
    prediction: Prediction
    replace: bool = Field(default=False, description="Start the note's review again, dropping its corrections.")


def check_reviewer(reviewer: str | None) -> list[dict[str, str]]:
    """Problems with the reviewer's name: required, 1-100 printable characters."""
    if reviewer is None or not reviewer.strip():
        return [{"field": "reviewer", "type": "missing", "message": "who is reviewing: send the X-Reviewer header "
                 "or the reviewer field (1-100 characters)"}]
    if len(reviewer) > 100 or not reviewer.isprintable():
        return [{"field": "reviewer", "type": "invalid", "message": f"got {len(reviewer)} characters, expected 1-100 "
                 "printable characters"}]
    return []


def _span(m: MentionIn, text: str) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """The stored mention for ``m`` (text taken from the note) and the problems with its span."""
    def problem(field: str, kind: str, message: str) -> tuple[None, list[dict[str, str]]]:
        return None, [{"field": f"mention.{field}", "type": kind, "message": message}]

    n = len(text)  # code points, the unit of every offset in cancerllm
    if m.start is None and m.end is None:
        if not m.inferred or not (m.value or m.text):
            return problem("start", "missing", "expected start and end (code points, end-exclusive), or inferred=true "
                           "with a value for a finding the note does not quote")
        return Mention(type=m.type, text=m.value or m.text or "", assertion=m.assertion, value=m.value, code=m.code,
                       inferred=True).model_dump(), []
    if m.start is None or m.end is None:
        return problem("end" if m.end is None else "start", "missing", "expected both start and end, or neither")
    if m.end > n:
        return problem("end", "out_of_range", f"got end={m.end}, expected at most the note length {n} (code points)")
    if m.start >= m.end:
        return problem("start", "empty_span", f"got [{m.start}, {m.end}), expected start < end")
    quoted = text[m.start:m.end]
    if m.text is not None and quoted != m.text:
        return problem("text", "span_mismatch", f"the note's characters [{m.start}, {m.end}) differ from the sent "
                       "text; offsets count Unicode code points (not UTF-16 units), end-exclusive")
    if not quoted.strip():
        return problem("start", "blank_span", f"[{m.start}, {m.end}) holds only whitespace")
    # Without a value the gold note gets the normalised one ("18 mm" -> "1.8 cm", "ypT2a" -> "T2"), as the
    # synthetic and converted gold data have: sft teaches the value the model must give.
    value = m.value if m.value is not None else normalize_value(m.type, quoted)
    return Mention(type=m.type, text=quoted, start=m.start, end=m.end, assertion=m.assertion, value=value,
                   code=m.code).model_dump(), []


def check_mention(c: CorrectionIn, text: str, n_mentions: int,
                  current: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Check a mention correction against the note; returns ``(mention after the correction, problems)``.

    Args:
        c: the correction (``target="mention"``).
        text: the note's text.
        n_mentions: how many mentions the note's review holds (valid indexes are ``0..n-1``).
        current: the targeted mention as it stands (accept/reject/edit), to refuse accepting a broken span.
    """
    problems: list[dict[str, str]] = []
    if c.action != "add":
        if c.index is None:
            problems.append({"field": "index", "type": "missing", "message": f"expected the mention's index "
                             f"(0..{n_mentions - 1}) for action {c.action!r}"})
        elif c.index >= n_mentions:
            problems.append({"field": "index", "type": "out_of_range", "message": f"got {c.index}, expected "
                             f"0..{n_mentions - 1} ({n_mentions} mention(s) in this review)" if n_mentions else
                             f"got {c.index}, but this review holds no mention (use action 'add')"})
    if c.action in ("edit", "add") and c.mention is None:
        problems.append({"field": "mention", "type": "missing", "message": f"action {c.action!r} needs the corrected "
                         "mention: {type, start, end, assertion, value}"})
    if c.action in ("accept", "reject") and c.mention is not None:
        problems.append({"field": "mention", "type": "unexpected", "message": "only actions 'edit' and 'add' take "
                         "a mention; accept/reject act on the mention as it stands"})
    if problems:
        return None, problems
    if c.action in ("edit", "add"):
        return _span(c.mention, text)
    if c.action == "accept" and current is not None and current.get("start") is not None and \
            text[current["start"]:current["end"]] != current.get("text"):
        return None, [{"field": "index", "type": "span_mismatch", "message": f"mention #{c.index}'s span "
                       f"[{current['start']}, {current['end']}) does not match the note; edit its span or reject it"}]
    return current, []


def check_label(c: CorrectionIn, known: dict[str, Any]) -> list[dict[str, str]]:
    """Problems with a label correction; ``known`` maps the review's label names to their current values."""
    names = sorted(set(LABEL_VALUES) | set(known))
    if c.label is None:
        return [{"field": "label", "type": "missing", "message": f"expected a label name, one of {names}"}]
    if c.label not in names:
        return [{"field": "label", "type": "unknown", "message": f"got {shown(c.label)}, expected one of {names}"}]
    if c.action == "add" or c.mention is not None:
        return [{"field": "action", "type": "invalid", "message": "a label takes accept, reject or edit (with value)"}]
    if c.action in ("accept", "reject") and c.label not in known:
        return [{"field": "label", "type": "not_predicted", "message": f"the model gave no {c.label}; use action "
                 "'edit' with a value"}]
    allowed = LABEL_VALUES.get(c.label)
    if c.action == "edit" and allowed is not None and c.value is not None and c.value not in allowed:
        return [{"field": "value", "type": "invalid", "message": f"got {shown(c.value)}, expected one of "
                 f"{list(allowed)} or null (not stated) for {c.label}"}]
    return []
