"""Training recipes, one top-to-bottom module per verb: ``pretrain.py`` (LoRA continued pretraining),
``sft.py`` (multi-task instruction tuning with TRL), ``common.py`` (shared helpers), ``cli.py`` (the verbs).

Recipes are imported explicitly (``from cancerllm.train.sft import SFTConfig, run``) so that ``cancerllm --help``
never pays for torch."""
