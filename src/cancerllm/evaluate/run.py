"""``evaluate(pred, gold, ...)``: join predictions to gold by id, score, and write metrics.json + reports.

Bad input never stops the run: a prediction line that is not JSON or fails the ``Prediction`` schema is listed
under ``invalid_predictions`` as ``file:line`` (with the id when it could be read) and its note counts as wrong;
gold notes without a prediction are listed under ``missing_predictions`` and count as wrong too.

Example:
    >>> import tempfile, pathlib, json
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "g.jsonl").write_text(json.dumps({"id": "a", "text": "pT2", "labels": {"t_stage": "T2"}}) + "\\n")
    >>> _ = (d / "p.jsonl").write_text('{"id": "a", "task": "phenotype", "labels": {"t_stage": "T2"}}\\nnot json\\n')
    >>> m = evaluate(d / "p.jsonl", d / "g.jsonl", out=None, bootstrap=0)
    >>> m["classification"]["t_stage"]["accuracy"], m["invalid_predictions"][0]["where"].endswith("p.jsonl:2")
    (1.0, True)
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cancerllm.data.io import read_notes
from cancerllm.data.schema import Prediction
from cancerllm.errors import ConfigError, DataFormatError, ResourceError
from cancerllm.evaluate.scorer import Scorer
from cancerllm.knowledge.trial import PATHOLOGY_RELATION_TYPES

__all__ = ["TASK_CHOICES", "evaluate", "gold_for_run", "load_predictions", "pathology_relations", "score_files"]

TASK_CHOICES = ("phenotype", "diagnosis", "all")


def load_predictions(path: str | Path) -> tuple[dict[str, list[Prediction]], list[dict[str, Any]]]:
    """Read a Prediction JSONL leniently: ``({id: [records]}, invalid)``; invalid = [{where, id, error}].

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "p.jsonl"
        >>> _ = f.write_text('{"id": "a", "task": "phenotype"}\\n{"id": "b", "task": "oops"}\\n')
        >>> preds, bad = load_predictions(f)
        >>> sorted(preds), bad[0]["id"], bad[0]["error"].startswith("field 'task'")
        (['a'], 'b', True)
    """
    p = Path(path)
    if not p.is_file():
        raise ResourceError(f"prediction file {str(p)!r} does not exist; pass --pred or --run RUN_DIR")
    preds: dict[str, list[Prediction]] = defaultdict(list)
    invalid: list[dict[str, Any]] = []
    with open(p, encoding="utf-8") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{p}:{i}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                invalid.append({"where": where, "id": None, "error": f"not valid JSON ({err.msg})"})
                continue
            doc_id = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), str) else None
            try:
                rec = Prediction.model_validate(obj)
            except ValidationError as err:
                first = err.errors()[0]
                field = ".".join(str(x) for x in first["loc"])
                invalid.append({"where": where, "id": doc_id, "error": f"field {field!r}: {first['msg']}"})
                continue
            preds[rec.id].append(rec)
    return dict(preds), invalid


def gold_for_run(run: str | Path) -> Path:
    """The gold file of an extract/diagnose run folder: the labelled input the run read.

    ``cancerllm extract NOTES.jsonl --out RUN`` records its input in ``RUN/config.yaml`` (``input``) and the
    file's sha256 in ``RUN/meta.json`` (``data``); the hash is checked so a file edited since the run is never
    scored silently.

    Raises:
        ConfigError: the run records no input file, the input is not a file (a folder of .txt notes has no
            labels) or it changed since the run; each message says to pass ``--gold``.
    """
    import yaml

    from cancerllm.runtime import sha256_file

    run = Path(run)
    cfg_file, meta_file = run / "config.yaml", run / "meta.json"
    recorded = (yaml.safe_load(cfg_file.read_text(encoding="utf-8")) or {}).get("input") if cfg_file.is_file() else None
    if not recorded:
        raise ConfigError(f"--run {run}: the run records no input file (no 'input' in {cfg_file.name}); "
                          "pass --gold GOLD.jsonl")
    gold = Path(recorded)
    if not gold.is_file():
        raise ConfigError(f"--run {run}: its input {str(gold)!r} is not a file (moved, relative to another folder, "
                          "or a folder of unlabelled .txt notes); pass --gold GOLD.jsonl")
    hashes = json.loads(meta_file.read_text(encoding="utf-8")).get("data", {}) if meta_file.is_file() else {}
    want = hashes.get(recorded) or hashes.get(str(gold))
    if want and want != sha256_file(gold):
        raise ConfigError(f"--run {run}: its input {str(gold)!r} changed since the run (sha256 differs from "
                          f"{meta_file.name}); pass --gold to score against the current file on purpose")
    return gold


def evaluate(pred: str | Path, gold: str | Path, out: str | Path | None = None, task: str = "all",
             bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Score a prediction file against a gold Note file and (if ``out``) write metrics.json, report.md/.html.

    Args:
        pred: Prediction JSONL.
        gold: Gold Note JSONL (the raw TCGA files work too: their top-level t/n/m keys are used).
        out: Output folder, or None to only return the metrics.
        task: ``phenotype``, ``diagnosis`` or ``all``: which prediction records to use.
        bootstrap: Bootstrap resamples for the 95% CIs (0 disables them).
        seed: Bootstrap seed.

    Returns:
        The metrics dict written to metrics.json.
    """
    metrics, items = score_files(pred, gold, task=task, bootstrap=bootstrap, seed=seed)
    if out is not None:
        from cancerllm.evaluate.report import write_reports

        write_reports(metrics, scorer_items=items, out=out)
    return metrics


def pathology_relations(notes: list[Any], preds: dict[str, list[Prediction]], bootstrap: int = 1000,
                        seed: int = 0) -> dict[str, Any]:
    """``Treats`` / ``Indicated_by`` P/R/F1 (strict and relaxed, per type and micro, bootstrap CIs over notes).

    The trial relation scorer (:func:`cancerllm.evaluate.trial.score_trial`) with the pathology types; each note's
    phenotype record is scored (a diagnosis record carries no mentions).
    """
    from cancerllm.evaluate.trial import score_trial
    from cancerllm.knowledge.phenotypes import ENTITY_TYPES

    by_id = {}
    for doc_id, recs in preds.items():
        rec = next((r for r in recs if r.task == "phenotype"), None)
        if rec is not None:
            by_id[doc_id] = rec
    m = score_trial(notes, by_id, bootstrap=bootstrap, seed=seed, etypes=list(ENTITY_TYPES),
                    rtypes=list(PATHOLOGY_RELATION_TYPES))
    return m["relations"]


def score_files(pred: str | Path, gold: str | Path, task: str = "all", bootstrap: int = 1000,
                seed: int = 0) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The work of :func:`evaluate` without writing: ``(metrics, per-note items)``."""
    if task not in TASK_CHOICES:
        raise ConfigError(f"--task: got {task!r}, expected one of {list(TASK_CHOICES)}")
    gold_errors: list[DataFormatError] = []
    notes = read_notes(gold, errors=gold_errors)
    preds, invalid = load_predictions(pred)
    invalid_ids = {x["id"] for x in invalid if x["id"]}
    scorer = Scorer(bootstrap=bootstrap, seed=seed)
    missing, gold_ids = [], set()
    for note in notes:
        gold_ids.add(note.id)
        recs = [r for r in preds.get(note.id, []) if task == "all" or r.task == task]
        if not recs:
            missing.append(note.id)
        scorer(note, recs)
    metrics = scorer.get_metric()
    if any(r.type in PATHOLOGY_RELATION_TYPES for n in notes for r in n.relations):
        metrics["relations"] = pathology_relations(notes, preds, bootstrap=bootstrap, seed=seed)
    used = [r for n in gold_ids for r in preds.get(n, [])]
    metrics.update({
        "task": task, "pred_file": str(pred), "gold_file": str(gold), "bootstrap": bootstrap, "seed": seed,
        "invalid_predictions": invalid,
        "missing_predictions": sorted(set(missing) - invalid_ids),
        "missing_because_invalid": sorted(set(missing) & invalid_ids),
        "unknown_prediction_ids": sorted(set(preds) - gold_ids)[:1000],
        "predictions_with_errors": sum(1 for r in used if r.errors),
        "invalid_gold": [str(e) for e in gold_errors],
    })
    return metrics, scorer.items
