"""Stochastic rounding fp32 -> bf16 (``cancerllm.model.rounding``): unbiased, exact where bf16 is, seeded."""

from __future__ import annotations

import pytest
import torch

from cancerllm.model.rounding import round_model_bf16, stochastic_round


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.7])
def test_stochastic_round_is_unbiased_where_nearest_rounding_is_not(sign, fraction):
    step = 2.0 ** -7  # one bf16 step at magnitude 1
    x = torch.full((200_000,), sign * (1.0 + fraction * step))
    nearest = x.to(torch.bfloat16).float().mean().item()
    got = stochastic_round(x, torch.Generator().manual_seed(0)).float()
    assert set(got.abs().unique().tolist()) == {1.0, 1.0 + step}  # only the two neighbours
    mean_error = abs(got.mean().item() - x[0].item())
    assert mean_error < 0.02 * step  # the binomial's std here is ~0.001 of a step
    assert abs(nearest - x[0].item()) > 0.09 * step  # round-to-nearest is off by a whole fraction of a step


def test_stochastic_round_keeps_representable_and_special_values():
    x = torch.tensor([0.0, -0.0, 1.0, -2.5, 3.0e38, float("inf"), float("-inf"), float("nan")])
    got = stochastic_round(x, torch.Generator().manual_seed(0))
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got[:4].float(), x[:4], rtol=0, atol=0)
    assert torch.isfinite(got[4]) and got[5] == float("inf") and got[6] == float("-inf") and torch.isnan(got[7])
    with pytest.raises(TypeError, match="fp32"):
        stochastic_round(x.to(torch.bfloat16))


def test_round_model_bf16_is_seeded_and_keeps_tied_weights_tied(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    def rounded():
        model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1e-4 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
        return round_model_bf16(model)

    a, b = rounded(), rounded()
    assert {p.dtype for p in a.parameters()} == {torch.bfloat16} and a.config.dtype == torch.bfloat16
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    if a.config.tie_word_embeddings:
        assert a.get_output_embeddings().weight is a.get_input_embeddings().weight
