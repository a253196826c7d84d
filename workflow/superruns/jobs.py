"""What the Snakemake scripts run: one job each, all through one wrapper, :func:`run_job`.

The scripts under ``scripts/`` only hand the ``snakemake`` object to these functions, so
everything here is reachable from tests without Snakemake. :func:`run_job` gives every job
its log file, its timing and the error policy (:func:`error_policy`); every data file a job
writes gets a provenance record in its metadata (:meth:`Job.provenance`).

Error policy: a :class:`~superruns.errors.SuperrunsError` (its message names the file, the run
and the fix) and an ``OSError`` (it names its file) are printed as one clear line, exit 1. Any
other exception is a bug: it keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Callable

from .errors import EXPECTED_ERRORS
from .project import Project

log = logging.getLogger("superruns")


def error_line(error: BaseException) -> str:
    """The one line an expected error is reported as: its type and its message."""
    return f"{type(error).__name__}: {error}"


@contextmanager
def error_policy(report: Callable[[str], None]):
    """Report an expected error as one line through ``report`` and exit 1; let others through
    with their traceback (bugs stay visible)."""
    try:
        yield
    except EXPECTED_ERRORS as error:
        report(error_line(error))
        raise SystemExit(1) from None


def _log_to(log_path: str | None) -> None:
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)


@contextmanager
def job_log(log_path: str | None):
    """Log to the job's log file, time the job, and apply the error policy."""
    _log_to(log_path)
    started = time.perf_counter()
    with error_policy(log.error):
        yield
    log.info("done in %.2f s", time.perf_counter() - started)


class Job:
    """One Snakemake job as the work functions see it: its project, wildcards and files."""

    def __init__(self, smk):
        self.smk = smk

    @cached_property
    def project(self) -> Project:
        return Project(self.smk.config)

    @property
    def rule(self) -> str | None:
        return getattr(self.smk, "rule", None)

    @property
    def wildcards(self):
        return self.smk.wildcards

    @property
    def output(self) -> Path:
        return Path(self.smk.output[0])

    def named_inputs(self) -> dict[str, Path]:
        """``{data_type: path}`` of the job's named inputs, as absolute paths (messages then
        name files the user can find from anywhere)."""
        return {name: Path(path).absolute() for name, path in self.smk.input.items()}

    def provenance(self, run_id: str, data_type: str, inputs) -> dict:
        """The metadata entry recording how the output ``run_id/data_type`` was made from
        ``inputs`` (open files or paths), for the writer's ``extra_metadata``."""
        from .provenance import record

        return {"provenance": record(self.project, run_id, data_type, inputs, rule=self.rule)}


def run_job(smk, work: Callable[[Job], None]) -> None:
    """Run ``work`` as the Snakemake job ``smk``: with its log, timing and error policy."""
    with job_log(smk.log[0] if smk.log else None):
        work(Job(smk))


def _process(job: Job) -> None:
    from .processing import open_inputs, process_run

    run_id, data_type = job.wildcards.run, job.wildcards.data_type
    inputs = open_inputs(job.named_inputs())
    process_run(job.project, run_id, data_type, inputs, job.output,
                extra_metadata=job.provenance(run_id, data_type, inputs.values()))


def _build_superrun(job: Job) -> None:
    from .concatenation import build_from_project
    from .storage import DataFile

    superrun, data_type = job.wildcards.superrun, job.wildcards.data_type
    # Open each input once: the provenance record and the build share them (a superrun
    # of 10,000 subruns spent as long re-opening them as building).
    files = {path: DataFile(path) for path in (Path(p).resolve() for p in job.smk.input)}
    build_from_project(job.project, superrun, data_type, job.output,
                       extra_metadata=job.provenance(superrun, data_type, files.values()), files=files)


def _superrun_level(job: Job) -> None:
    from .processing import open_inputs
    from .superrun_processing import process_superrun_level

    run_id, data_type = job.wildcards.target, job.wildcards.data_type
    job.project.check_known(run_id)
    inputs = open_inputs(job.named_inputs())
    process_superrun_level(job.project, run_id, data_type, inputs, job.output,
                           extra_metadata=job.provenance(run_id, data_type, inputs.values()))


def _summarise(job: Job) -> None:
    from .report import write_summary

    write_summary(Path(job.smk.input[0]), job.output)


def _select(job: Job) -> None:
    from .selections import write_selection

    count = write_selection(job.project, job.wildcards.selection, job.output)
    log.info("selection %s: %d events", job.wildcards.selection, count)


def process_job(smk) -> None:
    """Snakemake job: compute one data type of one regular run."""
    run_job(smk, _process)


def superrun_job(smk) -> None:
    """Snakemake job: build one data type of one superrun from its subruns' files."""
    run_job(smk, _build_superrun)


def superrun_level_job(smk) -> None:
    """Snakemake job: compute one superrun-level data type over a superrun (or run) as one run."""
    run_job(smk, _superrun_level)


def summary_job(smk) -> None:
    """Snakemake job: the HTML summary of one superrun file for ``snakemake --report``."""
    run_job(smk, _summarise)


def selection_job(smk) -> None:
    """Snakemake job: write the events that pass one selection's cuts."""
    run_job(smk, _select)
