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

__all__ = ["CONFIG_CLASSES", "app", "main"]

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
    "bench-engines": "cancerllm.bench.engines:EnginesConfig",  # cancerllm bench --engines ... --config <file>
    "classify": "cancerllm.classify.recipe:ClassifyConfig",
    "batch": "cancerllm.scale.batch:BatchConfig",
    # not a verb: the launch strategies of `sft/pretrain --launch NAME` (accelerate config files)
    "accelerate": "cancerllm.scale.launch:AccelerateConfig",
}

# Stage packages that add verbs: module -> the top-level verbs its register(app) adds. Declared here so a stage
# whose module fails to import (a missing optional dependency, a broken install) still shows its verbs, each
# saying why it cannot run, instead of vanishing from `cancerllm --help`.
_VERB_MODULES: dict[str, tuple[str, ...]] = {
    "cancerllm.train.cli": ("pretrain", "sft"),
    "cancerllm.infer.cli": ("extract", "diagnose"),
    "cancerllm.data.cli": ("data",),
    "cancerllm.rag.cli": ("rag",),
    "cancerllm.robustness.cli": ("robustness",),
    "cancerllm.evaluate.cli": ("evaluate", "compare", "baseline", "hard-split"),
    "cancerllm.bench.cli": ("bench",),
    "cancerllm.classify.cli": ("classify",),
    "cancerllm.deid.cli": ("deid",),
    "cancerllm.serve.cli": ("serve",),
    "cancerllm.interop.cli": ("export",),
    "cancerllm.review.cli": ("review",),
    "cancerllm.demo_cli": ("demo",),
    "cancerllm.scale.cli": ("batch",),
}


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


def _unavailable(target: typer.Typer, verb: str, module: str, err: BaseException) -> None:
    """Add a stand-in ``verb`` to ``target`` for a stage whose module failed to import: it prints why, exits 2."""
    reason = f"{type(err).__name__}: {err}"
    missing = getattr(err, "name", None) or ""
    hint = "; install the missing package (see the README's extras)" if missing and "cancerllm" not in missing else ""

    def command(ctx: typer.Context) -> None:
        typer.echo(f"error E300: `cancerllm {verb}` is unavailable: importing {module} failed: {reason}{hint}",
                   err=True)
        raise typer.Exit(2)

    command.__doc__ = f"(unavailable: {reason})"
    # Any arguments, --help included, reach the stand-in, so every way of calling the verb shows the reason.
    target.command(verb, context_settings={**EXTRA_ARGS, "help_option_names": []})(command)


def _register_verbs(target: typer.Typer, modules: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """Add every stage's verbs to ``target``; returns ``[(module, reason)]`` for the stages that failed to import."""
    failed = []
    for mod, verbs in modules.items():
        try:
            importlib.import_module(mod).register(target)
        except Exception as err:  # noqa: BLE001 - one broken stage must not take the other verbs down
            failed.append((mod, f"{type(err).__name__}: {err}"))
            present = {c.name for c in target.registered_commands} | {g.name for g in target.registered_groups}
            for verb in verbs:
                if verb not in present:  # a register() that failed half-way keeps the verbs it added
                    _unavailable(target, verb, mod, err)
    return failed


_register_verbs(app, _VERB_MODULES)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    from cancerllm.runtime import bounded_kernel_cache, offline_env

    offline_env()
    bounded_kernel_cache()
    app()


if __name__ == "__main__":
    main()
