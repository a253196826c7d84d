"""``superruns init [DIR]`` and ``superruns run [snakemake args]``: the workflow without a clone.

``init`` writes a starting ``config/`` (``config.yaml`` with comments, a run registry of two
example runs the simulated detector makes, an example superrun, ``superruns.d/``) from the
package's ``cli/starter/``; it never replaces a file it did not write.

``run`` is ``python -m snakemake --snakefile <the workflow's> --workflow-profile <its
profiles/default> ARGS...`` in the current directory, the workflow being the installed
package's copy or the checkout's (:mod:`superruns.orchestration.workflow_files`). Everything
after ``run`` goes to Snakemake as it is (``--cores``, ``-n``, ``-d DIR``, targets; ``superruns
run --help`` is Snakemake's help), and Snakemake replaces this process, so its exit status,
output and signals are Snakemake's own. Snakemake's interpreter is found as for
``superruns.make``: ``$SUPERRUNS_WORKFLOW_PYTHON``, the config's ``workflow_python``, else this
one (:func:`superruns.orchestration.campaign.workflow_python`).
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from ..base.errors import SuperrunsError

__all__ = ["WORKFLOW_COMMANDS", "WorkflowCommandError", "add_workflow_commands", "init", "register",
           "run_command", "starter_files", "workflow_command"]

#: The commands of this module.
WORKFLOW_COMMANDS = ("init", "run")
#: The config file the Snakefile reads, relative to Snakemake's working directory.
CONFIG_FILE = Path("config", "config.yaml")
#: Snakemake's own help and version, which need no workflow config.
_ASKS_SNAKEMAKE_ITSELF = {"-h", "--help", "-v", "--version"}


class WorkflowCommandError(SuperrunsError):
    """``init`` or ``run`` cannot do what was asked; the message says why and the fix."""


def add_workflow_commands(commands) -> None:
    """The ``init`` and ``run`` subcommands on ``commands`` (argparse subparsers)."""
    init_parser = commands.add_parser(
        "init", help="write a starting config/ in DIR (config.yaml with comments, a registry of two "
        "example runs, an example superrun); never replaces a file it did not write")
    init_parser.add_argument("directory", nargs="?", default=".", metavar="DIR", help="default: here")
    # No option of its own, and no '-' prefix: every argument after `run` is Snakemake's.
    run_parser = commands.add_parser(
        "run", add_help=False, prefix_chars="\0",
        help="run Snakemake on the workflow (the installed package's, with its profiles/default) here; "
        "every argument after `run` is Snakemake's: --cores 2 _example/event_info, -n, -d DIR ...")
    run_parser.add_argument("snakemake_args", nargs=argparse.REMAINDER)
    for parser in (init_parser, run_parser):
        parser.set_defaults(run=workflow_command)


#: The command group's entry (superruns.cli.common: ``register(commands)``).
register = add_workflow_commands


def workflow_command(args, out) -> int:
    """Run ``init`` or ``run`` (``run`` returns only when it cannot start Snakemake)."""
    if args.command == "init":
        print("\n".join(init(Path(args.directory))), file=out)
        return 0
    if args.config or args.json:
        raise WorkflowCommandError("--config and --json before `run` are for the other commands: give "
                                   "Snakemake's own after it, e.g. superruns run --configfile PATH")
    python, command = run_command(args.snakemake_args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(python, command)
    return 1    # not reached: Snakemake replaced this process


# -- init -----------------------------------------------------------------------------------------


def starter_files() -> dict[str, str]:
    """``{path relative to DIR: text}`` of what ``init`` writes (the package's ``cli/starter/``)."""
    root = resources.files(__package__).joinpath("starter")
    files = {}

    def walk(node, prefix):
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif not child.name.startswith("."):
                files[f"{prefix}{child.name}"] = child.read_text()

    walk(root, "")
    return files


def init(directory: Path) -> list[str]:
    """Write the starting ``config/`` into ``directory`` (made if missing). A file already
    there with the same text is left as it is; any other file in the way stops it before
    anything is written. Returns what it says it did."""
    from ..base.atomic import atomic_open

    files = starter_files()
    there = [name for name in files if os.path.lexists(directory / name)]
    ours = [name for name in there if _same_text(directory / name, files[name])]
    foreign = [name for name in there if name not in ours]
    if foreign:
        raise WorkflowCommandError(
            f"{directory}: {', '.join(foreign)} already there and not what init writes; nothing was written "
            "(init never replaces a file it did not write). Fix: init another directory, or move "
            f"{'that file' if len(foreign) == 1 else 'those files'} away first; to use the config that is "
            f"there as it is, run `superruns run` in {directory}")
    for name, text in files.items():
        if name not in ours:
            with atomic_open(directory / name, exclusive=True) as stream:
                stream.write(text)
    lines = [f"wrote {directory / name}" for name in files if name not in ours]
    lines += [f"left as it is (what init writes): {directory / name}" for name in ours]
    where = "" if directory.resolve() == Path.cwd().resolve() else f"cd {directory} && "
    lines.append(f"next: {where}superruns run --cores 2 _example/event_info   (the example superrun; "
                 "config/runs.yaml and config/superruns.yaml say how to define yours)")
    return lines


def _same_text(path: Path, text: str) -> bool:
    try:
        return path.is_file() and not path.is_symlink() and path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False


# -- run ------------------------------------------------------------------------------------------


def _where(snakemake_args: list[str]) -> tuple[Path, list[str]]:
    """Snakemake's working directory (``-d``/``--directory``, else here) and the config files
    given with ``--configfile``, as far as Snakemake's arguments say (spelt in full: Snakemake's
    other options, ``--config`` among them, are not these)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-d", "--directory", default=".")
    parser.add_argument("--configfile", "--configfiles", nargs="+", default=[])
    known, _ = parser.parse_known_args(snakemake_args)
    return Path(known.directory), known.configfile


def run_command(snakemake_args: list[str]) -> tuple[str, list[str]]:
    """The interpreter and the command line (argv) that ``superruns run`` executes."""
    from ..orchestration.campaign import workflow_python
    from ..orchestration.workflow_files import default_profile, snakefile
    from ..project import Project

    directory, configfiles = _where(snakemake_args)
    config = Path(configfiles[-1]) if configfiles else directory / CONFIG_FILE
    if configfiles and not config.is_file():
        raise WorkflowCommandError(f"--configfile {config}: no such file ({config.resolve()})")
    if config.is_file():
        project = Project.from_file(config)
    elif _ASKS_SNAKEMAKE_ITSELF & set(snakemake_args):
        project = Project({}, directory)            # its help or version: no config needed
    else:
        raise WorkflowCommandError(
            f"no {config} ({config.resolve()}): the workflow reads config/config.yaml of the directory it runs "
            f"in. Fix: `superruns init {directory}` writes a starting one; or run where your workflow's config/ "
            "is, or give -d DIR")
    python = workflow_python(project)
    command = [python, "-m", "snakemake", "--snakefile", str(snakefile()),
               "--workflow-profile", str(default_profile()), *snakemake_args]
    return python, command
