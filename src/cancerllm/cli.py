"""``cancerllm <verb>``: one typer app whose verbs are thin wrappers over importable functions.

Each stage package owns a light ``cli.py`` exposing ``register(app)``; those modules import only typer and the
standard library at module level, so ``cancerllm --help`` stays instant and works without a GPU. Heavy libraries
(torch, transformers, peft) are imported inside the commands.

Config-driven verbs take ``--config FILE.yaml`` and any number of ``section.key=value`` overrides.
"""

from __future__ import annotations

import importlib
import logging
import sys
import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors

__all__ = ["app", "main", "CONFIG_CLASSES"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="CancerLLM: cancer-domain LLM toolkit (pretrain, sft, extract, diagnose, rag, evaluate, ...).")


# verb -> "module:ConfigClass"; used by `validate` to check every shipped YAML under configs/<verb>/.
CONFIG_CLASSES = {
    "pretrain": "cancerllm.train.pretrain:PretrainConfig",
    "sft": "cancerllm.train.sft:SFTConfig",
    "extract": "cancerllm.infer.extract:ExtractConfig",
    "diagnose": "cancerllm.infer.extract:ExtractConfig",
    "demo": "cancerllm.demo:DemoConfig",
    "robustness": "cancerllm.robustness.testbed:RobustnessConfig",
    "rag": "cancerllm.rag.index:IndexConfig",
    "bench": "cancerllm.bench.efficiency:BenchConfig",
}

# Stage packages that add verbs; each module defines register(app).
_VERB_MODULES = [
    "cancerllm.train.cli",
    "cancerllm.infer.cli",
    "cancerllm.data.cli",
    "cancerllm.rag.cli",
    "cancerllm.robustness.cli",
    "cancerllm.evaluate.cli",
    "cancerllm.bench.cli",
    "cancerllm.serve.cli",
    "cancerllm.demo_cli",
]


def _import_class(spec: str) -> type:
    mod, name = spec.split(":")
    return getattr(importlib.import_module(mod), name)


@app.command("ls")
def ls_cmd() -> None:
    """List every registered retriever, perturbation, metric and prompt style."""
    from cancerllm.registry import all_registries

    for kind, reg in all_registries().items():
        typer.echo(f"{kind}s: {', '.join(reg.names()) or '(none)'}")


@app.command("validate")
@handle_errors
def validate_cmd(configs: str = typer.Argument("configs", help="Folder of configs/<verb>/*.yaml to check.")) -> None:
    """Check every shipped config against its schema and report all problems at once."""
    from pathlib import Path

    from cancerllm.config import load_config
    from cancerllm.errors import CancerLLMError, ConfigError

    root = Path(configs)
    if not root.is_dir():
        raise ConfigError(f"validate: folder {configs!r} does not exist")
    problems, n = [], 0
    for path in sorted(root.glob("*/*.yaml")):
        verb = path.parent.name
        if verb not in CONFIG_CLASSES:
            problems.append(f"{path}: folder {verb!r} is not a config verb, expected one of {sorted(CONFIG_CLASSES)}")
            continue
        n += 1
        try:
            load_config(_import_class(CONFIG_CLASSES[verb]), path)
        except CancerLLMError as err:
            problems.append(f"{path}: {err}")
    if problems:
        raise ConfigError(problems)
    typer.echo(f"{n} config(s) valid")


def _register_verbs() -> None:
    for mod in _VERB_MODULES:
        try:
            module = importlib.import_module(mod)
        except ModuleNotFoundError as err:
            if err.name and mod.startswith(err.name):  # stage not built yet: its verbs are simply absent
                continue
            raise
        module.register(app)


_register_verbs()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    from cancerllm.runtime import offline_env

    offline_env()
    app()


if __name__ == "__main__":
    main()
