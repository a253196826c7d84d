"""What every command group of ``superruns`` shares: the project of ``--config``, the
``--json`` option and its output, and how an expected error is worded.

A command group is a module with ``register(commands)``: it adds its subparsers to
``commands`` (argparse's sub-parser action) and sets ``run=handler`` on each, where
``handler(args, out) -> int`` prints to ``out`` and returns the exit status
(:mod:`superruns.cli.commands` lists the groups, and finds further ones through the entry
point group ``superruns.commands``).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ..base.errors import SuperrunsError
from ..base.files import os_error_message
from ..project import DEFAULT_CONFIG, Project

__all__ = ["add_json_option", "error_text", "optional_project", "print_json", "project_of"]


def project_of(args) -> Project:
    """The project of ``--config``, else the default one (``$SUPERRUNS_CONFIG`` or
    ``config/config.yaml``)."""
    return Project.from_file(args.config) if args.config else Project.default()


def optional_project(args) -> Project | None:
    """The project of ``--config``, else the default one if there is a config file, else None."""
    if args.config:
        return Project.from_file(args.config)
    if os.environ.get("SUPERRUNS_CONFIG") or Path(DEFAULT_CONFIG).is_file():
        return Project.default()
    return None


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """``--json`` after the command too (``superruns status --json``), as before it."""
    parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON for scripts (times in int ns, durations in s)")


def print_json(result, out) -> None:
    json.dump(result, out, indent=2, default=str)
    print(file=out)


def error_text(error: BaseException) -> str:
    """An expected error in words: an OSError with its file and what to do (never a bare
    errno); a SuperrunsError as it is."""
    if isinstance(error, OSError) and not isinstance(error, SuperrunsError):
        return os_error_message(error)
    return str(error)
