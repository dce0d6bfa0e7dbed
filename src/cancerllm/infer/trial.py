"""``cancerllm extract --task trial``: eligibility criteria -> grounded Chia entities, relations, concepts.

Per note (one inclusion or exclusion section, or any pasted criteria text):

1. chunk whole criterion lines to the prompt budget (:func:`cancerllm.data.corpora.chia.criterion_chunks`; a line is
   one criterion, and Chia's relations stay inside one);
2. one greedy generation per chunk with the ``trial_prompt`` of the prompt style;
3. parse ``{"mentions": [...], "relations": [[type, head, tail]]}``; every mention is grounded in the chunk
   (:func:`cancerllm.data.align.align`, whole words, nearest free occurrence), so ``text[start:end] ==
   mention.text`` always; a mention that cannot be found is dropped with an error, and so is every relation that
   points at it (indices are remapped to the grounded mentions, never shifted onto a neighbour);
4. Drug and biomarker mentions get concepts (:mod:`cancerllm.knowledge.normalize`).

One Prediction comes back for every note, with ``errors`` saying what was dropped.

Example:
    >>> mentions, relations, errors = ground_trial("No seizures", 0, [
    ...     {"type": "Negation", "text": "No", "assertion": "present"}, {"type": "Condition", "text": "fits",
    ...     "assertion": "present"}, {"type": "Condition", "text": "seizures", "assertion": "negated"}],
    ...     [("Has_negation", 2, 0), ("Has_negation", 1, 0)])
    >>> [(m.text, m.start, m.assertion) for m in mentions], relations
    ([('No', 0, 'present'), ('seizures', 3, 'negated')], [('Has_negation', 1, 0)])
    >>> errors
    ['Condition mention text not found in the criteria (4 chars); dropped', '1 relation(s) lost their mention']
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from cancerllm.data.align import align
from cancerllm.data.schema import Mention, Note, Prediction, Relation

__all__ = ["ground_trial", "predict_trial", "run_trial", "trial_schema"]

# How many mentions (and relations) one answer may hold under guided decoding: Chia train chunks of the trained
# budget hold at most ~40; the cap stops a small model repeating one mention until its token budget ends.
MAX_ITEMS = 40
_TEXT = r"^[^\s\"\\][^\"\\\x00-\x1f]{0,119}$"  # as infer.guided: no leading space, no quote/backslash/control

log = logging.getLogger(__name__)


def ground_trial(chunk_text: str, offset: int, mentions: list[dict[str, Any] | None],
                 relations: list[tuple[str, int, int]]) -> tuple[list[Mention], list[tuple[str, int, int]], list[str]]:
    """Ground parsed mentions in one chunk (note offsets) and remap relation indices to the kept mentions."""
    kept: list[Mention] = []
    index: dict[int, int] = {}
    errors: list[str] = []
    taken: set[tuple[int, int]] = set()
    cursor = 0
    for i, p in enumerate(mentions):
        if p is None:  # invalid in the parse (already reported); keeps the indices of the others
            continue
        span = align(chunk_text, p["text"], after=cursor, taken=taken)
        if span is None:
            errors.append(f"{p['type']} mention text not found in the criteria ({len(p['text'])} chars); dropped")
            continue
        # Chia nests mentions ("[[metastatic] breast cancer]"): the next may start inside this one, so the cursor
        # moves to its start, not its end; `taken` still stops two mentions claiming one span.
        taken.add(span)
        cursor = span[0]
        index[i] = len(kept)
        kept.append(Mention(type=p["type"], text=chunk_text[span[0]:span[1]], start=span[0] + offset,
                            end=span[1] + offset, assertion=p.get("assertion", "present")))
    rels = [(t, index[h], index[tl]) for t, h, tl in relations if h in index and tl in index]
    if len(rels) < len(relations):
        errors.append(f"{len(relations) - len(rels)} relation(s) lost their mention")
    return kept, rels, errors


def trial_schema() -> dict[str, Any]:
    """JSON schema of the json.v1 trial answer (``generate.guided=true``): Chia types and relation names only,
    relations as ``[type, head, tail]`` triples.

    Example:
        >>> sorted(trial_schema()["properties"])
        ['mentions', 'relations']
    """
    from cancerllm.knowledge.trial import TRIAL_ENTITY_TYPES, TRIAL_RELATION_TYPES

    index = {"type": "integer", "minimum": 0, "maximum": MAX_ITEMS - 1}
    mention = {"type": "object", "properties": {"type": {"enum": list(TRIAL_ENTITY_TYPES)},
                                                "text": {"type": "string", "pattern": _TEXT},
                                                "assertion": {"enum": ["negated", "possible"]}},
               "required": ["type", "text"], "additionalProperties": False}
    relation = {"type": "array", "prefixItems": [{"enum": list(TRIAL_RELATION_TYPES)}, index, index],
                "items": False, "minItems": 3, "maxItems": 3}
    return {"type": "object",
            "properties": {"mentions": {"type": "array", "items": mention, "maxItems": MAX_ITEMS},
                           "relations": {"type": "array", "items": relation, "maxItems": MAX_ITEMS}},
            "required": ["mentions", "relations"], "additionalProperties": False}


def predict_trial(predictor: Any, notes: list[Note], normalize: bool = True) -> list[Prediction]:
    """Trial predictions for ``notes`` with a loaded :class:`cancerllm.infer.predictor.Predictor`."""
    from cancerllm.data.corpora.chia import criterion_chunks
    from cancerllm.data.instruct import trial_budget
    from cancerllm.infer.generate import generate

    style = predictor.style
    budget = trial_budget(predictor.style_name, predictor.tokenizer, predictor.gen.max_prompt_tokens)
    preds = [Prediction(id=n.id, task="trial", meta={"prompt_style": predictor.style_name}) for n in notes]
    requests = []  # (note index, chunk, prompt)
    for i, note in enumerate(notes):
        if not note.text.strip():
            preds[i].errors.append("empty note: no text to read, nothing was sent to the model")
            continue
        chunks = criterion_chunks(note.text, getattr(note, "criteria", None), budget, predictor.count)
        preds[i].coverage = {"chars_total": len(note.text), "chars_seen": sum(c.end - c.start for c in chunks),
                             "chunks": len(chunks)}
        requests += [(i, c, style.trial_prompt(c.text, predictor.tokenizer)) for c in chunks]
    schema = None
    if predictor.gen.guided:  # constrain answers to the trial schema (types, relation names, [type, head, tail])
        from cancerllm.infer.guided import require_backend

        require_backend()
        schema = trial_schema()
    outputs = generate(predictor.model, predictor.tokenizer, [r[2] for r in requests], predictor.gen.max_new_tokens,
                       predictor.gen.batch_size, predictor.stats, None, schema)
    for ci, ((i, chunk, _), out) in enumerate(zip(requests, outputs)):
        pred = preds[i]
        pred.raw.append(out)
        mentions, relations, perr = style.parse_trial(out)
        kept, rels, gerr = ground_trial(chunk.text, chunk.start, mentions, relations)
        base = len(pred.mentions)  # chunks hold disjoint lines: indices of this chunk follow the earlier ones
        pred.mentions.extend(kept)
        pred.relations.extend(Relation(type=t, head=h + base, tail=tl + base) for t, h, tl in rels)
        pred.errors.extend(f"chunk {ci}: {e}" for e in perr + gerr)
    if normalize:
        from cancerllm.knowledge.normalize import normalize_prediction

        for p in preds:
            normalize_prediction(p)
    return preds


def _rules_predictions(notes: list[Note]) -> list[Prediction]:
    """The out-of-the-box extractor: gazetteer + relation rules fitted on the shared Chia train split."""
    from cancerllm.data.corpora.chia import load_chia
    from cancerllm.evaluate.trial_baselines import Gazetteer, RelationRules, predict_note
    from cancerllm.knowledge.normalize import normalize_prediction

    train = load_chia("train")  # ResourceError names where it looked when the shared data is absent
    find, rules = Gazetteer.fit(train).find, RelationRules.fit(train)
    preds = [predict_note(n, find, rules) for n in notes]
    for p in preds:
        normalize_prediction(p)
    return preds


def run_trial(input: str, run: str | None = None, out: str | None = None, limit: int | None = None,
              overrides: list[str] | None = None, method: str = "auto") -> dict[str, Any]:
    """Predict every note of ``input`` (.txt, Note JSONL or folder), write ``<out>/predictions.jsonl`` or print
    JSONL; returns a summary.

    ``method``: ``llm`` loads the model (``run`` = an SFT run folder trained with ``tasks=[trial]``); ``rules`` fits
    the gazetteer and relation rules on Chia train (no model, ~15 s); ``auto`` = llm with a ``run``, else rules,
    because an untrained base model does not extract Chia entities (measured: docs/results.md).
    """
    from cancerllm.data.io import dumps_record, read_notes_reporting
    from cancerllm.errors import ConfigError

    if method not in ("auto", "llm", "rules"):
        raise ConfigError(f"--method: got {method!r}, expected one of ['auto', 'llm', 'rules'] for --task trial")
    notes = read_notes_reporting(input, "input")[:limit] if limit else read_notes_reporting(input, "input")
    t0 = time.perf_counter()
    if method == "rules" or (method == "auto" and not run):
        preds = _rules_predictions(notes)
    else:
        from cancerllm.config import load_config
        from cancerllm.infer.extract import ExtractConfig, load_predictor

        cfg = load_config(ExtractConfig, None, list(overrides or []) + [f"input={input}"]
                          + ([f"run={run}"] if run else []))
        preds = predict_trial(load_predictor(cfg), notes)
    lines = [dumps_record(p.model_dump(mode="json")) for p in preds]
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "predictions.jsonl").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
    else:
        sys.stdout.write("".join(x + "\n" for x in lines))
    summary = {"task": "trial", "notes": len(preds), "mentions": sum(len(p.mentions) for p in preds),
               "relations": sum(len(p.relations) for p in preds),
               "notes_with_errors": sum(bool(p.errors) for p in preds),
               "seconds": round(time.perf_counter() - t0, 1)}
    if out:
        (Path(out) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
