"""The ``superruns`` command: one tree of commands, each group a module of this folder that
registers its subcommands (:mod:`.common` says how), plus the groups other packages declare in
the entry point group ``superruns.commands`` (the strax bridge's ``import``, ``export`` and
``runs``: this layer may not import the bridge, the bridge registers itself).

Habits of the command: ``--version``; times printed as ISO-8601 UTC and durations and sizes
with their units (:mod:`.tables`), ``--json`` for scripts; a closed pipe
(``superruns list | head -1``) ends it quietly with exit status 0; an unknown command or name
gets a "did you mean". Error policy (as in the jobs): an expected error (a SuperrunsError, or an
OSError, which names its file) is one line on stderr and exit status 1; any other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Callable, Iterator

from ..base.errors import EXPECTED_ERRORS
from ..base.names import did_you_mean
from ..base.version import __version__
from . import campaign, datasets, listing, recover, verify, workflow_commands
from .common import error_text

__all__ = ["ENTRY_POINT_GROUP", "GROUPS", "main", "parser"]

#: The package's own command groups, in the order ``superruns --help`` lists their commands.
GROUPS = (listing, campaign, recover, verify, datasets, workflow_commands)
#: Where other packages declare ``register(commands)`` functions of further command groups
#: (pyproject.toml: ``[project.entry-points."superruns.commands"]``).
ENTRY_POINT_GROUP = "superruns.commands"

DESCRIPTION = """\
Runs and superruns of strax-style data: what is defined, built, stale or damaged.
Builds are Snakemake's (snakemake --cores 2 _sr1_v0.2/event_info); these commands
inspect and manage what is stored. Times are ISO-8601 UTC; --json gives int ns."""

EPILOG = """\
examples:
  superruns list                        runs and superruns: start, livetime, what is built
  superruns show _sr1_v0.2              definition, leaf runs, run document
  superruns status _sr1_v0.2            done / stale / missing per data type
  superruns info data/_sr1_v0.2/event_info-*
  superruns verify data/"""


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped command or choice."""

    def error(self, message: str):
        match = re.search(r"invalid choice: '?([^' ]*)'? \(choose from (.*)\)", message)
        if match:
            choices = [c.strip(" '\"") for c in match[2].split(",")]
            message += did_you_mean(match[1], choices)
        super().error(message)


def plugin_groups() -> Iterator[Callable]:
    """The ``register`` functions other packages declare under :data:`ENTRY_POINT_GROUP`; one
    that cannot be loaded is named on stderr, and the other commands still work."""
    from importlib.metadata import entry_points

    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            yield point.load()
        except Exception as error:   # a broken plugin must not take the other commands down
            print(f"superruns: the commands of {point.value} are not available: "
                  f"{type(error).__name__}: {error}", file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="superruns", description=DESCRIPTION, epilog=EPILOG,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"superruns {__version__}")
    p.add_argument("--config", default=None, help="config.yaml (default: config/config.yaml or $SUPERRUNS_CONFIG)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts (times in int ns, durations in s)")
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    for register in plugin_groups():
        register(commands)
    return p


class _Output:
    """``out`` that remembers whether the reader went away (a closed pipe)."""

    def __init__(self, out):
        self.out, self.closed_by_reader = out, False

    def write(self, text: str) -> int:
        try:
            return self.out.write(text)
        except BrokenPipeError:
            self.closed_by_reader = True
            raise

    def flush(self) -> None:
        try:
            self.out.flush()
        except BrokenPipeError:
            self.closed_by_reader = True
            raise


def _quiet_stdout(out) -> None:
    """Point stdout at /dev/null, so the interpreter's last flush does not complain either."""
    if out is sys.stdout:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def main(argv=None, out=None) -> int:
    """Run one command; its exit status."""
    out = out if out is not None else sys.stdout   # looked up per call: tests capture it
    args = parser().parse_args(argv)
    output = _Output(out)
    try:
        status = args.run(args, output)
        output.flush()
        return status
    except BrokenPipeError as error:
        if not output.closed_by_reader:     # a pipe of the command's own work: an OSError as any
            print(f"superruns {args.command}: {error_text(error)}", file=sys.stderr)
            return 1
        _quiet_stdout(out)
        return 0      # the reader has what it wanted (head, grep -q): not an error
    except EXPECTED_ERRORS as error:
        print(f"superruns {args.command}: {error_text(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
