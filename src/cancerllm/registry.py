"""Registries for the plug-in axes: retrievers, perturbations, metrics and prompt styles.

Each entry is a versioned name (``"bm25.v1"``) mapped to a callable. Modules register their entries at import
time; :func:`load_all` imports every module that does, so ``cancerllm ls`` can print the full list.

Example:
    >>> reg = Registry("demo")
    >>> @reg.register("double.v1")
    ... def double(x):
    ...     return 2 * x
    >>> reg.get("double.v1")(3)
    6
    >>> reg.get("triple.v1")
    Traceback (most recent call last):
    ...
    cancerllm.errors.ConfigError: 1 configuration problem(s):
      - demo: got 'triple.v1', expected one of ['double.v1']
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from cancerllm.errors import ConfigError

__all__ = ["Registry", "all_registries", "load_all", "metrics", "perturbations", "prompt_styles", "retrievers"]


class Registry:
    """A name -> callable table with clear errors for unknown names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator adding ``fn`` under ``name``; names must be unique and versioned (``x.v1``)."""
        if "." not in name or not name.rsplit(".", 1)[1].startswith("v"):
            raise ValueError(f"registry names are versioned like 'bm25.v1', got {name!r}")

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self._entries and self._entries[name] is not fn:
                raise ValueError(f"{self.kind}: {name!r} is already registered")
            self._entries[name] = fn
            return fn

        return deco

    def get(self, name: str) -> Callable[..., Any]:
        """Return the entry; a bare name (``"bm25"``) resolves to its highest version."""
        if name in self._entries:
            return self._entries[name]
        versions = sorted(n for n in self._entries if n.rsplit(".", 1)[0] == name)
        if versions:
            return self._entries[versions[-1]]
        raise ConfigError(f"{self.kind}: got {name!r}, expected one of {sorted(self._entries)}")

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        try:
            self.get(name)
        except ConfigError:
            return False
        return True


retrievers = Registry("retriever")
perturbations = Registry("perturbation")
metrics = Registry("metric")
prompt_styles = Registry("prompt_style")

# Modules whose import registers entries. Kept light: none of them imports torch at module level.
_PLUGIN_MODULES = [
    "cancerllm.data.prompts",
    "cancerllm.rag.retrievers",
    "cancerllm.robustness.perturb",
    "cancerllm.evaluate.metrics",
]


def load_all() -> None:
    """Import every plug-in module so all registries are populated (a missing module is logged as a WARNING)."""
    for mod in _PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:
            if not (err.name and mod.startswith(err.name)):  # a real missing dependency: surface it
                raise
            # The plug-in module itself is absent (a broken install): say so instead of dropping its entries.
            logging.getLogger("cancerllm").warning("plug-in module %s not found (%s); its entries are missing",
                                                   mod, err)


def all_registries() -> dict[str, Registry]:
    load_all()
    return {r.kind: r for r in (retrievers, perturbations, metrics, prompt_styles)}
