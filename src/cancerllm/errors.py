"""The exception hierarchy: every user-facing failure is a ``CancerLLMError`` with a stable code.

Messages state the value received, what was allowed and the flag or field to change. They never quote note
text: clinical text is sensitive, so a bad record is named by file, line and document id only.

Example:
    >>> try:
    ...     raise ConfigError(["train.lr: got -1.0, expected > 0 (set --train.lr)"])
    ... except CancerLLMError as err:
    ...     print(err.code, str(err).splitlines()[1])
    E100   - train.lr: got -1.0, expected > 0 (set --train.lr)
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CancerLLMError", "ConfigError", "DataFormatError", "ResourceError"]


class CancerLLMError(Exception):
    """Base class. ``code`` is stable across releases so scripts can branch on it."""

    code = "E000"

    def __init__(self, message: str):
        if not message:
            raise ValueError("CancerLLMError needs a message")
        super().__init__(message)


class ConfigError(CancerLLMError):
    """One or more invalid configuration values, collected and raised together."""

    code = "E100"

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} configuration problem(s):\n{lines}")


class DataFormatError(CancerLLMError):
    """A record that does not match its schema; names the file, the 1-based line and the field."""

    code = "E200"

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None, doc_id: str | None = None):
        self.path, self.line, self.field, self.doc_id = path, line, field, doc_id
        where = []
        if path is not None:
            where.append(f"{path}" + (f":{line}" if line is not None else ""))
        if doc_id is not None:
            where.append(f"document {doc_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)


class ResourceError(CancerLLMError):
    """A missing model, file, package or device, with the command that fixes it."""

    code = "E300"
