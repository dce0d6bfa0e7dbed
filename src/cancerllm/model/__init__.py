"""Base models and adapters: ``load.py`` (embedded SmolLM2 cache, local HF folders, 4-bit, adapter chains) and
``lora.py`` (PEFT LoRA config, attach, merge). Importing this package is cheap: torch loads on first use."""

from cancerllm.model.load import embedded_model_dir, load_model, load_tokenizer, model_args_for_run, read_run

__all__ = ["embedded_model_dir", "load_model", "load_tokenizer", "model_args_for_run", "read_run"]
