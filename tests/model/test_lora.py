"""LoRA helpers: all-linear targets, errors, and merge == unmerged forward."""

from __future__ import annotations

import pytest
import torch

from cancerllm.config import LoRAArgs
from cancerllm.errors import ConfigError
from cancerllm.model.lora import attach_lora, lora_state, merge, trainable_parameters


def test_lora_all_linear_targets_every_block_projection_but_not_lm_head(tiny_model):
    model = attach_lora(tiny_model, LoRAArgs(r=4, alpha=8))
    wrapped = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in model.named_parameters() if "lora_A" in n}
    assert wrapped == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert not any("lm_head" in n and "lora" in n for n, _ in model.named_parameters())
    n_train, _ = trainable_parameters(model)
    assert n_train == sum(t.numel() for t in lora_state(model).values())  # only adapters train


def test_lora_unknown_target_module_names_the_field(tiny_model):
    with pytest.raises(ConfigError, match="lora.target_modules.*'wq'"):
        attach_lora(tiny_model, LoRAArgs(target_modules="wq"))


def test_lora_merge_keeps_the_forward_pass(tiny_model):
    model = attach_lora(tiny_model, LoRAArgs(r=4, alpha=8, dropout=0.0, target_modules="q_proj,v_proj"))
    torch.manual_seed(1)
    for n, p in model.named_parameters():
        if "lora_B" in n:
            p.data.normal_(std=0.5)  # B starts at zero: make the adapter actually change the output
    x = torch.tensor([[3, 10, 42, 7, 99]])
    model.eval()
    with torch.no_grad():
        before = model(input_ids=x).logits
        with model.disable_adapter():
            bare = model(input_ids=x).logits
        after = merge(model)(input_ids=x).logits
    assert not torch.allclose(before, bare, atol=1e-3)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)
