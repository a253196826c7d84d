"""Building from Python: ``superruns.make(names, data_types, cores=...)`` runs Snakemake.

strax users expect ``get_array`` to make what is missing; here the workflow engine stays
Snakemake (its rerun triggers, its cluster profiles, its locks), run as a subprocess of the
same Python (``python -m snakemake``) in the project's directory, so that the core package
still imports without Snakemake (the ``superruns[workflow]`` extra; issue 14) and a failing
job never takes the user's interpreter down. Targets are the current lineage's files
(:mod:`superruns.storage.layout`), so ``make`` builds exactly what ``load`` reads.

Snakemake runs in the workflow's own environment: ``$SUPERRUNS_WORKFLOW_PYTHON``, else the
config's ``workflow_python``, else this interpreter when it has Snakemake (:func:`workflow_python`).
So an analyst's straxen kernel, which cannot hold Snakemake 9 (pydantic 1 against 2), builds
through the workflow's environment, with the same bar (docs/strax.md, "Two environments").

Progress: Snakemake's ``N of M steps (P%) done`` lines drive a bar on stderr (redrawn in
place on a terminal, one line per step otherwise); its whole output goes to
``{data_dir}/logs/make/{time}-{pid}.log``, whose last lines a failure quotes.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from ..base.errors import SuperrunsError

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["WORKFLOW_PYTHON_VARIABLE", "MakeError", "check_cores", "make", "make_command", "snakefile_of",
           "targets_of", "workflow_python"]

_STEPS = re.compile(r"(\d+) of (\d+) steps \(\d+%\) done")
_JOBS_TOTAL = re.compile(r"^total\s+(\d+)", re.MULTILINE)
#: The environment variable naming the interpreter of the workflow's environment (with Snakemake).
WORKFLOW_PYTHON_VARIABLE = "SUPERRUNS_WORKFLOW_PYTHON"
_HAS_SNAKEMAKE = "import importlib.util, sys; sys.exit(importlib.util.find_spec('snakemake') is None)"


class MakeError(SuperrunsError, RuntimeError):
    """``make`` could not build what was asked; the message says why and where the log is."""


def _as_list(value, what: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise MakeError(f"{what}={value!r}: give a name or a non-empty list of names")
    return list(dict.fromkeys(value))


def targets_of(project: Project, names, data_types) -> list[str]:
    """The files to build, relative to the project's directory (Snakemake's working one)."""
    from ..storage.identity import check_name

    targets = []
    for name in _as_list(names, "names"):
        for data_type in _as_list(data_types, "data_types"):
            check_name(project, name, data_type)
            project.check_known(name)
            targets.append(os.path.relpath(project.path(name, data_type), project.base_dir))
    return targets


def check_cores(cores) -> None:
    """Refuse a ``cores`` Snakemake cannot run with (0 or fewer never finishes a job)."""
    if cores == "all":
        return
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise MakeError(f"cores={cores!r}: give how many cores the jobs may use, a whole number of at "
                        "least 1, or 'all'")


def snakefile_of(project: Project, snakefile=None) -> Path:
    """The Snakefile to run: ``snakefile``, else the project directory's own, else the
    workflow's (the installed package's copy, or the checkout's: :mod:`.workflow_files`)."""
    from .workflow_files import WorkflowFilesError, workflow_dir

    for candidate in (snakefile, project.base_dir / "Snakefile"):
        if candidate is not None and Path(candidate).is_file():
            return Path(candidate).resolve()
    try:
        return workflow_dir() / "Snakefile"
    except WorkflowFilesError as error:
        raise MakeError(f"No Snakefile in {project.base_dir}. {error}; or pass snakefile= (the superruns "
                        "workflow's Snakefile)") from None


def _config_file(project: Project, scratch: Path) -> Path:
    """The project's config file, or its configuration written to ``scratch``."""
    source = Path(project.source)
    if source.is_file():
        return source.resolve()
    import json

    path = scratch / "config.json"          # JSON is YAML: Snakemake reads either
    path.write_text(json.dumps(project.config))
    return path


def workflow_python(project: Project) -> str:
    """The interpreter that runs Snakemake: ``$SUPERRUNS_WORKFLOW_PYTHON`` (relative to the
    working directory), else the config's ``workflow_python`` (relative to the project's
    directory), else this one if it has Snakemake; a clear :class:`MakeError` otherwise."""
    given = os.environ.get(WORKFLOW_PYTHON_VARIABLE)
    where = f"${WORKFLOW_PYTHON_VARIABLE}"
    if not given and project.config.get("workflow_python"):
        given, where = project.config["workflow_python"], f"workflow_python in {project.source}"
        given = given if os.path.isabs(given) or os.sep not in given else str(project.base_dir / given)
    if given:
        python = given if os.sep in given else shutil.which(given)
        if python is None or not os.access(python, os.X_OK):
            raise MakeError(f"{where} names {given!r}, which is not an interpreter here: give the Python of the "
                            "workflow's environment (the one with Snakemake, e.g. .venv/bin/python)")
        if subprocess.run([python, "-c", _HAS_SNAKEMAKE]).returncode:
            raise MakeError(f"{where} names {python}, which has no Snakemake: give the Python of the workflow's "
                            "environment (pip install 'superruns[workflow]' there, e.g. make demo's .venv)")
        return os.path.abspath(python)
    try:
        here = importlib.util.find_spec("snakemake") is not None
    except ImportError:
        here = False
    if here:
        return sys.executable
    raise MakeError(_no_snakemake(project))


def _no_snakemake(project: Project) -> str:
    """Why ``make`` cannot run here, and the fix that keeps this environment intact."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        pydantic_1 = version("pydantic").startswith("1.")
    except PackageNotFoundError:
        pydantic_1 = False
    fix = (f"set workflow_python in {project.source} (or ${WORKFLOW_PYTHON_VARIABLE}) to the Python of the "
           "workflow's environment, e.g. .venv/bin/python (make demo builds it)")
    if pydantic_1:
        return (f"The workflow runs with Snakemake (superruns.make, superruns run), which this environment "
                f"({sys.executable}) does not have and cannot take (its pydantic 1, e.g. straxen's, against "
                f"Snakemake 9's pydantic 2): {fix}")
    return (f"The workflow runs with Snakemake (superruns.make, superruns run), which this environment "
            f"({sys.executable}) does not have: {fix}, or install the workflow extra here: pip install "
            "'superruns[workflow]'")


def make_command(project: Project, targets, *, cores, snakefile, configfile, snakemake_args=(),
                 python=None) -> list[str]:
    """``python -m snakemake`` (this interpreter, or ``python``) with the project's config, in
    its directory (with the config's ``remote:`` storage: docs/remote.md)."""
    from ..storage.remote import snakemake_storage_args

    # The storage options before --cores: some take several values and would swallow a target.
    return [python or sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(project.base_dir),
            "--configfile", str(configfile), "--replace-workflow-config",
            *snakemake_storage_args(project.config.get("remote")), "--cores", str(cores),
            *map(str, snakemake_args), *targets]


def make(project: Project, names, data_types, *, cores=1, progress=True, snakemake_args=(),
         snakefile=None) -> list[Path]:
    """Build ``data_types`` of ``names`` (runs or superruns) that are missing or stale for
    the current configuration; return their files. Raises :class:`MakeError` naming the log
    when Snakemake fails."""
    check_cores(cores)
    python = workflow_python(project)
    targets = targets_of(project, names, data_types)
    log_path = project.data_dir / "logs" / "make" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="superruns-make-") as scratch:
        command = make_command(project, targets, cores=cores, snakefile=snakefile_of(project, snakefile),
                               configfile=_config_file(project, Path(scratch)), snakemake_args=snakemake_args,
                               python=python)
        returncode, tail = _run(command, log_path, ProgressBar(sys.stderr) if progress else None)
    if returncode != 0:
        raise MakeError(f"snakemake failed (exit status {returncode}) building {', '.join(targets)}; "
                        f"its log is {log_path}. Last lines:\n" + "\n".join(tail))
    return [project.base_dir / t for t in targets]


def _run(command: list[str], log_path: Path, bar) -> tuple[int, list[str]]:
    """Run ``command``, its output to ``log_path`` and through ``bar``; its exit status and
    its last output lines."""
    tail: deque[str] = deque(maxlen=25)
    with open(log_path, "w") as log, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1")) as process:
        for line in process.stdout:
            log.write(line)
            tail.append(line.rstrip("\n"))
            if bar is not None:
                bar.feed(line)
        returncode = process.wait()
    if bar is not None:
        bar.close()
    return returncode, list(tail)


class ProgressBar:
    """``[#####.....] 12/40 jobs`` from Snakemake's output lines, on ``stream``."""

    WIDTH = 30

    def __init__(self, stream):
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.done, self.total, self.shown = 0, None, None

    def feed(self, line: str) -> None:
        steps = _STEPS.search(line)
        if steps:
            self.done, self.total = int(steps[1]), int(steps[2])
        elif self.total is None and (total := _JOBS_TOTAL.search(line)):
            self.total = int(total[1])
        else:
            return
        self.draw()

    def text(self) -> str:
        total = self.total or 0
        filled = self.WIDTH * self.done // total if total else 0
        return f"superruns.make [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{total} jobs"

    def draw(self) -> None:
        text = self.text()
        if text == self.shown:
            return
        self.shown = text
        self.stream.write(("\r" + text) if self.tty else text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.shown is None:
            self.stream.write("superruns.make: nothing to build\n")
        elif self.tty:
            self.stream.write("\n")
        self.stream.flush()
