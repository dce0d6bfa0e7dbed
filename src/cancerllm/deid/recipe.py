"""``cancerllm deid IN --out OUT.jsonl``: de-identify a file or folder of notes, top to bottom.

Phases: build (config, key, analyzer) -> loop (read a note, de-identify, write it and its offset map) -> report.

Outputs, for ``--out clean.jsonl``:

* ``clean.jsonl``: the de-identified notes (Note JSONL, readable by ``extract``, ``sft`` and ``pretrain``);
* ``clean.deid/config.yaml``: the resolved config (the secret itself is never written, only where it came from);
* ``clean.deid/summary.json``: notes read/written, bad input lines, replacements per PHI type, gold mentions moved
  and dropped, seconds;
* ``clean.deid/offsets.jsonl``: per note id, ``[[start, end, new_start, new_end, type], ...]`` (offsets only),
  for :class:`~cancerllm.deid.offsets.OffsetMap` (map a span found in the clean text back to the original).

The sidecar folder sits next to the output, not in it, so ``data.train=clean.jsonl`` reads the notes alone.

The date-shift key: the environment variable named by ``secret_env`` (``CANCERLLM_DEID_SECRET``) when set; else
``seed`` (reproducible, for tests and measurement: anyone who knows the seed can undo the shifts); else a random
key for this run only (shifts cannot be reproduced, which is the safe default).

Nothing logged or raised here quotes note text: bad lines are named by file:line and field.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> line = '{"id": "n1", "patient_id": "P1", "text": "Dr. Helen Park saw her 04/02/2021."}\\n'
    >>> _ = (d / "in.jsonl").write_text(line)
    >>> summary = run(DeidConfig(input=str(d / "in.jsonl"), out=str(d / "out.jsonl"), seed=1))
    >>> summary["notes"], summary["replaced"]
    (1, {'NAME': 1, 'DATE': 1})
    >>> sorted(p.name for p in (d / "out.deid").iterdir())
    ['config.yaml', 'offsets.jsonl', 'summary.json']
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.errors import ConfigError

__all__ = ["DeidConfig", "resolve_key", "run", "sidecar_dir"]

log = logging.getLogger("cancerllm.deid")


@dataclass
class DeidConfig:
    """``cancerllm deid`` settings; any field can be set as ``key=value`` on the command line."""

    input: str = ""
    """A .txt note, a Note JSONL file, or a folder of them (the readers of ``extract``)."""
    out: str = ""
    """Output Note JSONL (must end in .jsonl); the sidecar folder ``<out stem>.deid/`` is written next to it."""
    seed: int | None = None
    """Date-shift key for reproducible runs (tests, measurement). Ignored when the secret variable is set."""
    secret_env: str = "CANCERLLM_DEID_SECRET"
    """Environment variable holding the date-shift secret (preferred over ``seed`` for real data)."""
    max_shift_days: int = 365
    """Dates move back by 1 to this many days per patient. Larger hides more, but moves seasons and ages."""
    keep_fields: list[str] = field(default_factory=list)
    """Extra (non-schema) fields to copy to the output; others are dropped since they may hold identifiers."""
    pseudonymize_ids: bool = False
    """Replace note ids with keyed pseudonyms (``note-<hex>``). Off: ids are kept so outputs join with gold."""

    def validate(self) -> list[str]:
        problems = []
        if not self.input:
            problems.append("input: missing; give a .txt note, a Note JSONL file or a folder")
        if not self.out.endswith(".jsonl"):
            problems.append(f"out: got {self.out!r}, expected a path ending in .jsonl (e.g. --out clean.jsonl)")
        if not 1 <= self.max_shift_days <= 3650:
            problems.append(f"max_shift_days: got {self.max_shift_days}, expected an integer in [1, 3650]")
        if "phi" in self.keep_fields:
            problems.append("keep_fields: got 'phi', which lists identifiers verbatim; remove it")
        return problems


def resolve_key(cfg: DeidConfig) -> tuple[bytes, str]:
    """``(key, where it came from)``; the description is written to config.yaml, the key never is."""
    secret = os.environ.get(cfg.secret_env, "")
    if secret:
        return secret.encode("utf-8"), f"environment variable {cfg.secret_env}"
    if cfg.seed is not None:
        return f"seed:{cfg.seed}".encode(), f"seed {cfg.seed} (reproducible; not secret)"
    return os.urandom(32), "random, this run only (date shifts cannot be reproduced)"


def sidecar_dir(out: str | Path) -> Path:
    """``clean.jsonl`` -> ``clean.deid/``: where config, summary and offsets go."""
    p = Path(out)
    return p.with_name(p.name[: -len(".jsonl")] + ".deid")


def run(cfg: DeidConfig) -> dict[str, Any]:
    """De-identify ``cfg.input`` into ``cfg.out`` (see module docstring); returns the summary."""
    from cancerllm.config import save_config
    from cancerllm.data.io import dumps_record, iter_notes
    from cancerllm.deid.core import deidentify_note
    from cancerllm.deid.recognizers import build_analyzer
    from cancerllm.errors import DataFormatError

    # ---- build: config problems and a missing library fail before anything is read or written
    problems = cfg.validate()
    if problems:
        raise ConfigError(problems)
    key, key_source = resolve_key(cfg)
    build_analyzer()
    reads = iter_notes(cfg.input)  # a wrong path fails here, before the output is opened
    out, side = Path(cfg.out), sidecar_dir(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    side.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    replaced: Counter[str] = Counter()
    notes = bad = moved = dropped = changed = 0
    first_bad: DataFormatError | None = None
    # ---- loop: one note at a time, written as it finishes (any size of input)
    with open(out, "w", encoding="utf-8") as fh, open(side / "offsets.jsonl", "w", encoding="utf-8") as offs:
        for item in reads:
            if isinstance(item.value, DataFormatError):
                bad += 1
                first_bad = first_bad or item.value
                log.warning("deid input: skipped: %s", item.value)  # file:line and field, never the text
                continue
            note, offsets, counts, n_dropped = deidentify_note(
                item.value, key, cfg.max_shift_days, tuple(cfg.keep_fields), cfg.pseudonymize_ids)
            fh.write(dumps_record(note.model_dump(mode="json")) + "\n")
            offs.write(json.dumps({"id": note.id, "replacements": offsets.to_list()}) + "\n")
            notes += 1
            changed += bool(counts)
            replaced.update(counts)
            moved += len(note.mentions)
            dropped += n_dropped
    # ---- report
    save_config(cfg, side)
    with open(side / "config.yaml", "a", encoding="utf-8") as fh:
        fh.write(f"# date-shift key: {key_source}\n")
    summary = {"input": cfg.input, "out": str(out), "notes": notes, "bad_lines": bad, "notes_changed": changed,
               "replaced": dict(sorted(replaced.items(), key=lambda kv: -kv[1])), "mentions_kept": moved,
               "mentions_dropped": dropped, "key": key_source, "seconds": round(time.perf_counter() - start, 2)}
    (side / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if dropped:
        log.warning("deid: %d gold mention(s) overlapped a replacement and were dropped (see %s)", dropped,
                    side / "summary.json")
    if not notes:
        raise DataFormatError(f"deid input: {cfg.input} has no readable note ({bad} bad line(s); the first: "
                              f"{first_bad or 'the input is empty'})")
    return summary
