"""Seeded fuzz corpus through the real ``cancerllm extract`` CLI, in one process, on the tiny model.

1,200 mixed lines: good notes (some behind a BOM, some with non-ASCII text, some repeating an id), notes with empty
text, broken JSON, JSON that is not an object, invalid UTF-8, nesting too deep to parse, lone surrogate escapes,
records missing ``text`` or with a non-string ``id``. Expected: no traceback, exit 0, one record per good or empty
note (ids conserved, repeats included), one input error per bad line naming ``file:line``; the counts are printed.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter

from typer.testing import CliRunner

from cancerllm.cli import app

N_LINES = 1200
SEED = 17


def _good(rng: random.Random, i: int) -> tuple[bytes, str]:
    nid = f"note-{i}" if rng.random() > 0.05 else f"note-{rng.randrange(max(i, 1))}"  # ~5% repeat an earlier id
    text = rng.choice(["Invasive carcinoma, pT2 N0 M0.", "Carcinome canalaire, pT3 N1, grade 2.", "ER+ PR- HER2 0.",
                       "腫瘍 pT1c N0.", "Ki-67 30%; margins negative."])
    return json.dumps({"id": nid, "text": text}, ensure_ascii=rng.random() < 0.5).encode(), nid


_BAD = [
    lambda rng: b'{"id": "x", "text": "unterminated',                 # broken JSON
    lambda rng: b"[1, 2, 3]",                                         # not an object
    lambda rng: b'"just a string"',
    lambda rng: b'{"id": "u", "text": "caf\xe9 \xff"}',               # invalid UTF-8
    lambda rng: b"[" * rng.randrange(2000, 20000),                   # nested too deeply
    lambda rng: b'{"id": "s\\ud800", "text": "pT2"}',                 # lone surrogate in the id
    lambda rng: b'{"id": "t", "text": "pT2 \\udfff N0"}',             # ... and in the text
    lambda rng: b'{"id": "m"}',                                       # missing text
    lambda rng: b'{"id": 7, "text": "pT2"}',                          # id not a string
    lambda rng: bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 30))).replace(b"\n", b"?") + b"\x80",
]


def _corpus(rng: random.Random):
    """Lines plus what each must become: ('note', id), ('empty', id) or ('bad', None)."""
    lines, want = [], []
    for i in range(N_LINES):
        r = rng.random()
        if r < 0.45:
            line, nid = _good(rng, i)
            if rng.random() < 0.05:  # a BOM mid-file, as `cat a.jsonl b.jsonl` leaves it
                line = b"\xef\xbb\xbf" + line
            lines.append(line)
            want.append(("note", nid))
        elif r < 0.50:
            nid = f"empty-{i}"
            lines.append(json.dumps({"id": nid, "text": rng.choice(["", "  ", "\n\t"])}).encode())
            want.append(("empty", nid))
        else:
            lines.append(rng.choice(_BAD)(rng))
            want.append(("bad", None))
    return b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n", want


def test_fuzz_extract_cli_loses_no_good_note_and_reports_every_bad_line(tiny_model_dir, tmp_path, capsys):
    data, want = _corpus(random.Random(SEED))
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["extract", str(path), "--out", str(out), f"model.path={tiny_model_dir}",
                                   "model.dtype=fp32", "generate.max_new_tokens=1", "generate.batch_size=64",
                                   "types=[stage_t]"])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)[:300]
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output

    recs = [json.loads(line) for line in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    summary = json.loads((out / "summary.json").read_text())
    want_ids = Counter(nid for kind, nid in want if kind != "bad")
    got_ids = Counter(r["id"] for r in recs)
    bad_lines = [n for n, (kind, _) in enumerate(want, start=1) if kind == "bad"]
    reported = [int(re.search(r"fuzz\.jsonl:(\d+)", e).group(1)) for e in summary["input_errors"]]
    empty = {nid for kind, nid in want if kind == "empty"}
    counts = {"lines": N_LINES, "good": sum(k == "note" for k, _ in want), "empty": len(empty),
              "bad": len(bad_lines), "records": len(recs), "errors_reported": len(reported),
              "duplicate_ids": summary["duplicate_ids"]}
    with capsys.disabled():
        print(f"\nfuzz counts: {json.dumps(counts)}")

    assert got_ids == want_ids  # 0 good notes lost, none invented, repeats kept
    assert reported == bad_lines  # every bad line reported once, by file:line, in order
    assert all(any("empty note" in e for e in r["errors"]) and r["raw"] == [] for r in recs if r["id"] in empty)
    assert counts["good"] + counts["empty"] + counts["bad"] == N_LINES
    assert counts["records"] == counts["good"] + counts["empty"] and counts["errors_reported"] == counts["bad"]
    assert summary["notes"] == len(recs) and summary["empty_notes"] == len(empty)
    assert counts["good"] > 400 and counts["bad"] > 500 and summary["duplicate_ids"] > 0
