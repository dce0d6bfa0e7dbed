"""vLLM's budget-aware closing (infer/vllm_closing.py) without vLLM: the processor runs in vLLM's order of
operations (grammar bitmask first, then the sampler's logits processors, output token lists kept current by the
engine) on a real tokenizer, real xgrammar and a tiny random model, and must close guided answers exactly as the hf
engine's processor does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from cancerllm.data.instruct import prompt_token_ids
from cancerllm.data.prompts import get_style
from cancerllm.infer.generate import generate
from cancerllm.infer.guided import logits_processor, schema_for
from cancerllm.infer.vllm_closing import EXTRA_ARG, BudgetCloser, request_extra_args

xgr = pytest.importorskip("xgrammar", reason="the optional 'guided' extra is not installed")

STYLE = get_style("json.v1")
NOTE = "Colon adenocarcinoma pT3 pN2a, 14 of 20 nodes positive; no distant metastasis."


def _seeded(tiny_model, seed: int):
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(tiny_model.config)


def _closer(tokenizer_dir, vocab: int) -> BudgetCloser:
    # vLLM hands the processor its VllmConfig; the closer reads the tokenizer path and the vocab size from it.
    config = SimpleNamespace(model_config=SimpleNamespace(tokenizer=str(tokenizer_dir), get_vocab_size=lambda: vocab))
    return BudgetCloser(config, torch.device("cpu"), False)


def _added(index: int, max_tokens: int, output: list[int], marked: bool = True):
    params = SimpleNamespace(max_tokens=max_tokens, extra_args=request_extra_args() if marked else None)
    return (index, params, None, output)


class _VllmStep(LogitsProcessor):
    """One vLLM decoding step, in vLLM's order, for a batch of one request: the grammar matcher's token bitmask is
    applied to the logits (vLLM's ``apply_grammar_bitmask``), then the sampler runs the logits processors (here
    the closer, or none); the request's output token list is the running reference vLLM gives processors."""

    def __init__(self, compiled, vocab: int, max_tokens: int, closer: BudgetCloser | None):
        self.matcher, self.vocab, self.closer = xgr.GrammarMatcher(compiled), vocab, closer
        self.output: list[int] = []
        self.bitmask = xgr.allocate_token_bitmask(1, vocab)
        if closer is not None:
            closer.update_state(SimpleNamespace(batch_size=1, removed=[], added=[_added(0, max_tokens, self.output)],
                                                moved=[]))

    def __call__(self, input_ids, scores):
        if self.output or input_ids.shape[1] > self.prompt_len:  # feed the token sampled last step
            token = int(input_ids[0, -1])
            assert self.matcher.accept_token(token)
            self.output.append(token)
        if self.matcher.is_terminated():
            return scores
        self.matcher.fill_next_token_bitmask(self.bitmask, 0)
        xgr.apply_token_bitmask_inplace(scores, self.bitmask, vocab_size=self.vocab)
        if self.closer is not None:
            self.closer.update_state(None)  # no change in the batch this step
            scores = self.closer.apply(scores)
        return scores


def _vllm_order(model, tok, prompt: str, schema, budget: int, closer: BudgetCloser | None) -> str:
    ids = torch.tensor([prompt_token_ids(tok, prompt)])
    vocab = int(model.get_output_embeddings().weight.shape[0])
    compiled = logits_processor(model, tok, schema)[0].compiled
    step = _VllmStep(compiled, vocab, budget, closer)
    step.prompt_len = ids.shape[1]
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=budget, do_sample=False,
                         num_beams=1, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                         logits_processor=LogitsProcessorList([step]))
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


@pytest.mark.parametrize("task", ["phenotype", "diagnosis"])
@pytest.mark.parametrize("budget", [32, 64, 100])
def test_vllm_closer_closes_as_the_hf_processor_does(tiny_model, tiny_tokenizer, tiny_model_dir, task, budget):
    # Seed 4 answers with eight mentions (416 tokens) unbounded and seed 0 with a 120-character diagnosis: with the
    # grammar alone (vLLM's structured outputs before the closer) those answers are cut at the budget.
    schema = schema_for(task, "json.v1", ["stage_t"])
    prompt = (STYLE.phenotype_prompts(NOTE, ["stage_t"], tiny_tokenizer)[0][1] if task == "phenotype"
              else STYLE.diagnosis_prompt(NOTE, tiny_tokenizer))
    parse = STYLE.parse_phenotype if task == "phenotype" else STYLE.parse_diagnosis
    cut = 0
    for seed in (0, 4):
        model = _seeded(tiny_model, seed).eval()
        vocab = int(model.get_output_embeddings().weight.shape[0])
        closed = _vllm_order(model, tiny_tokenizer, prompt, schema, budget, _closer(tiny_model_dir, vocab))
        hf = generate(model, tiny_tokenizer, [prompt], max_new_tokens=budget, batch_size=1, schema=schema)[0]
        assert closed == hf  # the same rule on the same masked logits: the same greedy tokens
        assert not parse(closed)[1], (seed, closed)
        cut += bool(parse(_vllm_order(model, tiny_tokenizer, prompt, schema, budget, None))[1])
    assert cut >= 1  # without the closer at least one of the two answers does not parse


def test_vllm_closer_follows_the_batch(tiny_tokenizer, tiny_model_dir):
    # Rows are added (marked or not), removed and moved as vLLM's persistent batch changes; the closer must keep
    # each request's budget and output list with the row the request sits in.
    closer = _closer(tiny_model_dir, len(tiny_tokenizer))
    out_a, out_b, out_c = [], [], []
    closer.update_state(SimpleNamespace(batch_size=3, removed=[], moved=[],
                                        added=[_added(0, 50, out_a), _added(1, 60, out_b),
                                               _added(2, 70, out_c, marked=False)]))
    assert {i: m for i, (m, _) in closer.rows.items()} == {0: 50, 1: 60}
    closer.update_state(SimpleNamespace(batch_size=2, removed=[], added=[],
                                        moved=[(0, 1, SimpleNamespace(name="SWAP"))]))
    assert closer.rows[0][1] is out_b and closer.rows[1][1] is out_a
    closer.update_state(SimpleNamespace(batch_size=1, removed=[1], added=[],
                                        moved=[(0, 1, SimpleNamespace(name="UNIDIRECTIONAL"))]))
    assert list(closer.rows) == [1] and closer.rows[1][1] is out_b
    closer.update_state(SimpleNamespace(batch_size=1, removed=[1], added=[_added(1, 10, [], marked=False)], moved=[]))
    assert closer.rows == {}
    assert EXTRA_ARG in request_extra_args()


def test_vllm_closer_leaves_unmarked_and_early_rows_alone(tiny_tokenizer, tiny_model_dir):
    vocab = len(tiny_tokenizer)
    closer = _closer(tiny_model_dir, vocab)
    near_end, early = [5] * 90, [5] * 10  # 10 and 90 new tokens left of 100
    closer.update_state(SimpleNamespace(batch_size=3, removed=[], moved=[],
                                        added=[_added(0, 100, near_end), _added(1, 100, early),
                                               _added(2, 100, list(near_end), marked=False)]))
    logits = torch.zeros(3, vocab)
    got = closer.apply(logits.clone())
    assert torch.equal(got[1], logits[1]) and torch.equal(got[2], logits[2])  # nothing forced yet / not guided
    assert bool((got[0] == float("-inf")).any())  # the near-end row may only close now
