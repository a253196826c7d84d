"""The errors of superrun definitions, and the one way their messages are worded."""

from __future__ import annotations

from typing import Any

from ..base.errors import SuperrunsError

__all__ = ["DefinitionError", "UnknownSuperrunError", "definition_error"]


class DefinitionError(SuperrunsError, ValueError):
    """A bad superrun definition; the message names the file, the superrun, the entry and the fix."""

    def __init__(self, message: str, *, file: Any = None, superrun: str | None = None,
                 entry: str | None = None):
        super().__init__(message)
        self.file = file
        self.superrun = superrun
        self.entry = entry


class UnknownSuperrunError(DefinitionError, KeyError):
    """A name that is not a defined superrun (a ``KeyError`` too)."""


def definition_error(file: Any, name: str | None, entry: str | None, problem: str,
                     fix: str) -> DefinitionError:
    """``{file}: superrun {name!r}, {entry}: {problem}; fix: {fix}`` as a DefinitionError."""
    where = f"{file}"
    if name is not None:
        where += f": superrun {name!r}"
    if entry:
        where += f", {entry}"
    return DefinitionError(f"{where}: {problem}; fix: {fix}", file=file, superrun=name, entry=entry)
