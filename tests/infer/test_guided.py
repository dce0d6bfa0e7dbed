"""Guided decoding on the transformers engine: guided outputs always parse, batching stays exact, and a missing
optional extra (xgrammar) is a clear configuration error raised before any model is loaded."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import GenerateArgs, load_config
from cancerllm.data.prompts import get_style
from cancerllm.data.schema import Note
from cancerllm.errors import ConfigError
from cancerllm.infer.extract import ExtractConfig
from cancerllm.infer.generate import generate
from cancerllm.infer.guided import MAX_MENTIONS_PER_TYPE, schema_for
from cancerllm.infer.predictor import Predictor

pytest.importorskip("xgrammar", reason="the optional 'guided' extra is not installed")

NOTES = [Note(id="a", text="Tumor pT2a N0, margins clear."),
         Note(id="b", text="Lung mass. pT1 pN1 M0.\nAdenocarcinoma of the left lung, grade 2."),
         Note(id="c", text="Colon adenocarcinoma pT3 pN2a, 14 of 20 nodes positive; no distant metastasis.")]
TYPES = ["stage_t"]
STYLE = get_style("json.v1")
# Enough new tokens for the grammar to close the longest answer a random model is steered into (seed 4: eight
# mentions, the cap for one type, in 416 mostly one-character tokens), so no output here is cut by the budget.
BUDGET = 448


def _seeded(tiny_model, seed: int):
    """The conftest tiny model's architecture with other random weights (as build_tiny_model(seed) makes)."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(tiny_model.config)


def _predictor(model, tok, guided: bool, max_new_tokens: int = BUDGET) -> Predictor:
    gen = GenerateArgs(max_new_tokens=max_new_tokens, batch_size=3, max_prompt_tokens=400, guided=guided)
    return Predictor(model, tok, types=TYPES, gen=gen)


def _parse_errors(preds, task: str) -> list[list[str]]:
    """The real parser's errors on every raw generation (one list per output)."""
    parse = (lambda out: STYLE.parse_phenotype(out)[1]) if task == "phenotype" else \
        (lambda out: STYLE.parse_diagnosis(out)[1])
    return [parse(out) for p in preds for out in p.raw]


@pytest.mark.parametrize("task", ["phenotype", "diagnosis"])
def test_unguided_random_model_output_does_not_parse(tiny_model, tiny_tokenizer, task):
    preds = _predictor(tiny_model, tiny_tokenizer, guided=False, max_new_tokens=24).predict(NOTES, task)
    errors = _parse_errors(preds, task)
    assert len(errors) == len(NOTES) and all(errors)  # the baseline the guidance must fix


@pytest.mark.parametrize("task", ["phenotype", "diagnosis"])
@pytest.mark.parametrize("seed", [0, 1, 4])
def test_guided_output_always_parses(tiny_model, tiny_tokenizer, task, seed):
    # Several random models: each is steered into a different answer shape (empty list, capped strings, many
    # mentions with assertions and values, null or code-shaped ICD fields).
    model = _seeded(tiny_model, seed)
    preds = _predictor(model, tiny_tokenizer, guided=True).predict(NOTES, task)
    errors = _parse_errors(preds, task)
    assert len(errors) == len(NOTES) and not any(errors), errors
    for p in preds:
        assert not any("invalid JSON" in e or "unparseable" in e or "no JSON" in e for e in p.errors)
        if task == "phenotype":
            obj_mentions = STYLE.parse_phenotype(p.raw[0])[0]
            assert len(obj_mentions) <= MAX_MENTIONS_PER_TYPE * len(TYPES)
            assert all(m["type"] in TYPES for m in obj_mentions)  # only the asked types


@pytest.mark.parametrize("task,seed", [("diagnosis", 2), ("phenotype", 4)])
def test_guided_batched_equals_unbatched(tiny_model, tiny_tokenizer, task, seed):
    model = _seeded(tiny_model, seed)
    if task == "phenotype":
        prompts = [p for n in NOTES for _, p in STYLE.phenotype_prompts(n.text, TYPES, tiny_tokenizer)]
    else:
        prompts = [STYLE.diagnosis_prompt(n.text, tiny_tokenizer) for n in NOTES]
    schema = schema_for(task, "json.v1", TYPES)
    batched = generate(model, tiny_tokenizer, prompts, max_new_tokens=BUDGET, batch_size=3, schema=schema)
    one_by_one = [generate(model, tiny_tokenizer, [p], max_new_tokens=BUDGET, batch_size=1, schema=schema)[0]
                  for p in prompts]
    if task == "diagnosis":  # seed 2 answers differently per prompt: rows cannot have been mixed up
        assert len(set(batched)) > 1
    assert batched == one_by_one  # prompts of different lengths, so different left padding in the batch


@pytest.mark.parametrize("task", ["phenotype", "diagnosis"])
@pytest.mark.parametrize("budget", [32, 64, 100])
def test_guided_answer_closes_within_a_short_budget(tiny_model, tiny_tokenizer, task, budget):
    # Seed 4 answers with eight mentions (416 tokens) unbounded and seed 0 with a 120-character diagnosis: the
    # processor closes them before the budget ends (last mentions dropped, a text ended early) so they parse.
    for seed in (0, 4):
        preds = _predictor(_seeded(tiny_model, seed), tiny_tokenizer, guided=True,
                           max_new_tokens=budget).predict(NOTES, task)
        assert not any(_parse_errors(preds, task)), (seed, [p.raw for p in preds])


def test_guided_budget_below_the_skeleton_is_reported_not_hidden(tiny_model, tiny_tokenizer):
    # `{"mentions":[]}` alone takes more than 8 tokens of this tokenizer: the output is cut and says so.
    preds = _predictor(tiny_model, tiny_tokenizer, guided=True, max_new_tokens=8).predict(NOTES[:1], "phenotype")
    assert any("invalid JSON" in e for e in preds[0].errors)


def test_guided_needs_the_json_style(tiny_model, tiny_tokenizer):
    problems = GenerateArgs(guided=True, prompt_style="qa.v1").validate()
    assert any("generate.guided" in p and "qa.v1" in p for p in problems)
    gen = GenerateArgs(guided=True, prompt_style="qa.v1", max_prompt_tokens=400)
    with pytest.raises(ConfigError, match="json.v1"):  # e.g. a qa.v1 run chosen after validation
        Predictor(tiny_model, tiny_tokenizer, style="qa.v1", types=TYPES, gen=gen).predict(NOTES[:1])


def test_missing_extra_is_a_clear_error_before_model_loading(tiny_model, tiny_tokenizer, monkeypatch):
    monkeypatch.setitem(sys.modules, "xgrammar", None)  # what an environment without the extra looks like
    problems = GenerateArgs(guided=True).validate()
    assert len(problems) == 1 and "xgrammar" in problems[0] and "pip install" in problems[0]
    assert GenerateArgs(guided=False).validate() == []  # unconstrained needs nothing extra
    with pytest.raises(ConfigError, match="generate.guided"):  # load_config validates before anything loads
        load_config(ExtractConfig, None, ["input=x.txt", "model.path=/no/such/model", "generate.guided=true"])
    with pytest.raises(ConfigError, match="pip install"):  # the Python API says the same
        _predictor(tiny_model, tiny_tokenizer, guided=True).predict(NOTES[:1])


def test_cli_extract_guided(tiny_model_dir, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text(NOTES[1].text)
    res = CliRunner().invoke(app, ["extract", str(note), f"model.path={tiny_model_dir}", "types=[stage_t]",
                                   f"generate.max_new_tokens={BUDGET}", "generate.guided=true"])
    assert res.exit_code == 0, res.output
    import json

    record = json.loads(res.stdout.strip().splitlines()[-1])
    assert record["raw"] and not STYLE.parse_phenotype(record["raw"][0])[1]
