"""The review API, mounted on the server's app when it runs with ``--review-db FILE``.

Routes (behind the server's Host and token guards, like every route but ``/`` and ``/health``):

=========================  ==================================================================================
``GET /review/notes``       notes under review: id, text SHA-256, mention counts by status (no text)
``POST /review/notes``      put a note and its phenotype Prediction under review (``{note, prediction}``)
``GET /review/note?id=``    one review: the note, its mentions (model and current), labels and audit trail
``POST /review/corrections`` accept / reject / edit / add a mention, or accept / reject / edit a label
``GET /review/agreement``   model-vs-reviewer agreement per mention type and label
=========================  ==================================================================================

The reviewer is the ``reviewer`` body field or the ``X-Reviewer`` header. A bad request gets 422 with
``{"detail": [{"field", "type", "message"}]}`` naming each bad field and the allowed values, never quoting note
text; an unknown note 404; a conflicting load 409. Each request logs one line: route, action, status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI, Header
from fastapi.responses import JSONResponse

from cancerllm.review.corrections import CorrectionIn, LoadIn, ReviewProblem, check_label, check_mention, check_reviewer
from cancerllm.review.db import ReviewDB

__all__ = ["include_review", "review_router"]

log = logging.getLogger("cancerllm.serve")


def _problem_response(err: ReviewProblem) -> JSONResponse:
    return JSONResponse(status_code=err.status, content={"detail": err.problems})


def _unknown(note_id: str) -> ReviewProblem:
    return ReviewProblem("note_id", "not_found", "no note with this id is under review (GET /review/notes lists "
                         "them; POST /review/notes loads one)", status=404)


def review_router(db: ReviewDB, max_note_chars: int = 100_000) -> APIRouter:
    """The ``/review`` routes over ``db`` (see the module docstring)."""
    router = APIRouter(prefix="/review")

    @router.get("/notes")
    def list_notes() -> dict[str, Any]:
        """Notes under review, without their text."""
        return {"notes": db.summaries()}

    @router.post("/notes", status_code=201)
    def load_note(body: LoadIn) -> Any:
        """Put a note and its phenotype Prediction under review."""
        problems = []
        if len(body.note.text) > max_note_chars:
            problems.append({"field": "note.text", "type": "note_too_long", "message": f"got {len(body.note.text)} "
                             f"characters, expected at most {max_note_chars} (max_note_chars)"})
        if body.prediction.task != "phenotype":
            problems.append({"field": "prediction.task", "type": "invalid", "message": f"got "
                             f"{body.prediction.task!r}, expected 'phenotype' (the record POST /extract returns)"})
        if body.prediction.id != body.note.id:
            problems.append({"field": "prediction.id", "type": "mismatch", "message": "expected the note's id (the "
                             "record of another note was sent)"})
        try:
            if problems:
                raise ReviewProblem(problems)
            db.load(body.note.id, body.note.text, body.prediction.model_dump(mode="json"), replace=body.replace)
        except ReviewProblem as err:
            log.info("POST /review/notes: %d", err.status)
            return _problem_response(err)
        log.info("POST /review/notes: 201, %d mention(s)", len(body.prediction.mentions))
        return {"id": body.note.id, "mentions": len(body.prediction.mentions)}

    @router.get("/note")
    def get_note(id: str) -> Any:
        """One review: note, mentions, labels and its audit trail."""
        review = db.note(id)
        return review if review is not None else _problem_response(_unknown(id))

    @router.post("/corrections")
    def correct(body: CorrectionIn, x_reviewer: str | None = Header(default=None)) -> Any:
        """Apply one correction; answers the note's review as it now stands."""
        reviewer = body.reviewer or x_reviewer
        try:
            if problems := check_reviewer(reviewer):
                raise ReviewProblem(problems)
            review = db.note(body.note_id)
            if review is None:
                raise _unknown(body.note_id)
            if body.target == "label":
                if problems := check_label(body, {lab["name"]: lab["value"] for lab in review["labels"]}):
                    raise ReviewProblem(problems)
                db.record_label(body.note_id, reviewer, body.action, body.label, body.value)
            else:
                mentions = review["mentions"]
                current = mentions[body.index]["current"] if body.index is not None and body.index < len(mentions) \
                    else None
                after, problems = check_mention(body, review["text"], len(mentions), current)
                if problems:
                    raise ReviewProblem(problems)
                db.record_mention(body.note_id, reviewer, body.action, body.index, after)
        except ReviewProblem as err:
            log.info("POST /review/corrections: %s %s, %d", body.action, body.target, err.status)
            return _problem_response(err)
        log.info("POST /review/corrections: %s %s, 200", body.action, body.target)
        return db.note(body.note_id)

    @router.get("/agreement")
    def agreement() -> dict[str, Any]:
        """Model-vs-reviewer agreement per mention type and label (:func:`cancerllm.review.export.agreement`)."""
        from cancerllm.review.export import agreement as compute

        return compute(db)

    return router


def include_review(app: FastAPI, cfg: Any) -> None:
    """Mount the review routes on ``app`` when ``cfg.review_db`` is set (creating or migrating the file now, so a
    bad path fails at startup, not at the first correction)."""
    path = getattr(cfg, "review_db", None)
    if not path:
        return
    db = ReviewDB(path, audit_text=bool(getattr(cfg, "review_audit_text", False)))
    app.include_router(review_router(db, getattr(cfg, "max_note_chars", 100_000)))
    log.info("review routes on, %d note(s) under review", len(db.note_ids()))
