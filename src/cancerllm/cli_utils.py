"""Helpers shared by every stage's ``cli.py``: clean error printing and free ``section.key=value`` overrides.

Kept apart from :mod:`cancerllm.cli` so a stage's command module can import them without importing the app that
registers that same module (which would be circular).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

__all__ = ["EXTRA_ARGS", "handle_errors"]

# Lets a command accept free `section.key=value` overrides after its options.
EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Print CancerLLMError messages cleanly (code + message, exit status 2) instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from cancerllm.errors import CancerLLMError

        try:
            return fn(*args, **kwargs)
        except CancerLLMError as err:
            typer.echo(f"error {err.code}: {err}", err=True)
            raise typer.Exit(2) from None

    return wrapper


