"""Budget-aware closing of guided answers inside vLLM: the hf engine's rule, as a vLLM logits processor.

vLLM's structured outputs keep a guided answer on our JSON schema but know nothing of ``max_tokens``: a model that
keeps listing mentions is cut mid-object and the answer does not parse (27 of 31 guided answers on 16 TCGA reports
with a 96-token budget, docs/results.md "Engines x styles"). The hf engine avoids that with
:class:`cancerllm.infer.guided.GrammarLogitsProcessor`, which restricts the last ``SOFT_CLOSE`` steps to closing
tokens. :class:`BudgetCloser` applies the same :func:`cancerllm.infer.guided.close_row` inside vLLM:

* vLLM applies the grammar's token bitmask to the logits first and then runs the sampler's logits processors
  (vLLM V1: ``sample_tokens`` then ``Sampler``), so the processor sees the grammar-masked logits the hf processor
  sees and keeps only the closing tokens among those allowed;
* it acts only on requests whose ``SamplingParams.extra_args`` carry :data:`EXTRA_ARG` (the engine sets it on
  guided requests), reading each request's ``max_tokens`` and its running output token list (a reference vLLM
  keeps current), so the budget left and the inside-a-string state follow each request exactly.

The module imports without vllm (the base class falls back to ``object``), so the default venv can collect it;
only vLLM instantiates the class (``LLM(logits_processors=[BudgetCloser])``).
"""

from __future__ import annotations

from typing import Any

from cancerllm.infer.guided import SOFT_CLOSE, close_row, closer_tables, in_string

try:  # vllm lives in its own venv (.venv-vllm); without it this module is inert
    from vllm.v1.sample.logits_processor import LogitsProcessor as _Base
except ImportError:  # pragma: no cover - exercised in .venv-vllm only
    _Base = object  # type: ignore[assignment,misc]

__all__ = ["EXTRA_ARG", "BudgetCloser", "request_extra_args"]

EXTRA_ARG = "cancerllm_close_within_budget"


def request_extra_args() -> dict[str, Any]:
    """``SamplingParams(extra_args=...)`` of a guided request that must close within its ``max_tokens``."""
    return {EXTRA_ARG: True}


class BudgetCloser(_Base):  # type: ignore[misc,valid-type]
    """vLLM V1 logits processor: closes marked guided answers before ``max_tokens`` ends (see module docstring).

    State: batch row -> (``max_tokens``, the request's running output token ids). Not argmax-invariant (it
    changes the greedy choice), so vLLM applies it before greedy sampling.
    """

    def __init__(self, vllm_config: Any, device: Any, is_pin_memory: bool):
        from transformers import AutoTokenizer

        mc = vllm_config.model_config
        tokenizer = AutoTokenizer.from_pretrained(mc.tokenizer, trust_remote_code=False)
        self.closers = closer_tables(tokenizer, int(mc.get_vocab_size()))
        self.rows: dict[int, tuple[int, list[int]]] = {}

    def is_argmax_invariant(self) -> bool:
        return False

    def update_state(self, batch_update: Any) -> None:
        if batch_update is None:
            return
        # vLLM's order: removed, then added (which may reuse a removed index), then moved.
        for index in batch_update.removed:
            self.rows.pop(index, None)
        for index, params, _prompt_ids, output_ids in batch_update.added:
            extra = getattr(params, "extra_args", None) or {}
            if extra.get(EXTRA_ARG) and params.max_tokens is not None:
                self.rows[index] = (int(params.max_tokens), output_ids)
            else:
                self.rows.pop(index, None)
        for a, b, direction in batch_update.moved:
            # UNIDIRECTIONAL: a's request now sits at b (b's old one is gone); SWAP: a and b exchange requests.
            state_a, state_b = self.rows.pop(a, None), self.rows.pop(b, None)
            if state_a is not None:
                self.rows[b] = state_a
            if getattr(direction, "name", direction) == "SWAP" and state_b is not None:
                self.rows[a] = state_b

    def apply(self, logits: Any) -> Any:
        for index, (max_tokens, output_ids) in self.rows.items():
            left = max_tokens - len(output_ids)  # new tokens still allowed, this one included (as hf counts)
            if left <= SOFT_CLOSE and index < logits.shape[0]:
                close_row(logits[index], in_string(output_ids, self.closers), left, self.closers)
        return logits
