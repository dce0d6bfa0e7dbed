"""LoRA adapters (PEFT): build the config from :class:`~cancerllm.config.LoRAArgs`, attach, load, merge.

``target_modules="all-linear"`` is the paper's ``all`` setting: every ``nn.Linear`` (or 4-bit ``Linear4bit``) in the
transformer blocks, i.e. q/k/v/o and the MLP projections, but never ``lm_head`` (PEFT excludes the output layer;
training it would touch the 49k-row vocabulary matrix, which with tied embeddings is also the input embedding).

Example:
    >>> from cancerllm.config import LoRAArgs
    >>> cfg = lora_config(LoRAArgs(r=4, alpha=8, target_modules="q_proj, v_proj"))
    >>> cfg.r, cfg.lora_alpha, sorted(cfg.target_modules)
    (4, 8, ['q_proj', 'v_proj'])
    >>> lora_config(LoRAArgs()).target_modules
    'all-linear'
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "apply_adapters",
    "attach_lora",
    "load_trainable",
    "lora_config",
    "lora_state",
    "merge",
    "trainable_parameters",
]

log = logging.getLogger("cancerllm.model")


def lora_config(args: Any) -> Any:
    """A ``peft.LoraConfig`` for causal-LM training from LoRAArgs (r, alpha, dropout, target_modules)."""
    from peft import LoraConfig

    targets: str | list[str] = args.target_modules.strip()
    if targets != "all-linear":
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    return LoraConfig(r=args.r, lora_alpha=args.alpha, lora_dropout=args.dropout, target_modules=targets,
                      bias="none", task_type="CAUSAL_LM")


def attach_lora(model: Any, args: Any, gradient_checkpointing: bool = False) -> Any:
    """Wrap ``model`` in a fresh trainable LoRA adapter; the base weights are frozen.

    Raises:
        ConfigError: a ``target_modules`` name matches no layer of this model (PEFT's message is kept).
    """
    from peft import get_peft_model

    from cancerllm.errors import ConfigError

    if gradient_checkpointing:
        # Checkpointing recomputes activations; with frozen embeddings the first block's input needs grad for
        # the recomputed graph to reach the adapters at all.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    try:
        peft_model = get_peft_model(model, lora_config(args))
    except ValueError as err:
        raise ConfigError(f"lora.target_modules: got {args.target_modules!r}, which PEFT rejects for this model "
                          f"({str(err)[:200]}); use 'all-linear' or names like 'q_proj,v_proj'") from None
    n_train, n_all = trainable_parameters(peft_model)
    log.info("LoRA r=%d alpha=%d dropout=%.2f on %s: %.2f M trainable of %.1f M (%.2f%%)", args.r, args.alpha,
             args.dropout, args.target_modules, n_train / 1e6, n_all / 1e6, 100 * n_train / max(1, n_all))
    return peft_model


def load_trainable(model: Any, adapter_dir: str | Path) -> Any:
    """Load a saved adapter onto ``model`` with its weights trainable (to continue training it)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)


def merge(model: Any) -> Any:
    """Fold the active LoRA update (B @ A * alpha / r) into the base weights and drop the PEFT wrapper.

    Exact only in fp32: in bf16 an update below the weights' resolution (~0.4% of their magnitude) is rounded away.
    """
    return model.merge_and_unload()


def apply_adapters(model: Any, chain: Sequence[str | Path], merge: bool = True) -> Any:
    """Apply adapters in order: merged one after the other (``merge``), or stacked, unmerged, all active.

    Merge only into fp32 weights (the caller decides, see :func:`cancerllm.model.load.load_model`): a LoRA update of
    ~0.1% of a weight's magnitude is below bf16 resolution, so merging into bf16 weights (or merging in fp32 and
    casting the result to bf16) loses most of it. Stacked adapters are named ``stage_0 .. stage_N-1`` and frozen;
    PEFT adds each one's branch to the layer output in the order of ``chain``, as training computed it.

    Example:
        >>> apply_adapters("model", [])
        'model'
    """
    from peft import PeftModel

    if not chain:
        return model
    if merge:
        for adapter_dir in chain:
            model = PeftModel.from_pretrained(model, str(adapter_dir))
            model = model.merge_and_unload()
            log.info("applied adapter %s (merged)", adapter_dir)
        return model
    names = [f"stage_{i}" for i in range(len(chain))]
    model = PeftModel.from_pretrained(model, str(chain[0]), adapter_name=names[0])
    for name, adapter_dir in zip(names[1:], chain[1:]):
        model.load_adapter(str(adapter_dir), adapter_name=name)
    # Every stage active at once (PeftModel.set_adapter takes one name; the tuner below takes a list), all frozen.
    model.base_model.set_adapter(names, inference_mode=True)
    log.info("applied adapter(s) %s unmerged, all active", ", ".join(str(c) for c in chain))
    return model


def trainable_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def lora_state(model: Any) -> dict[str, Any]:
    """Detached CPU copies of every LoRA weight, keyed by name (for "did training change them" checks)."""
    return {n: p.detach().float().cpu().clone() for n, p in model.named_parameters() if "lora_" in n}
