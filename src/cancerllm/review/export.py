"""Corrections -> gold notes for ``cancerllm sft``, and model-vs-reviewer agreement per type.

A note's gold mentions are those the reviewer accepted, edited (as edited) or added; rejected ones are dropped.
By default only **finished** reviews are exported: at least one correction and no mention left unreviewed (a
mention nobody looked at is not gold, and dropping it would teach the model to miss it). ``include_partial=True``
also exports unfinished reviews, keeping their unreviewed mentions as the model gave them.

Document labels: an accepted or edited label is kept, a rejected one dropped; an unreviewed stage label is derived
from the gold mentions (:func:`cancerllm.knowledge.values.labels_from_mentions`), as for any gold note.

Agreement counts each model mention once, by the type the model gave it: ``accepted`` (reviewer agrees),
``edited`` (right finding, something wrong: ``edited_fields`` says what), ``rejected`` (wrong finding), and
``missed`` counts the mentions reviewers added. ``agreement = accepted / (accepted + edited + rejected)``.

Example:
    >>> import tempfile, os
    >>> from cancerllm.review.db import ReviewDB
    >>> db = ReviewDB(os.path.join(tempfile.mkdtemp(), "r.sqlite"))
    >>> m = {"type": "stage_t", "text": "pT2", "start": 4, "end": 7, "assertion": "present", "value": "T2",
    ...      "code": None, "inferred": False}
    >>> db.load("n1", "Dx: pT2 N0", {"id": "n1", "task": "phenotype", "mentions": [m], "labels": {"t_stage": "T2"}})
    >>> _ = db.record_mention("n1", "ana", "accept", 0, m)
    >>> [n.mentions[0].text for n in gold_notes(db)[0]], agreement(db)["types"]["stage_t"]["agreement"]
    (['pT2'], 1.0)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from cancerllm.data.schema import Mention, Note
from cancerllm.errors import DataFormatError
from cancerllm.review.db import ReviewDB

__all__ = ["agreement", "agreement_table", "export_gold", "gold_notes"]

_GOLD = {"accepted", "edited", "added"}
_FIELDS = ("type", "span", "assertion", "value")


def _gold_labels(labels: list[dict[str, Any]], mentions: list[Mention], include_partial: bool) -> dict[str, Any]:
    from cancerllm.knowledge.values import labels_from_mentions

    derived = labels_from_mentions(mentions)
    out: dict[str, Any] = {}
    for lab in labels:
        if lab["status"] in ("accepted", "edited"):
            out[lab["name"]] = lab["value"]
        elif lab["status"] == "unreviewed":
            # An unchecked label is recomputed from the reviewed mentions, never copied from the model.
            if lab["name"] in derived:
                out[lab["name"]] = derived[lab["name"]]
            elif include_partial:
                out[lab["name"]] = lab["value"]
    return out


def gold_notes(db: ReviewDB, include_partial: bool = False) -> tuple[list[Note], dict[str, int]]:
    """The reviewed notes as gold :class:`~cancerllm.data.schema.Note` records, and why others were skipped.

    Returns:
        ``(notes, skipped)`` where ``skipped`` counts notes by reason (``no_corrections``, ``unreviewed_mentions``).
    """
    notes, skipped = [], Counter()
    for note_id in db.note_ids():
        review = db.note(note_id)
        if not review["corrections"]:
            skipped["no_corrections"] += 1
            continue
        statuses = [m["status"] for m in review["mentions"]]
        if "unreviewed" in statuses and not include_partial:
            skipped["unreviewed_mentions"] += 1
            continue
        keep = _GOLD | ({"unreviewed"} if include_partial else set())
        mentions = [Mention(**m["current"]) for m in review["mentions"] if m["status"] in keep]
        mentions.sort(key=lambda m: (m.start if m.start is not None else 1 << 62, m.end or 0))
        gold = Note(id=review["id"], text=review["text"], mentions=mentions,
                    labels=_gold_labels(review["labels"], mentions, include_partial),
                    review={"sha256": review["sha256"], "corrections": len(review["corrections"]),
                            "reviewers": sorted({c["reviewer"] for c in review["corrections"]}),
                            "finished": "unreviewed" not in statuses})
        gold.check_spans()  # every stored span was checked on the way in; a hand-edited database fails here
        notes.append(gold)
    return notes, dict(skipped)


def export_gold(db_path: str | Path, out: str | Path, include_partial: bool = False) -> dict[str, Any]:
    """Write the gold notes of the review database ``db_path`` to the Note JSONL ``out`` (``cancerllm sft``'s
    ``data.train``); returns a summary (counts only) including :func:`agreement`.

    Raises:
        DataFormatError: no review is ready to export (the message says why each note was skipped).
    """
    from cancerllm.data.io import write_jsonl

    db = ReviewDB(db_path)
    notes, skipped = gold_notes(db, include_partial)
    if not notes:
        raise DataFormatError(f"review export: no finished review in {db_path} (skipped: {skipped or 'no notes'}); "
                              "decide every mention of a note, or pass --include-partial")
    write_jsonl(notes, out)
    return {"out": str(out), "notes": len(notes), "mentions": sum(len(n.mentions) for n in notes),
            "skipped": skipped, "agreement": agreement(db)}


def _edited_fields(model: dict[str, Any], current: dict[str, Any]) -> list[str]:
    changed = {"type": model.get("type") != current.get("type"),
               "span": (model.get("start"), model.get("end")) != (current.get("start"), current.get("end")),
               "assertion": model.get("assertion") != current.get("assertion"),
               "value": model.get("value") != current.get("value")}
    return [f for f in _FIELDS if changed[f]]


def _rate(row: dict[str, Any]) -> float | None:
    decided = row["accepted"] + row["edited"] + row["rejected"]
    return round(row["accepted"] / decided, 4) if decided else None


def agreement(db: ReviewDB) -> dict[str, Any]:
    """Model-vs-reviewer agreement per mention type, per document label, and overall (counts, no text).

    Returns:
        ``{"types": {type: {accepted, edited, rejected, unreviewed, missed, edited_fields, agreement}},
        "labels": {name: {accepted, edited, rejected, unreviewed, agreement}}, "overall": {...}, "notes": n}``.
    """
    def row() -> dict[str, Any]:
        return {"accepted": 0, "edited": 0, "rejected": 0, "unreviewed": 0, "missed": 0, "edited_fields": Counter()}

    types: dict[str, dict[str, Any]] = {}
    labels: dict[str, dict[str, Any]] = {}
    ids = db.note_ids()
    for note_id in ids:
        review = db.note(note_id)
        for m in review["mentions"]:
            if m["origin"] == "reviewer":
                if m["status"] == "added":
                    types.setdefault(m["current"]["type"], row())["missed"] += 1
                continue
            r = types.setdefault(m["model"]["type"], row())
            r[m["status"]] += 1
            if m["status"] == "edited":
                r["edited_fields"].update(_edited_fields(m["model"], m["current"]))
        for lab in review["labels"]:
            if lab["model_value"] is None and lab["status"] == "unreviewed":
                continue  # the model gave no value and nobody looked: nothing to agree on
            labels.setdefault(lab["name"], row())[lab["status"]] += 1
    overall = row()
    for r in types.values():
        for k in ("accepted", "edited", "rejected", "unreviewed", "missed"):
            overall[k] += r[k]
        overall["edited_fields"].update(r["edited_fields"])
    for r in [*types.values(), *labels.values(), overall]:
        r["edited_fields"] = dict(r["edited_fields"])
        r["agreement"] = _rate(r)
    for r in labels.values():
        del r["missed"], r["edited_fields"]
    return {"notes": len(ids), "types": dict(sorted(types.items())), "labels": dict(sorted(labels.items())),
            "overall": overall}


def agreement_table(report: dict[str, Any]) -> str:
    """:func:`agreement` as a plain-text table (one row per type, then labels, then overall)."""
    head = f"{'type / label':<20} {'accepted':>8} {'edited':>7} {'rejected':>8} {'missed':>7} {'open':>5} {'agree':>6}"
    lines = [head, "-" * len(head)]

    def line(name: str, r: dict[str, Any]) -> str:
        rate = "-" if r["agreement"] is None else f"{r['agreement']:.2f}"
        return (f"{name:<20} {r['accepted']:>8} {r['edited']:>7} {r['rejected']:>8} {r.get('missed', 0):>7} "
                f"{r['unreviewed']:>5} {rate:>6}")

    lines += [line(t, r) for t, r in report["types"].items()]
    lines += [line(f"label {n}", r) for n, r in report["labels"].items()]
    lines.append(line("overall (mentions)", report["overall"]))
    return "\n".join(lines)
