"""The review database (standard-library ``sqlite3``): notes under review, the model's predictions, the current
reviewed state of each mention and document label, and the audit trail of corrections.

One file, chosen by the user (``cancerllm serve --review-db review.sqlite``). The schema is created and upgraded by
:func:`migrate`: numbered migrations are applied in order, each in its own transaction together with its row in
``schema_version``, so running it again is a no-op and a half-applied upgrade cannot exist.

Tables (migration 1):

==============  ==========================================================================================
notes           id, SHA-256 of the text, the text (stored only because the reviewer reads it), loaded_at
predictions     the model's Prediction record per note and task, as loaded (JSON)
mentions        per note and mention index: origin (model/reviewer), status, the model's mention, the
                current mention after corrections (JSON)
labels          per note and label name (t_stage ...): the model's value, the current value, status
corrections     the audit trail: who, when (UTC), action, target (mention index or label), before, after
==============  ==========================================================================================

**The audit trail carries no note text** (issue 16 item 4): a mention in ``before``/``after`` keeps its type,
span offsets, assertion, code and a short digest of its value; the quoted text and the value itself are added only
when the database was opened with ``audit_text=True``. The offsets and the stored note give the text back to
whoever may read the note.

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "review.sqlite")
    >>> db = ReviewDB(path)
    >>> db.version(), migrate(path)          # a second migrate() applies nothing
    (1, [])
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cancerllm.errors import ResourceError
from cancerllm.review.corrections import ReviewProblem

__all__ = ["MIGRATIONS", "ReviewDB", "audit_mention", "migrate", "now", "sha256"]

MIGRATIONS: list[tuple[int, str]] = [
    (1, """
CREATE TABLE notes (
    id TEXT PRIMARY KEY,
    text_sha256 TEXT NOT NULL,
    text TEXT NOT NULL,
    loaded_at TEXT NOT NULL
);
CREATE TABLE predictions (
    note_id TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    task TEXT NOT NULL,
    record TEXT NOT NULL,
    loaded_at TEXT NOT NULL,
    PRIMARY KEY (note_id, task)
);
CREATE TABLE mentions (
    note_id TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('model', 'reviewer')),
    status TEXT NOT NULL CHECK (status IN ('unreviewed', 'accepted', 'rejected', 'edited', 'added')),
    model TEXT,
    current TEXT NOT NULL,
    PRIMARY KEY (note_id, idx)
);
CREATE TABLE labels (
    note_id TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    model_value TEXT,
    value TEXT,
    status TEXT NOT NULL CHECK (status IN ('unreviewed', 'accepted', 'rejected', 'edited')),
    PRIMARY KEY (note_id, name)
);
CREATE TABLE corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    note_id TEXT NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
    reviewer TEXT NOT NULL,
    at TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'edit', 'add')),
    target TEXT NOT NULL CHECK (target IN ('mention', 'label')),
    mention_index INTEGER,
    label TEXT,
    before TEXT,
    after TEXT
);
CREATE INDEX corrections_by_note ON corrections(note_id, id);
"""),
]
"""(version, SQL) pairs applied in order by :func:`migrate`; append new ones, never edit an applied one."""


def now() -> str:
    """The current UTC time, ISO 8601 with milliseconds (``2026-11-30T15:04:05.123+00:00``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def sha256(text: str) -> str:
    """Hex SHA-256 of ``text`` encoded as UTF-8 (identifies a note without quoting it)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _open(path: str | Path) -> sqlite3.Connection:
    # Autocommit mode: every write below opens its own explicit transaction (BEGIN IMMEDIATE), so a
    # read-modify-write of one correction cannot interleave with another request's.
    conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def migrate(path: str | Path) -> list[int]:
    """Create or upgrade the schema of the database at ``path``; returns the versions applied (``[]``: up to date).

    Raises:
        ResourceError: the file is not an SQLite database, or it was written by a newer cancerllm.
    """
    latest = MIGRATIONS[-1][0]
    conn = _open(path)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
        if current > latest:
            raise ResourceError(f"review database {path}: schema version {current} is newer than this cancerllm "
                                f"supports ({latest}); upgrade cancerllm or use another --review-db file")
        applied = []
        for version, sql in MIGRATIONS:
            if version <= current:
                continue
            # The migration and its version row commit together: a crash leaves the previous version intact.
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nINSERT INTO schema_version VALUES ({version}, "
                               f"'{now()}');\nCOMMIT;")
            applied.append(version)
        return applied
    except sqlite3.DatabaseError as err:
        raise ResourceError(f"review database {path}: {err} (expected an SQLite file made by cancerllm review, "
                            "or a new path)") from None
    finally:
        conn.close()


def audit_mention(mention: dict[str, Any] | None, status: str | None, with_text: bool) -> dict[str, Any] | None:
    """A mention as the audit trail records it: no quoted text and no value unless ``with_text``.

    Example:
        >>> audit_mention({"type": "stage_t", "text": "pT2", "start": 4, "end": 7, "assertion": "present",
        ...                "value": "T2", "code": None, "inferred": False}, "accepted", False)
        {'type': 'stage_t', 'start': 4, 'end': 7, 'assertion': 'present', 'code': None, 'inferred': False, \
'status': 'accepted', 'value_sha256': '0f617ba98e6a'}
    """
    if mention is None:
        return None
    out = {k: mention.get(k) for k in ("type", "start", "end", "assertion", "code", "inferred")}
    out["status"] = status
    value = mention.get("value")
    # A short digest shows whether the value changed without writing it (a value may be the note's own words).
    out["value_sha256"] = sha256(value)[:12] if value is not None else None
    if with_text:
        out["text"], out["value"] = mention.get("text"), value
    return out


class ReviewDB:
    """The review database at ``path`` (created and migrated on open).

    Every method opens its own short-lived connection, so one instance can serve a threaded web server.

    Args:
        path: the SQLite file (created when absent).
        audit_text: also write mention text and values into the audit trail (off by default: no note text there).
    """

    def __init__(self, path: str | Path, audit_text: bool = False):
        self.path, self.audit_text = Path(path), audit_text
        if self.path.parent and not self.path.parent.exists():
            raise ResourceError(f"review database: folder {self.path.parent} does not exist (--review-db)")
        migrate(self.path)

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (closed afterwards)."""
        conn = _open(self.path)
        try:
            yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        conn = _open(self.path)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def version(self) -> int:
        """The schema version of the file."""
        with self.read() as conn:
            return conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]

    # ---- notes and predictions ------------------------------------------------------------------------------

    def note_ids(self) -> list[str]:
        """Ids of every note under review, in load order."""
        with self.read() as conn:
            return [r[0] for r in conn.execute("SELECT id FROM notes ORDER BY loaded_at, id")]

    def load(self, note_id: str, text: str, prediction: dict[str, Any], replace: bool = False) -> None:
        """Put a note and its phenotype Prediction record (``model_dump`` JSON) under review.

        The model's mentions become rows with status ``unreviewed`` (index = position in the record), and its
        document labels (``t_stage`` ...) likewise. Loading the same note again replaces the prediction only while
        nobody has corrected it, or with ``replace=True`` (which also drops its corrections).

        Raises:
            ReviewProblem: status 409 (field ``note.id``) when the note is already under review (says why).
        """
        digest = sha256(text)
        with self.write() as conn:
            row = conn.execute("SELECT text_sha256 FROM notes WHERE id = ?", (note_id,)).fetchone()
            if row is not None:
                n = conn.execute("SELECT COUNT(*) FROM corrections WHERE note_id = ?", (note_id,)).fetchone()[0]
                if not replace and row[0] != digest:
                    raise ReviewProblem("note.id", "conflict", "a different text is already under review with this "
                                        "id; give the note another id, or send replace=true to start its review "
                                        "again", status=409)
                if not replace and n:
                    raise ReviewProblem("note.id", "conflict", f"this note is already under review with {n} "
                                        "correction(s); open it with GET /review/note, or send replace=true to "
                                        "start again", status=409)
                conn.execute("DELETE FROM notes WHERE id = ?", (note_id,))  # cascades to its other rows
            t = now()
            conn.execute("INSERT INTO notes VALUES (?, ?, ?, ?)", (note_id, digest, text, t))
            conn.execute("INSERT INTO predictions VALUES (?, 'phenotype', ?, ?)",
                         (note_id, json.dumps(prediction, ensure_ascii=False), t))
            for i, m in enumerate(prediction.get("mentions") or []):
                js = json.dumps(m, ensure_ascii=False)
                conn.execute("INSERT INTO mentions VALUES (?, ?, 'model', 'unreviewed', ?, ?)", (note_id, i, js, js))
            for name, value in (prediction.get("labels") or {}).items():
                conn.execute("INSERT INTO labels VALUES (?, ?, ?, ?, 'unreviewed')",
                             (note_id, name, json.dumps(value), json.dumps(value)))

    def note(self, note_id: str) -> dict[str, Any] | None:
        """Everything the review page shows for one note, or None when it is not under review.

        Returns:
            ``{"id", "text", "sha256", "loaded_at", "prediction", "mentions": [{"index", "origin", "status",
            "model", "current"}], "labels": [{"name", "model_value", "value", "status"}], "corrections": [...]}``.
        """
        with self.read() as conn:
            row = conn.execute("SELECT * FROM notes WHERE id = ?", (note_id,)).fetchone()
            if row is None:
                return None
            pred = conn.execute("SELECT record FROM predictions WHERE note_id = ? AND task = 'phenotype'",
                                (note_id,)).fetchone()
            mentions = [{"index": r["idx"], "origin": r["origin"], "status": r["status"],
                         "model": json.loads(r["model"]) if r["model"] else None, "current": json.loads(r["current"])}
                        for r in conn.execute("SELECT * FROM mentions WHERE note_id = ? ORDER BY idx", (note_id,))]
            labels = [{"name": r["name"], "model_value": json.loads(r["model_value"]), "value": json.loads(r["value"]),
                       "status": r["status"]}
                      for r in conn.execute("SELECT * FROM labels WHERE note_id = ? ORDER BY name", (note_id,))]
            return {"id": row["id"], "text": row["text"], "sha256": row["text_sha256"], "loaded_at": row["loaded_at"],
                    "prediction": json.loads(pred[0]) if pred else None, "mentions": mentions, "labels": labels,
                    "corrections": self._corrections(conn, note_id)}

    def summaries(self) -> list[dict[str, Any]]:
        """One line per note under review (no text): id, sha256, mention counts by status, corrections, last change."""
        with self.read() as conn:
            out = []
            for row in conn.execute("SELECT id, text_sha256, loaded_at FROM notes ORDER BY loaded_at, id").fetchall():
                counts = dict(conn.execute("SELECT status, COUNT(*) FROM mentions WHERE note_id = ? GROUP BY status",
                                           (row["id"],)).fetchall())
                n, last = conn.execute("SELECT COUNT(*), MAX(at) FROM corrections WHERE note_id = ?",
                                       (row["id"],)).fetchone()
                out.append({"id": row["id"], "sha256": row["text_sha256"], "loaded_at": row["loaded_at"],
                            "mentions": counts, "corrections": n, "last_correction_at": last})
            return out

    @staticmethod
    def _corrections(conn: sqlite3.Connection, note_id: str) -> list[dict[str, Any]]:
        rows = conn.execute("SELECT * FROM corrections WHERE note_id = ? ORDER BY id", (note_id,)).fetchall()
        return [{"id": r["id"], "reviewer": r["reviewer"], "at": r["at"], "action": r["action"], "target": r["target"],
                 "mention_index": r["mention_index"], "label": r["label"],
                 "before": json.loads(r["before"]) if r["before"] else None,
                 "after": json.loads(r["after"]) if r["after"] else None} for r in rows]

    def corrections(self, note_id: str | None = None) -> list[dict[str, Any]]:
        """The audit trail (of one note, or of all notes in order)."""
        with self.read() as conn:
            if note_id is not None:
                return self._corrections(conn, note_id)
            ids = [r[0] for r in conn.execute("SELECT DISTINCT note_id FROM corrections ORDER BY note_id")]
            return [c for i in ids for c in self._corrections(conn, i)]

    # ---- corrections ------------------------------------------------------------------------------------------

    def record_mention(self, note_id: str, reviewer: str, action: str, index: int | None,
                       after: dict[str, Any] | None) -> int:
        """Apply and audit a checked mention correction; returns the mention's index.

        ``accept``/``reject`` set the status of mention ``index``; ``edit`` replaces it with ``after`` (status
        ``edited``); ``add`` appends ``after`` as a reviewer mention (status ``added``). Validation (types, spans)
        is the caller's (:mod:`cancerllm.review.corrections`); this method only stores.
        """
        with self.write() as conn:
            if action == "add":
                index = conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM mentions WHERE note_id = ?",
                                     (note_id,)).fetchone()[0]
                before_m, before_s = None, None
            else:
                row = conn.execute("SELECT status, current, origin FROM mentions WHERE note_id = ? AND idx = ?",
                                   (note_id, index)).fetchone()
                before_m, before_s = json.loads(row["current"]), row["status"]
            if action == "add":
                status, current = "added", after
                conn.execute("INSERT INTO mentions VALUES (?, ?, 'reviewer', 'added', NULL, ?)",
                             (note_id, index, json.dumps(after, ensure_ascii=False)))
            else:
                current = after if action == "edit" else before_m
                # A reviewer's own added mention stays "added" when re-accepted or edited; rejecting removes it.
                status = {"accept": "accepted", "reject": "rejected", "edit": "edited"}[action]
                if row["origin"] == "reviewer" and action != "reject":
                    status = "added"
                conn.execute("UPDATE mentions SET status = ?, current = ? WHERE note_id = ? AND idx = ?",
                             (status, json.dumps(current, ensure_ascii=False), note_id, index))
            self._audit(conn, note_id, reviewer, action, "mention", index, None,
                        audit_mention(before_m, before_s, self.audit_text),
                        audit_mention(current, status, self.audit_text))
            return index

    def record_label(self, note_id: str, reviewer: str, action: str, name: str, value: str | None = None) -> None:
        """Apply and audit a checked document-label correction (accept, reject, or edit to ``value``)."""
        with self.write() as conn:
            row = conn.execute("SELECT value, status FROM labels WHERE note_id = ? AND name = ?",
                               (note_id, name)).fetchone()
            if row is None:  # a label the model did not give (e.g. an axis it never mentioned): the reviewer adds it
                conn.execute("INSERT INTO labels VALUES (?, ?, 'null', 'null', 'unreviewed')", (note_id, name))
                before = {"value": None, "status": None}
            else:
                before = {"value": json.loads(row["value"]), "status": row["status"]}
            status = {"accept": "accepted", "reject": "rejected", "edit": "edited"}[action]
            new = value if action == "edit" else before["value"]
            conn.execute("UPDATE labels SET value = ?, status = ? WHERE note_id = ? AND name = ?",
                         (json.dumps(new), status, note_id, name))
            self._audit(conn, note_id, reviewer, action, "label", None, name, before, {"value": new, "status": status})

    @staticmethod
    def _audit(conn: sqlite3.Connection, note_id: str, reviewer: str, action: str, target: str,
               index: int | None, label: str | None, before: Any, after: Any) -> None:
        conn.execute("INSERT INTO corrections (note_id, reviewer, at, action, target, mention_index, label, before, "
                     "after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (note_id, reviewer, now(), action, target, index, label,
                      json.dumps(before, ensure_ascii=False) if before is not None else None,
                      json.dumps(after, ensure_ascii=False) if after is not None else None))
