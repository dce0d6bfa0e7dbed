"""Closed-set scoring: shared-prefill label log-probs equal a full forward per label, from one pass over the prompt.

Tolerance: 1e-4 absolute on summed log-probs in fp32 (the cached and the full forward differ only in the order of
float additions inside attention; measured differences on the tiny model are ~1e-6).
"""

from __future__ import annotations

import math

import pytest
import torch

from cancerllm.data.instruct import prompt_token_ids
from cancerllm.errors import ConfigError
from cancerllm.infer.scoring import (
    FIELDS,
    STAGED_M0_RULE,
    classify_fields,
    classify_text,
    common_prefix_len,
    evidence_first,
    field_prompt,
    label_token_ids,
    score_fields,
    score_labels,
    score_labels_naive,
    score_prompts,
    softmax,
)

TOL = 1e-4
NOTE = "Final diagnosis: invasive ductal carcinoma of the left breast, grade 2, measuring 2.3 cm. Stage pT2 N1a M0."
# Different token lengths on purpose: one short, one long, one sharing a prefix with another.
LABELS = [" T1", " T1a", " T2", " invasive ductal carcinoma of the breast", " x"]


def _record_forwards(model):
    """Input shapes of every top-level forward call (the prefill is the one as long as the prompt)."""
    calls: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda mod, args, kwargs: calls.append(kwargs["input_ids"].clone()),
                                    with_kwargs=True)
    return calls


def _prompt(tok, note=NOTE):
    return field_prompt(FIELDS["t_stage"], note, tok)


def test_scoring_shared_prefill_equals_naive_per_label_forward(tiny_model, tiny_tokenizer):
    prompt = _prompt(tiny_tokenizer)
    lengths = {len(ids) for ids in label_token_ids(tiny_tokenizer, LABELS)}
    assert len(lengths) >= 3  # the labels really differ in token length
    naive = score_labels_naive(tiny_model, tiny_tokenizer, prompt, LABELS)
    for batch in (1, 2, 8):  # one label per forward, uneven batches, all in one batch
        fast = score_labels(tiny_model, tiny_tokenizer, prompt, LABELS, label_batch_size=batch)
        assert list(fast) == LABELS
        for label in LABELS:
            assert fast[label] == pytest.approx(naive[label], abs=TOL), (batch, label)
            assert fast[label] < 0


def test_scoring_length_normalised_is_the_per_token_mean(tiny_model, tiny_tokenizer):
    prompt = _prompt(tiny_tokenizer)
    total = score_labels(tiny_model, tiny_tokenizer, prompt, LABELS)
    mean = score_labels(tiny_model, tiny_tokenizer, prompt, LABELS, length_normalize=True)
    for label, ids in zip(LABELS, label_token_ids(tiny_tokenizer, LABELS), strict=True):
        assert mean[label] == pytest.approx(total[label] / len(ids), abs=1e-6)


def test_scoring_runs_the_prompt_once_with_the_inference_token_ids(tiny_model, tiny_tokenizer):
    prompt = _prompt(tiny_tokenizer)
    expected_ids = prompt_token_ids(tiny_tokenizer, prompt)
    calls = _record_forwards(tiny_model)
    score_labels(tiny_model, tiny_tokenizer, prompt, LABELS, label_batch_size=2)
    label_ids = label_token_ids(tiny_tokenizer, LABELS)
    longest = max(len(ids) for ids in label_ids)
    # Exactly one call carries the prompt, with the ids inference and SFT use; every other call is label-sized.
    assert calls[0].tolist() == [expected_ids]
    assert all(c.shape[1] < longest for c in calls[1:])
    assert sum(c.shape[1] >= len(expected_ids) for c in calls) == 1
    multi = sum(len(ids) > 1 for ids in label_ids)
    assert len(calls) == 1 + math.ceil(multi / 2)


def test_scoring_prefix_labels_scored_as_complete_answers(tiny_model, tiny_tokenizer):
    short, long = (label_token_ids(tiny_tokenizer, [" T1", " T1a"], eos=False))
    assert long[:len(short)] == short and len(long) > len(short)  # " T1a" really extends " T1" token-wise
    prompt = _prompt(tiny_tokenizer)
    naive = score_labels_naive(tiny_model, tiny_tokenizer, prompt, [" T1", " T1a"])
    fast = score_labels(tiny_model, tiny_tokenizer, prompt, [" T1", " T1a"])
    assert fast == pytest.approx(naive, abs=TOL)
    # Without the EOS a prefix collects its extensions' mass: log p(T1a) = log p(T1) + log p(a | T1) <= log p(T1).
    open_ended = score_labels(tiny_model, tiny_tokenizer, prompt, [" T1", " T1a"], eos=False)
    assert open_ended[" T1a"] < open_ended[" T1"]
    assert open_ended == pytest.approx(score_labels_naive(tiny_model, tiny_tokenizer, prompt, [" T1", " T1a"],
                                                          eos=False), abs=TOL)


def test_scoring_probabilities_sum_to_one(tiny_model, tiny_tokenizer):
    probs = softmax(score_labels(tiny_model, tiny_tokenizer, _prompt(tiny_tokenizer), LABELS))
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
    assert all(0 < p < 1 for p in probs.values())
    assert softmax({"a": -1000.0, "b": -1001.0})["a"] == pytest.approx(1 / (1 + math.exp(-1)))  # no underflow


def test_scoring_several_prompts_match_one_by_one(tiny_model, tiny_tokenizer):
    prompts = [_prompt(tiny_tokenizer), _prompt(tiny_tokenizer, "Lung adenocarcinoma, pT1 N0.")]
    got = score_prompts(tiny_model, tiny_tokenizer, prompts, LABELS[:3])
    assert got == [score_labels(tiny_model, tiny_tokenizer, p, LABELS[:3]) for p in prompts]
    assert got[0] != got[1]


def test_scoring_through_a_peft_lora_model_equals_naive(tiny_model, tiny_tokenizer):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)
    # init_lora_weights=False: a non-zero update, so the adapter really changes the scores.
    model = get_peft_model(tiny_model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.eval()
    prompt = _prompt(tiny_tokenizer)
    assert score_labels(model, tiny_tokenizer, prompt, LABELS) == pytest.approx(
        score_labels_naive(model, tiny_tokenizer, prompt, LABELS), abs=TOL)


def test_scoring_classify_text_chunks_a_long_report_and_pools(tiny_model, tiny_tokenizer):
    from cancerllm.data.chunking import chunk_text
    from cancerllm.data.instruct import token_counter

    text = " ".join([NOTE] * 12)
    overhead = len(prompt_token_ids(tiny_tokenizer, field_prompt(FIELDS["m_stage"], "", tiny_tokenizer)))
    budget = overhead + 200  # the tiny byte-level BPE spends ~170 tokens on the template
    n_chunks = len(chunk_text(text, budget - overhead, token_counter(tiny_tokenizer), 200))
    assert n_chunks > 1
    mean = classify_text(tiny_model, tiny_tokenizer, text, "m_stage", max_prompt_tokens=budget)
    top = classify_text(tiny_model, tiny_tokenizer, text, "m_stage", max_prompt_tokens=budget, combine="max")
    assert len(mean.chunk_probs) == n_chunks and mean.chunk_probs == top.chunk_probs
    for res in (mean, top):
        assert set(res.probs) == {"M0", "M1"} and sum(res.probs.values()) == pytest.approx(1.0)
        assert res.label == max(res.probs, key=res.probs.get) and res.confidence == res.probs[res.label]
    # mean: normalised geometric mean of the chunk distributions; max: the most confident chunk's distribution.
    geo = softmax({k: sum(math.log(c[k]) for c in mean.chunk_probs) / n_chunks for k in ("M0", "M1")})
    assert mean.probs == pytest.approx(geo)
    assert top.probs == pytest.approx(max(mean.chunk_probs, key=lambda c: max(c.values())))
    # A report that fits the budget is one prompt, scored exactly as score_labels scores it.
    one = classify_text(tiny_model, tiny_tokenizer, NOTE, "m_stage")
    spec = FIELDS["m_stage"]
    direct = softmax(score_labels(tiny_model, tiny_tokenizer, field_prompt(spec, NOTE, tiny_tokenizer),
                                  [spec.verbalise(k) for k in spec.labels]))
    assert list(one.probs.values()) == pytest.approx(list(direct.values()))


def test_scoring_fields_cover_the_closed_label_sets():
    assert FIELDS["t_stage"].labels == ["T1", "T2", "T3", "T4"]
    assert FIELDS["n_stage"].labels == ["N0", "N1", "N2", "N3"]
    assert len(FIELDS["cancer_type"].labels) == 32 and "LAML" not in FIELDS["cancer_type"].labels
    verbal = [FIELDS["cancer_type"].verbalise(k) for k in FIELDS["cancer_type"].labels]
    assert len(set(verbal)) == 32  # distinct continuations, or two types could never be told apart


def test_scoring_errors_name_the_field_and_value(tiny_model, tiny_tokenizer):
    with pytest.raises(ConfigError, match=r"field: got 'grade', expected one of \['cancer_type'"):
        classify_text(tiny_model, tiny_tokenizer, NOTE, "grade")
    with pytest.raises(ConfigError, match="combine: got 'vote'"):
        classify_text(tiny_model, tiny_tokenizer, NOTE, "t_stage", combine="vote")
    with pytest.raises(ConfigError, match="max_prompt_tokens=220 leaves 15 tokens for the note after the 205-token"):
        classify_text(tiny_model, tiny_tokenizer, NOTE, "t_stage", max_prompt_tokens=220)
    with pytest.raises(ConfigError, match=r"duplicates \[' T1'\]"):
        score_labels(tiny_model, tiny_tokenizer, "x", [" T1", " T2", " T1"])
    with pytest.raises(ConfigError, match="has no tokens"):
        score_labels(tiny_model, tiny_tokenizer, "x", [""], eos=False)


def test_scoring_cache_budget_bounds_label_batches_and_keeps_the_scores(tiny_model, tiny_tokenizer):
    # Each label of a continuation batch holds a copy of the prompt's KV cache: max_cache_tokens caps labels x prompt
    # tokens per forward (memory), and the scores stay those of a full forward per label.
    prompt = _prompt(tiny_tokenizer)
    n_prompt = len(prompt_token_ids(tiny_tokenizer, prompt))
    naive = score_labels_naive(tiny_model, tiny_tokenizer, prompt, LABELS)
    for per_batch in (1, 2):
        calls = _record_forwards(tiny_model)
        light = score_labels(tiny_model, tiny_tokenizer, prompt, LABELS, label_batch_size=8,
                             max_cache_tokens=per_batch * n_prompt + 1)
        tiny_model._forward_pre_hooks.clear()
        assert all(c.shape[0] <= per_batch for c in calls[1:]), [tuple(c.shape) for c in calls]
        multi = sum(len(ids) > 1 for ids in label_token_ids(tiny_tokenizer, LABELS))
        assert len(calls) == 1 + math.ceil(multi / per_batch)
        for label in LABELS:
            assert light[label] == pytest.approx(naive[label], abs=TOL), (per_batch, label)


STAGES = ("t_stage", "n_stage", "m_stage")


def _verbal(field_name):
    spec = FIELDS[field_name]
    return [spec.verbalise(k) for k in spec.labels]


def test_scoring_fields_share_one_prefill_of_the_report_and_equal_one_field_at_a_time(tiny_model, tiny_tokenizer):
    prompts = {f: field_prompt(FIELDS[f], NOTE, tiny_tokenizer) for f in STAGES}
    ids = {f: prompt_token_ids(tiny_tokenizer, p) for f, p in prompts.items()}
    common = common_prefix_len(list(ids.values()))
    # The shared prefix holds the whole report (the prompts differ only from the question on).
    assert NOTE + "\n\n" in tiny_tokenizer.decode(ids["t_stage"][:common])
    calls = _record_forwards(tiny_model)
    tails = [ids[f][common:] for f in STAGES]
    assert len({len(t) for t in tails}) > 1  # tails of different lengths: the label forward must mask the pads
    room = 10 * (common + max(len(t) for t in tails))  # a cache budget that holds all 10 label rows
    shared = score_fields(tiny_model, tiny_tokenizer, prompts, {f: _verbal(f) for f in STAGES}, max_cache_tokens=room)
    tiny_model._forward_pre_hooks.clear()
    # Three forwards whatever the number of fields: the shared prefix (the report is read once), every field's tail
    # (right-padded rows), and every label of every field (4 + 4 + 2 rows).
    assert calls[0].tolist() == [ids["t_stage"][:common]]
    assert len(calls) == 3
    assert [row[:len(t)] for row, t in zip(calls[1].tolist(), tails, strict=True)] == tails
    labels = [ids for f in STAGES for ids in label_token_ids(tiny_tokenizer, _verbal(f))]
    assert [row[:len(x) - 1] for row, x in zip(calls[2].tolist(), labels, strict=True)] == [x[:-1] for x in labels]
    # A cache budget of 3 labels x the prompt splits the labels into forwards of 3 and keeps the numbers.
    calls = _record_forwards(tiny_model)
    split = score_fields(tiny_model, tiny_tokenizer, prompts, {f: _verbal(f) for f in STAGES},
                         max_cache_tokens=3 * (common + max(len(t) for t in tails)))
    tiny_model._forward_pre_hooks.clear()
    assert [c.shape[0] for c in calls[2:]] == [3, 3, 3, 1]
    for f in STAGES:
        assert split[f] == pytest.approx(shared[f], abs=TOL), f
    for f in STAGES:  # the same numbers as one full prefill per field
        alone = score_labels(tiny_model, tiny_tokenizer, prompts[f], _verbal(f))
        assert shared[f] == pytest.approx(alone, abs=TOL), f
        assert shared[f] == pytest.approx(score_labels_naive(tiny_model, tiny_tokenizer, prompts[f], _verbal(f)),
                                          abs=TOL), f


def test_scoring_classify_fields_equals_classify_text_per_field_on_chunked_reports(tiny_model, tiny_tokenizer):
    from cancerllm.infer.generate import GenerationStats

    text = " ".join([NOTE] * 6)
    over = {f: len(prompt_token_ids(tiny_tokenizer, field_prompt(FIELDS[f], "", tiny_tokenizer))) for f in STAGES}
    overhead = max(over.values())
    budget = overhead + 200
    stats = GenerationStats()
    together = classify_fields(tiny_model, tiny_tokenizer, text, list(STAGES), max_prompt_tokens=budget, stats=stats)
    assert list(together) == list(STAGES)
    for f in STAGES:  # the same chunks (the note's budget is set by the longest question) scored one field at a time
        alone = classify_text(tiny_model, tiny_tokenizer, text, f, max_prompt_tokens=budget - overhead + over[f])
        assert len(together[f].chunk_probs) > 1
        assert together[f].probs == pytest.approx(alone.probs, abs=1e-5) and together[f].label == alone.label
    # Prefilled tokens: the report's chunks once, not once per field.
    per_field = sum(len(prompt_token_ids(tiny_tokenizer, field_prompt(FIELDS["t_stage"], c, tiny_tokenizer)))
                    for c in _chunks(tiny_tokenizer, text, budget - overhead))
    assert per_field < stats.prompt_tokens < 1.5 * per_field
    with pytest.raises(ConfigError, match=r"fields: got \['t_stage', 't_stage'\], expected distinct names"):
        classify_fields(tiny_model, tiny_tokenizer, text, ["t_stage", "t_stage"])


def _chunks(tok, text, budget):
    from cancerllm.data.chunking import chunk_text
    from cancerllm.data.instruct import token_counter

    return [c.text for c in chunk_text(text, budget, token_counter(tok), 200)]


def test_scoring_evidence_first_reads_stated_fields_and_scores_only_the_rest(tiny_model, tiny_tokenizer):
    staged = "Invasive ductal carcinoma, 2.3 cm. Pathologic stage: pT2 pN1a."
    calls = _record_forwards(tiny_model)
    got = evidence_first(tiny_model, tiny_tokenizer, staged)
    assert calls == []  # every field stated or ruled: no forward pass at all
    assert got["t_stage"]["label"] == "T2" and got["n_stage"]["label"] == "N1"
    for f in ("t_stage", "n_stage"):
        src = got[f]
        assert src["source"] == "evidence" and staged[src["start"]:src["end"]] == src["text"]
    assert got["m_stage"] == {"label": "M0", "source": "rule", "rule": STAGED_M0_RULE}
    # Without the rule, M is scored (one prefill), and equals classify_fields' answer.
    no_rule = evidence_first(tiny_model, tiny_tokenizer, staged, staged_m0=False)
    assert no_rule["m_stage"]["source"] == "inferred"
    expected = classify_fields(tiny_model, tiny_tokenizer, staged, ["m_stage"])["m_stage"]
    assert no_rule["m_stage"]["label"] == expected.label
    assert no_rule["m_stage"]["distribution"] == {k: round(v, 4) for k, v in expected.probs.items()}
    # Nothing stated: every field scored, in one shared prefill per chunk.
    bare = evidence_first(tiny_model, tiny_tokenizer, "Invasive ductal carcinoma, 2.3 cm, margins clear.")
    assert [v["source"] for v in bare.values()] == ["inferred"] * 3
    assert all(sum(v["distribution"].values()) == pytest.approx(1.0, abs=1e-3) for v in bare.values())


def test_scoring_classify_fields_length_normalised_is_score_labels_per_token_mean(tiny_model, tiny_tokenizer):
    got = classify_fields(tiny_model, tiny_tokenizer, NOTE, ["cancer_type"], length_normalize=True)["cancer_type"]
    spec = FIELDS["cancer_type"]  # labels of very different token lengths
    direct = score_labels(tiny_model, tiny_tokenizer, field_prompt(spec, NOTE, tiny_tokenizer), _verbal("cancer_type"),
                          length_normalize=True)
    assert list(got.probs.values()) == pytest.approx(list(softmax(direct).values()), abs=1e-6)
