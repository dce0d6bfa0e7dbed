"""How well de-identification works: recall and precision per PHI type on synthetic notes with gold PHI, the
gold oncology mentions it destroys, and how much it replaces on real, already de-identified clinical text.

* A gold PHI span is *caught* when every non-space character of it lies inside some detection (of any type:
  what matters is that nothing leaks). Recall per gold type = caught / gold.
* A detection is *correct* when it overlaps a gold PHI span. Precision per detected type = correct / detected.
* A gold oncology mention is *destroyed* when a detection overlaps it (its text would change).
* On real de-identified text (TCGA) every replacement is a false positive on clinical text (or a leftover
  identifier the original redaction missed): reported as counts per type and per 10,000 characters, with the
  number of TNM tokens (``find_tnm``) that a detection overlaps (goal 0).

No note text is printed or stored: only counts.

Example:
    >>> r = measure_synthetic(20, seed=3)
    >>> r["overall"]["recall"] >= 0.95, r["mentions_destroyed"]
    (True, 0)
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["measure_real", "measure_synthetic", "score_notes"]


def _covered(spans: list[tuple[int, int]], start: int, end: int, text: str) -> bool:
    """Every non-space character of ``text[start:end]`` inside one of the detected ``spans``."""
    need = [i for i in range(start, end) if not text[i].isspace()]
    return all(any(a <= i < b for a, b in spans) for i in need)


def score_notes(notes: list[Any], detections: list[list[Any]]) -> dict[str, Any]:
    """Recall/precision per type and destroyed mentions for notes with a gold ``phi`` list and their detections."""
    gold, caught, found, correct = Counter(), Counter(), Counter(), Counter()
    destroyed = mentions = 0
    for note, dets in zip(notes, detections, strict=True):
        spans = [(d.start, d.end) for d in dets]
        phi = (note.model_extra or {}).get("phi") or []
        for p in phi:
            gold[p["type"]] += 1
            caught[p["type"]] += _covered(spans, p["start"], p["end"], note.text)
        for d in dets:
            found[d.type] += 1
            correct[d.type] += any(d.start < p["end"] and p["start"] < d.end for p in phi)
        for m in note.mentions:
            if m.start is None:
                continue
            mentions += 1
            destroyed += any(a < m.end and m.start < b for a, b in spans)
    per_type = {t: {"gold": gold[t], "recall": _ratio(caught[t], gold[t]), "detected": found[t],
                    "precision": _ratio(correct[t], found[t])} for t in sorted(set(gold) | set(found))}
    overall = {"gold": sum(gold.values()), "recall": _ratio(sum(caught.values()), sum(gold.values())),
               "detected": sum(found.values()), "precision": _ratio(sum(correct.values()), sum(found.values()))}
    return {"per_type": per_type, "overall": overall, "mentions": mentions, "mentions_destroyed": destroyed}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def measure_synthetic(n: int = 500, seed: int = 0) -> dict[str, Any]:
    """Score :func:`~cancerllm.deid.recognizers.detect` on ``n`` synthetic notes with fake PHI (seeded)."""
    from cancerllm.data.synth.phi import synth_phi_notes
    from cancerllm.deid.recognizers import build_analyzer, detect

    build_analyzer()
    notes = synth_phi_notes(n, seed)
    start = time.perf_counter()
    dets = [detect(note.text) for note in notes]
    result = score_notes(notes, dets)
    result.update(notes=n, seed=seed, seconds=round(time.perf_counter() - start, 2))
    return result


def measure_real(path: str | Path, limit: int | None = None) -> dict[str, Any]:
    """Replacements per type on already de-identified notes (every one a false positive or a missed leftover)."""
    from cancerllm.data.io import read_notes_reporting
    from cancerllm.deid.recognizers import build_analyzer, detect
    from cancerllm.knowledge.tnm import find_tnm

    build_analyzer()
    notes = read_notes_reporting(path, "deid measure")[:limit]
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    with_any = chars = tnm = tnm_touched = word_like = 0
    # How often each word is written in lower case in the corpus: a "name" made only of such words ("Gross",
    # "Received") is surely a false positive; the other names are false positives or leftovers of the redaction.
    lower = Counter(w for note in notes for w in re.findall(r"\b[a-z]{2,}\b", note.text))
    for note in notes:
        dets = detect(note.text)
        counts.update(d.type for d in dets)
        word_like += sum(all(lower[w.lower()] >= 3 for w in re.findall(r"[A-Za-z]+", note.text[d.start:d.end]))
                         for d in dets if d.type == "NAME")
        with_any += bool(dets)
        chars += len(note.text)
        # Real reports carry no mention spans; their TNM tokens stand in for "oncology text destroyed".
        for t in find_tnm(note.text):
            tnm += 1
            tnm_touched += any(d.start < t.end and t.start < d.end for d in dets)
    total = sum(counts.values())
    return {"path": str(path), "notes": len(notes), "chars": chars, "replacements": total,
            "per_10k_chars": round(1e4 * total / chars, 3) if chars else None, "notes_with_any": with_any,
            "per_type": dict(counts.most_common()), "names_word_like": word_like, "tnm_tokens": tnm,
            "tnm_tokens_touched": tnm_touched,
            "seconds": round(time.perf_counter() - start, 2)}


def table(result: dict[str, Any]) -> str:
    """A Markdown table of :func:`measure_synthetic`'s per-type scores."""
    rows = ["| PHI type | gold spans | recall | detected | precision |", "| --- | ---: | ---: | ---: | ---: |"]
    for t, r in list(result["per_type"].items()) + [("all", result["overall"])]:
        rows.append(f"| {t} | {r['gold']} | {r['recall']} | {r['detected']} | {r['precision']} |")
    return "\n".join(rows)
