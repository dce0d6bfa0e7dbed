"""vLLM's guided answers close within their token budget (slow: ~1 min; needs ``make vllm``).

Before the closer (infer/vllm_closing.py), vLLM's structured outputs kept the answer on the schema but cut it at
``max_new_tokens``: a short budget left unparseable JSON where the hf engine's processor closed the answer. Run
with ``pytest -m slow tests/infer/test_engine_vllm_guided.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VLLM_CLI = ROOT / ".venv-vllm" / "bin" / "cancerllm"
NOTES = [
    {"id": "a", "text": "Left breast, lumpectomy: invasive ductal carcinoma, 2.1 cm, grade 2. Pathologic stage pT2 pN0."},
    {"id": "b", "text": "Right upper lobe lobectomy: adenocarcinoma of the lung, 3.5 cm. pT2a N1 (1/12 nodes)."},
    {"id": "c", "text": "Sigmoid colon resection: moderately differentiated adenocarcinoma invading the subserosa, "
                        "pT3 pN0 (0/15). No distant metastasis."},
]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


@pytest.mark.parametrize("budget", [40])
def test_vllm_guided_answers_close_within_a_short_budget(tmp_path, budget):
    if not VLLM_CLI.is_file():
        pytest.skip("needs the vLLM venv: run `make vllm`")
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps(n) + "\n" for n in NOTES), encoding="utf-8")
    out = tmp_path / "out"
    res = subprocess.run([str(VLLM_CLI), "extract", str(notes), "--engine", "vllm", "--method", "llm", "--out",
                          str(out), "types=[stage_t,stage_n,stage_m]", f"generate.max_new_tokens={budget}",
                          "generate.guided=true"], env=ENV, capture_output=True, text=True, timeout=900, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    records = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["a", "b", "c"]
    for r in records:
        for raw in r["raw"]:
            parsed = json.loads(raw)  # closed, not cut: the whole answer is JSON of our schema
            assert set(parsed) == {"mentions"}
        assert not any("invalid JSON" in e for e in r.get("errors", [])), r.get("errors")
