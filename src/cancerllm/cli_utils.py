"""Helpers shared by every stage's ``cli.py``: clean error printing and free ``section.key=value`` overrides.

One grammar for every verb: ``--section.key=value``, ``--section.key value`` and ``section.key=value`` all reach
:func:`cancerllm.config.load_config`, which parses the text by the type of the field it sets; a verb's own typed
options (``--out``, ``--run`` ...) go in as ``flags``, already typed, without a round trip through text.

Kept apart from :mod:`cancerllm.cli` so a stage's command module can import them without importing the app that
registers that same module (which would be circular).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

__all__ = ["EXTRA_ARGS", "handle_errors", "verb_config"]

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




def verb_config(cls: type, config: str | None, ctx: typer.Context, **flags: Any) -> Any:
    """A verb's config: defaults < ``--config`` YAML < free overrides (``ctx.args``) < the verb's typed options.

    Options left unset (None) do not override anything. Every problem is raised at once as a ConfigError, before
    the command loads anything.
    """
    from cancerllm.config import load_config

    return load_config(cls, config, list(ctx.args), flags=flags)
