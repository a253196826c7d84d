"""Provenance of data files: what a file was built from, by which code and configuration.

Every file the workflow writes carries a ``provenance`` record in its metadata
(:func:`record`, passed by :mod:`superruns.orchestration.jobs` as ``extra_metadata``)::

    {"config_hash":  hash of the configuration, paths relative to the workflow directory,
     "lineage_hash": the output's lineage hash (its lineage is the top-level "lineage" field),
     "code":         {"superruns": version, "git_commit": ..., "git_dirty": ..., "python": ...,
                      "numpy": ..., "numba": ..., "blosc2": ..., "snakemake": ...},
     "inputs":       {"{run}/{data_type}": {"content_hash": ..., "lineage_hash": ..., "rows": ...}},
     "job":          {"rule": ..., "run_id": ..., "data_type": ...},
     "host": ..., "pid": ..., "time": ISO-8601 UTC}

Two builds of the same data from the same configuration and code give equal records apart
from the fields listed in :data:`WHEN_AND_WHERE` (and the writer's ``writing_started`` and
``writing_ended``); ``docs/reliability.md`` lists them.

An input's :func:`~superruns.storage.content_hash` (a hash of its data, from its metadata)
shows whether a rebuilt input is the same data. Whether a file is whole is checked by
:mod:`superruns.storage.verify`.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..base.times import utc_now_iso
from ..storage import DataFile, content_hash

if TYPE_CHECKING:
    from ..model.seam import ProjectView

__all__ = ["WHEN_AND_WHERE", "code_version", "config_hash", "record"]

#: Provenance fields that record when and where a file was built (differ between rebuilds).
WHEN_AND_WHERE = ("host", "pid", "time")
#: Top-level metadata fields the writer sets from the clock.
WRITER_TIMES = ("writing_started", "writing_ended")

_PACKAGES = ("numpy", "numba", "blosc2", "snakemake")


# -- code and configuration ---------------------------------------------------------------------


def _git(*args: str) -> str | None:
    directory = Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


@lru_cache(maxsize=1)
def code_version() -> dict:
    """The package version, the git commit of its source (if it is a git checkout) and
    whether tracked files differ from it, and the versions of the libraries that shape the
    bytes written."""
    from importlib.metadata import PackageNotFoundError, version

    from ..base.version import __version__

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    code = {"superruns": __version__,
            "git_commit": commit.strip() if commit else None,
            "git_dirty": bool(status.strip()) if status is not None else None,
            "python": platform.python_version()}
    for package in _PACKAGES:
        try:
            code[package] = version(package)
        except PackageNotFoundError:
            code[package] = None
    return code


def portable_config(project: ProjectView) -> dict:
    """The project's configuration with its paths relative to the workflow directory, so two
    checkouts of one workflow in different places have the same configuration."""
    base = project.base_dir

    def relative(path: str) -> str:
        try:
            return str(Path(path).resolve().relative_to(base))
        except ValueError:
            return str(path)

    # job_layout and job_processes say how the work is cut into jobs and where they run, not
    # what is computed: files built either way hold the same data (tests/e2e/test_job_layout.py),
    # and so does their record.
    config = {key: value for key, value in project.config.items()
              if key not in ("base_dir", "job_layout", "job_processes")}
    for key in ("data_dir", "runs", "dq_dir", "lock"):   # project.PATH_KEYS
        if key in config:
            config[key] = relative(config[key])
    config["superruns"] = [relative(p) for p in config["superruns"]]
    return config


def config_hash(project: ProjectView) -> str:
    from ..base.hashing import deterministic_hash

    return deterministic_hash(portable_config(project))


# -- the inputs of a file ---------------------------------------------------------------------


def _relative_name(project: ProjectView, path) -> str:
    try:
        return str(Path(path).resolve().relative_to(project.data_dir.resolve()))
    except ValueError:
        return str(path)


def record(project: ProjectView, run_id: str, data_type: str, inputs, *, rule: str | None = None) -> dict:
    """The provenance record of the output ``run_id/data_type`` built from ``inputs`` (paths,
    or :class:`~superruns.storage.DataFile` objects the job has open already)."""
    described = {}
    for item in inputs:
        data = item if isinstance(item, DataFile) else DataFile(item)
        described[_relative_name(project, data.path)] = {
            "content_hash": content_hash(data), "lineage_hash": data.metadata.get("lineage_hash"),
            "rows": data.n_rows}
    return {
        "config_hash": config_hash(project),
        "lineage_hash": project.lineage_hash(run_id, data_type),
        "code": code_version(),
        "inputs": described,
        "job": {"rule": rule, "run_id": run_id, "data_type": data_type},
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "time": utc_now_iso(),
    }


def reproducible_metadata(metadata: dict) -> dict:
    """``metadata`` without the fields that record when and where the file was written."""
    md = {k: v for k, v in metadata.items() if k not in WRITER_TIMES}
    if isinstance(md.get("provenance"), dict):
        md["provenance"] = {k: v for k, v in md["provenance"].items() if k not in WHEN_AND_WHERE}
    return md
