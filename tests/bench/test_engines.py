"""bench --engines: the orchestrator runs each engine in its own process on the same notes and writes one table.

The hf engine runs for real on the tiny model in a subprocess (as vllm does from .venv-vllm; that run is the slow
test in tests/infer/test_engine_vllm.py). No timing thresholds: only that every field is measured and consistent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cancerllm.bench.engines import EnginesConfig, matmul_peak, run, task_score
from cancerllm.bench.report import engines_markdown
from cancerllm.cli import app
from cancerllm.config import load_config
from cancerllm.data.io import write_jsonl
from cancerllm.data.schema import Note
from cancerllm.errors import ResourceError

NOTES = [Note(id=f"n{i}", text=f"Report {i}. Invasive carcinoma, pT{1 + i % 3} N{i % 2} M0, margins negative.",
              labels={"t_stage": f"T{1 + i % 3}", "n_stage": f"N{i % 2}", "m_stage": "M0" if i else None})
         for i in range(3)]


def _cfg(tmp_path, model_dir, *extra):
    notes = write_jsonl(NOTES, tmp_path / "notes.jsonl")
    return load_config(EnginesConfig, overrides=[f"input={notes}", f"model.path={model_dir}", f"out_root={tmp_path}",
                                                 "n_notes=3", "n_boot=20", "generate.max_new_tokens=8",
                                                 "generate.batch_size=2", "generate.max_prompt_tokens=512", "matmul_seconds=0.1",
                                                 *extra])


def test_task_score_counts_missing_answers_wrong_and_skips_missing_gold():
    gold = [{"t_stage": "T2", "n_stage": "N0", "m_stage": None}, {"t_stage": "T1", "n_stage": None, "m_stage": "M0"}]
    pred = [{"t_stage": "T2", "n_stage": None, "m_stage": "M1"}, {"t_stage": "T3", "n_stage": "N1", "m_stage": "M0"}]
    s = task_score(gold, pred)
    assert s["t_stage"] == 0.5 and s["n_stage"] == 0.0 and s["m_stage"] == 1.0 and s["n_gold"] == 4
    assert s["mean"] == pytest.approx(0.5)
    # Macro-F1 over the gold classes: T (T2 right, T1 read as T3) 0.5, N ("none" for N0) 0, M 1.
    assert s["macro_f1"] == {"t_stage": 0.5, "n_stage": 0.0, "m_stage": 1.0, "mean": 0.5}
    skewed = task_score([{"t_stage": "T1"}] * 9 + [{"t_stage": "T4"}], [{"t_stage": "T1"}] * 10)
    assert skewed["t_stage"] == 0.9 and skewed["macro_f1"]["t_stage"] == pytest.approx((18 / 19 + 0) / 2, abs=1e-4)


def test_matmul_peak_measures_both_precisions():
    peak = matmul_peak(threads=1, n=128, seconds=0.05)
    assert peak["bf16_gflops"] > 0 and peak["fp32_gflops"] > 0


def test_engines_bench_runs_hf_in_a_subprocess_and_writes_the_table(tmp_path, tiny_model_dir):
    cfg = _cfg(tmp_path, tiny_model_dir, "engines=hf", "styles=qa.v1,json.v1,scoring,scoring+evidence")
    result = run(cfg)
    saved = json.loads((tmp_path / "engines" / "bench.json").read_text())
    assert saved["engines"][0]["engine"] == "hf" and "error" not in saved["engines"][0]
    eng = saved["engines"][0]
    assert eng["startup_s"] > 0 and eng["model"]["path"] == str(tiny_model_dir)
    assert [c["style"] for c in eng["cells"]] == ["qa.v1", "json.v1", "scoring", "scoring+evidence"]
    for c in eng["cells"]:
        assert c["notes"] == 3 and c["calls"] == 2 and c["notes_per_s"] > 0 and c["cpu_s_per_note"] >= 0
        assert c["peak_rss_mib"] > 0 and c["latency_ms"]["p95"] >= c["latency_ms"]["p50"] > 0
        assert c["score"]["n_gold"] == 3 + 3 + 2
    qa, js, sc, ev = eng["cells"]
    assert min(qa["prompt_tokens"], js["prompt_tokens"], sc["prompt_tokens"]) > 0
    # Every note states pT, N and M: evidence-first reads all three with no forward pass, and gets them right.
    assert ev["prompt_tokens"] == 0 and ev["new_tokens"] == 0 and ev["score"]["mean"] == 1.0
    assert qa["outputs"] == 3 * js["outputs"]  # one question per entity type vs one JSON answer per chunk
    assert sc["new_tokens"] == 0 and sc["outputs"] == 0
    probe = eng["prefill_probe"]
    assert probe["prompts"] == 3 and 0 < probe["fraction_of_peak"] and probe["gflops"] > 0
    assert result["matmul_peak"]["bf16_gflops"] > 0
    assert not (tmp_path / "engines" / "notes.jsonl").exists()  # note texts are not left in the results
    md = (tmp_path / "engines" / "bench.md").read_text()
    assert md == engines_markdown(saved) and "| hf | qa.v1 |" in md and "| hf | scoring |" in md


def test_engines_bench_without_the_vllm_venv_fails_before_running(tmp_path, tiny_model_dir):
    cfg = _cfg(tmp_path, tiny_model_dir, "engines=hf,vllm", f"vllm_python={tmp_path}/none/python")
    with pytest.raises(ResourceError, match="make vllm"):
        run(cfg)
    assert not (tmp_path / "engines" / "bench.json").exists()


def test_bench_cli_engines_flag_selects_the_engines_benchmark(tmp_path):
    res = CliRunner().invoke(app, ["bench", "--engines", "hf,tgi", f"out_root={tmp_path}"])
    assert res.exit_code != 0 and "engines" in res.output and "'tgi'" in res.output


def test_prefill_fraction_compares_a_bf16_model_with_the_bf16_peak_whatever_the_dtype_spelling(tmp_path):
    """hf reports 'bfloat16', vllm 'bf16': both are bf16 models and are held against the bf16 matmul peak."""
    from cancerllm.bench.engines import _add_prefill_fraction

    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8, "num_hidden_layers": 1, "intermediate_size": 16,
                                                      "vocab_size": 10, "num_attention_heads": 2,
                                                      "num_key_value_heads": 1}))
    peak = {"bf16_gflops": 100.0, "fp32_gflops": 10.0}
    results = [{"model": {"path": str(tmp_path), "dtype": d}, "prefill_probe": {"prompt_tokens": 10, "seconds": 1.0,
                                                                                "cpu_s": 1.0}}
               for d in ("bfloat16", "bf16", "float32")]
    _add_prefill_fraction(results, peak, None)
    assert [r["prefill_probe"]["peak_gflops"] for r in results] == [100.0, 100.0, 10.0]


def _tiny_run(path, model_dir, style: str, seed: int):
    """A real run folder: run.json + a LoRA adapter saved by PEFT on the tiny model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                           LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(path / "adapter")
    (path / "run.json").write_text(json.dumps({"kind": "sft", "base_model": str(model_dir), "prompt_style": style,
                                               "types": ["stage_t", "stage_n", "stage_m"]}))
    return path


def test_engines_bench_loads_each_styles_own_run_and_keeps_only_labelled_notes(tmp_path, tiny_model_dir):
    # Fine-tuned quality per style: the qa.v1 cell must be answered by the run trained in qa.v1 and the json.v1
    # cell by the json.v1 run, each loaded in its own process; an unlabelled note would score nothing.
    qa = _tiny_run(tmp_path / "run_qa", tiny_model_dir, "qa.v1", 1)
    js = _tiny_run(tmp_path / "run_json", tiny_model_dir, "json.v1", 2)
    notes = [Note(id="u", text="Report without staging. Benign.")] + NOTES
    path = write_jsonl(notes, tmp_path / "mixed.jsonl")
    cfg = _cfg(tmp_path, tiny_model_dir, "engines=hf", "styles=qa.v1,json.v1", f"run={js}", f"runs={{qa.v1: {qa}}}",
               "labelled=true", f"input={path}", "model.device=cpu")
    run(cfg)
    saved = json.loads((tmp_path / "engines" / "bench.json").read_text())
    assert saved["input"]["notes"] == 3 and saved["input"]["gold"]["t_stage"] == 3  # "u" dropped, not scored
    got = {(e["run"], tuple(c["style"] for c in e["cells"])) for e in saved["engines"]}
    assert got == {(str(qa), ("qa.v1",)), (str(js), ("json.v1",))}
    for e in saved["engines"]:
        assert "error" not in e and e["model"]["adapter"][-1].startswith(e["run"])  # that run's adapter was loaded
    md = (tmp_path / "engines" / "bench.md").read_text()
    assert "| hf | run_qa | qa.v1 |" in md and "| hf | run_json | json.v1 |" in md


def test_engines_runs_must_name_benchmarked_styles(tmp_path, tiny_model_dir):
    from cancerllm.errors import ConfigError

    with pytest.raises(ConfigError, match="runs"):
        _cfg(tmp_path, tiny_model_dir, "styles=json.v1", "runs={qa.v1: somewhere}")


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "configs" / "bench-engines").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_engine_bench_configs_load_and_name_their_command(path):
    cfg = load_config(EnginesConfig, path)
    assert path.read_text().startswith("# cancerllm bench --engines")
    assert all(style in cfg.styles for style in cfg.runs)


def test_task_score_runs_without_scikit_learn_as_in_the_vllm_venv_and_matches_it():
    # The vLLM worker scores its cells in .venv-vllm, which has no scikit-learn: task_score must not import it.
    import random
    import subprocess
    import sys

    from sklearn.metrics import f1_score

    code = ("import sys; sys.modules['sklearn'] = None\n"
            "from cancerllm.bench.engines import task_score\n"
            "print(task_score([{'t_stage': 'T1'}, {'t_stage': 'T2'}], [{'t_stage': 'T1'}, {}])['macro_f1']['t_stage'])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert float(run.stdout) == pytest.approx(0.5)  # T1 right (F1 1), T2 missing (F1 0)
    rng = random.Random(0)
    gold = [{"t_stage": rng.choice(["T1", "T2", "T3", "T4"])} for _ in range(200)]
    pred = [{"t_stage": rng.choice(["T1", "T2", "T3", None])} for _ in range(200)]
    ours = task_score(gold, pred)["macro_f1"]["t_stage"]
    y, p = [g["t_stage"] for g in gold], [q["t_stage"] or "none" for q in pred]
    assert ours == pytest.approx(f1_score(y, p, average="macro", labels=sorted(set(y)), zero_division=0), abs=1e-4)
