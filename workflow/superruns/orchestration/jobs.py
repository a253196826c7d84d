"""What the Snakemake jobs run: one job each, all through one wrapper, :func:`run_job`.

The ``run:`` rules (run_chain, process, superrun) call these functions through
:func:`in_snakemake`, from a thread of Snakemake's own process (``force-use-threads``,
profiles/default), which hands the job to a worker process forked from it
(:mod:`superruns.orchestration.workers`: all the cores, no interpreter lock shared); the
scripts under ``scripts/`` only hand the ``snakemake`` object to them.
So everything here is reachable from tests without Snakemake. :func:`run_job` gives every job
its log file, its timing and the error policy (:func:`error_policy`); every data file a job
writes gets a provenance record in its metadata (:meth:`Job.provenance`).

Error policy: a :class:`~superruns.base.errors.SuperrunsError` (its message names the file, the run
and the fix) and an ``OSError`` (it names its file) are printed as one clear line, exit 1. Any
other exception is a bug: it keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

from ..base.errors import EXPECTED_ERRORS, SuperrunsError
from ..base.files import os_error_message
from ..base.processes import in_job_worker, mark_job_worker
from ..project import Project

log = logging.getLogger("superruns")
LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def error_line(error: BaseException) -> str:
    """The one line an expected error is reported as: its type and its message (an OSError
    worded with its file and what to do: no bare errno)."""
    if isinstance(error, OSError) and not isinstance(error, SuperrunsError):
        return f"{type(error).__name__}: {os_error_message(error)}"
    return f"{type(error).__name__}: {error}"


class JobInputsError(SuperrunsError, RuntimeError):
    """The inputs Snakemake handed a job are not the ones its rule names."""


class JobFailed(RuntimeError):
    """An expected error of a job run in a thread of Snakemake's own process: its one line,
    already logged. Snakemake reports the job as failed and goes on (a SystemExit there would
    escape its job-done callback and leave the scheduler waiting)."""


class OwnProcessError(SuperrunsError, RuntimeError):
    """A ``run:`` job that Snakemake started as a process of its own on this machine."""


#: What makes Snakemake run the ``run:`` jobs in its own process (profiles/default sets it).
IN_PROCESS = "--force-use-threads"
#: Set by a cluster batch job's Snakemake for the job processes it starts on its node, which
#: are the cluster's layout (one process per job), not a host's missing flag.
IN_BATCH_JOB = "SUPERRUNS_IN_BATCH_JOB"


def refuse_own_process(rule: str | None) -> None:
    """A ``run:`` job Snakemake started as a local process of its own (no ``force-use-threads``:
    a host workflow, which does not load our profiles/default) parses the whole workflow again,
    seconds per job: refuse, with the one line to add, rather than run that slowly."""
    raise OwnProcessError(
        f"rule {rule}: Snakemake started this job as a process of its own, which reads the whole "
        f"workflow again for each job (seconds each); superruns' jobs run in Snakemake's process: "
        f"add {IN_PROCESS} to the snakemake command (or `force-use-threads: true` to your workflow "
        "profile)")


class JobError(RuntimeError):
    """A bug in a job that a worker process ran: the worker's traceback, in the message."""


def in_thread() -> bool:
    """Whether this job runs in Snakemake's process (a thread of it, or one of its worker
    processes), not in a process of its own: its errors are raised, not exits."""
    return in_job_worker() or threading.current_thread() is not threading.main_thread()


@contextmanager
def error_policy(report: Callable[[str], None]):
    """Report an expected error as one line through ``report`` and exit 1 (in a thread of
    Snakemake's process: raise :class:`JobFailed`); let others through with their traceback
    (bugs stay visible). In a thread, what is not an ``Exception`` (``SystemExit``,
    ``KeyboardInterrupt``, ...) becomes :class:`JobFailed` too: Snakemake's job-done callback
    handles exceptions only, and would leave its scheduler waiting for the job for ever."""
    try:
        yield
    except EXPECTED_ERRORS as error:
        line = error_line(error)
        report(line)
        _log_cause(error)
        if in_thread():
            raise JobFailed(line) from None
        raise SystemExit(1) from None
    except Exception:
        raise
    except BaseException as error:
        if not in_thread():
            raise
        line = f"the job raised {type(error).__name__} ({error!r}), which no job may raise"
        report(line)
        raise JobFailed(line) from None


def _log_cause(error: BaseException) -> None:
    """The traceback of what a plugin raised (:class:`~superruns.model.plugins.PluginFailed`),
    into the job's log file (not onto the terminal: its one line is there)."""
    from ..model.plugins import PluginFailed

    if isinstance(error, PluginFailed) and error.__cause__ is not None:
        log.info("what the plugin raised:\n%s", "".join(traceback.format_exception(error.__cause__)).rstrip())


class _LogFile(logging.FileHandler):
    """The job's log file; when it cannot be written (a full disk holds it too) the line still
    reaches stderr through the other handler, without logging's own traceback -- also when the
    file is flushed and closed at the job's end (whose error would replace the job's own)."""

    def handleError(self, record) -> None:
        pass

    def flush(self) -> None:
        try:
            super().flush()
        except OSError:
            pass

    def close(self) -> None:
        try:
            super().close()
        except OSError:
            pass


def _log_to(log_path: str | None) -> None:
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(_LogFile(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT,
                        handlers=handlers, force=True)


class _ThisThread(logging.Filter):
    def __init__(self):
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record) -> bool:
        return record.thread == self.thread


@contextmanager
def _thread_log(log_path: str | None):
    """The log file and stderr of a job in a thread of Snakemake's process: only this thread's
    records reach them (other jobs run beside it), and Snakemake's own logging is left alone.
    The stderr line (errors only) is what a full disk still lets through."""
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING)
    handlers = [stderr]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(_LogFile(log_path, mode="w"))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        handler.addFilter(_ThisThread())
        log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        for handler in handlers:
            log.removeHandler(handler)
            handler.close()


@contextmanager
def _process_log(log_path: str | None):
    _log_to(log_path)
    yield


@contextmanager
def job_log(log_path: str | None):
    """Log to the job's log file, time the job, and apply the error policy."""
    with (_thread_log if in_thread() else _process_log)(log_path):
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
        # A job in Snakemake's own process is handed the Snakefile's Project (rules/common.smk);
        # a script job reads the files again and refuses if they changed since the parse.
        given = getattr(self.smk, "project", None)
        if given is not None:
            return given
        project = Project(self.smk.config)
        project.check_parsed()
        return project

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
        from ..build.provenance import record

        return {"provenance": record(self.project, run_id, data_type, inputs, rule=self.rule)}


#: Imported in Snakemake's process before it forks the first worker (superruns.orchestration.workers).
JOB_MODULES = ("numpy", "blosc2", "numba", "superruns.build.processing", "superruns.build.concatenation",
               "superruns.build.provenance", "superruns.storage.reader", "superruns.storage.writer")


def prepare_workers() -> None:
    """What every worker would do first, done once in Snakemake's process before the first
    fork: the jobs' imports, and the code's version that provenance records (two git calls)."""
    import importlib

    for module in JOB_MODULES:
        importlib.import_module(module)
    from ..build.provenance import code_version

    code_version()


def in_snakemake(job_function: Callable, project: Project, **smk) -> None:
    """Run ``job_function`` (e.g. :func:`process_job`) for a ``run:`` rule, handed the
    Snakefile's Project and the job's ``input``, ``output``, ``params``, ``wildcards``, ``log``
    and ``rule``, as a script job gets them. From a thread of Snakemake's process (with
    ``--force-use-threads``), in a worker process forked from it (config ``job_processes``:
    ``workers``, the default; ``threads`` runs it in the thread, ``fork`` in a fresh fork per
    job), where whatever the job raises fails this job only (:class:`JobFailed`). In a thread,
    whatever escapes the job's own error policy and is not an ``Exception`` fails the job as
    :class:`JobFailed` too (see :func:`error_policy`)."""
    mode = project.config.get("job_processes", "workers")
    if mode != "threads" and in_thread() and not in_job_worker():
        _in_worker_process(job_function, project, smk, keep=mode == "workers")
        return
    try:
        job_function(SimpleNamespace(project=project, config=project.config, **smk))
    except Exception:
        raise
    except BaseException as error:
        if not in_thread():
            raise
        raise JobFailed(f"job of rule {smk.get('rule')} raised {type(error).__name__} ({error!r})") from None


def _in_worker_process(job_function: Callable, project: Project, smk: dict, keep: bool) -> None:
    from .workers import WorkerDied, plain_job, pool_for

    try:
        status, text = pool_for(project, run_in_worker, prepare_workers, keep).run(job_function, plain_job(smk))
    except WorkerDied as died:
        line = f"{smk.get('rule')} job: {died}"
        log_path = smk.get("log")[0] if smk.get("log") else None
        if log_path:
            with open(log_path, "a") as log_file:
                log_file.write(line + "\n")
        raise JobFailed(line) from None
    if status == "failed":
        raise JobFailed(text)
    if status == "error":
        raise JobError(f"{smk.get('rule')} job, in a worker process:\n{text}")


def run_in_worker(job_function: Callable, project: Project, plain: dict) -> tuple[str, str]:
    """A job in a worker process (:mod:`superruns.orchestration.workers`): ``("done", "")``,
    ``("failed", its one line)`` (:class:`JobFailed`, or anything not an ``Exception`` it
    raised), or ``("error", traceback)`` for a bug."""
    from .workers import restore_job

    mark_job_worker()
    try:
        job_function(SimpleNamespace(project=project, config=project.config, **restore_job(plain)))
    except JobFailed as failed:
        return "failed", str(failed)
    except Exception:
        return "error", traceback.format_exc()
    except BaseException as error:      # SystemExit, KeyboardInterrupt: this job's failure, no more
        return "failed", f"the job raised {type(error).__name__} ({error!r}), which no job may raise"
    return "done", ""


def run_job(smk, work: Callable[[Job], None]) -> None:
    """Run ``work`` as the Snakemake job ``smk``: with its log, timing and error policy."""
    with job_log(smk.log[0] if smk.log else None):
        work(Job(smk))


def _make(job: Job, run_id: str, data_type: str, input_paths: dict, output: Path) -> None:
    """One data type of one regular run from its inputs' files, with its provenance."""
    from ..build.processing import open_inputs, process_run

    inputs = open_inputs(input_paths)
    process_run(job.project, run_id, data_type, inputs, output,
                extra_metadata=job.provenance(run_id, data_type, inputs.values()))


def _process(job: Job) -> None:
    _make(job, job.wildcards.run, job.wildcards.data_type, job.named_inputs(), job.output)


def _chain(job: Job) -> None:
    """Every data type of the run's chain, in dependency order, each from the files before it."""
    from .chains import inputs_of

    run_id = job.wildcards.run
    job.project.check_known(run_id)
    made = dict(job.named_inputs())
    for data_type, path in job.smk.output.items():        # named by data type, in chain order
        started = time.perf_counter()
        _make(job, run_id, data_type, inputs_of(job.project.registry, data_type, made), Path(path))
        log.info("%s/%s in %.3f s", run_id, data_type, time.perf_counter() - started)
        made[data_type] = Path(path).absolute()


def _build_superrun(job: Job) -> None:
    from ..build.concatenation import build_from_project

    superrun, data_type = job.wildcards.superrun, job.wildcards.data_type
    # Open each input once: the provenance record and the build share them (a superrun
    # of 10,000 subruns spent as long re-opening them as building).
    files = open_subrun_files(job, superrun, data_type)
    build_from_project(job.project, superrun, data_type, job.output,
                       extra_metadata=job.provenance(superrun, data_type, files.values()), inputs=files)


def _superrun_level(job: Job) -> None:
    from ..build.processing import open_inputs
    from ..build.superrun_processing import process_superrun_level

    run_id, data_type = job.wildcards.target, job.wildcards.data_type
    job.project.check_known(run_id)
    inputs = open_inputs(job.named_inputs())
    process_superrun_level(job.project, run_id, data_type, inputs, job.output,
                           extra_metadata=job.provenance(run_id, data_type, inputs.values()))


def open_subrun_files(job: Job, superrun: str, data_type: str) -> dict:
    """``{direct subrun: DataFile}`` of ``superrun``, opened from exactly the input paths
    Snakemake handed the job (the rule lists them in the definitions' order of direct
    subruns), each checked to hold its subrun's ``data_type`` (a file linked, moved or copied
    from another run or data type is refused; lineages are compared by the build)."""
    from ..storage import DataFile
    from ..storage.freshness import require_current
    from ..storage.identity import ANY

    subruns = job.project.definitions.direct_subruns(superrun)
    paths = list(job.smk.input)
    if len(paths) != len(subruns):
        raise JobInputsError(f"Superrun {superrun}/{data_type}: Snakemake handed {len(paths)} input files "
                             f"for {len(subruns)} direct subruns: the definitions changed while the "
                             "workflow ran; run snakemake again.")
    files = {}
    plugin = job.project.registry[data_type]
    for subrun, path in zip(subruns, paths):
        path = Path(path).absolute()
        files[subrun] = plugin.open_in_place(path) or DataFile(path)      # or read in place
        # Lineages are compared by the build, which names the options that differ.
        require_current(job.project, subrun, data_type, files[subrun], lineage=ANY)
    return files


def _checked(job: Job, run_id: str, data_type: str, path) -> Path:
    """``path``, after checking the file holds ``run_id``'s ``data_type`` of the current lineage."""
    from ..storage import DataFile
    from ..storage.freshness import require_current

    require_current(job.project, run_id, data_type, DataFile(path))
    return Path(path)


def _summarise(job: Job) -> None:
    from ..stored.report import write_summary

    superrun, data_type = job.wildcards.superrun, job.wildcards.data_type
    path = _checked(job, superrun, data_type, job.smk.input.data)
    write_summary(path, job.output, figures=list(job.smk.input.figures))


def _draw(job: Job) -> None:
    """One figure of a summary page: of the superrun (no input), or of a data type from the
    one file the rule names (rules/report.smk)."""
    from ..stored.plots import draw_data_figure, draw_superrun_figure

    superrun, figure = job.wildcards.superrun, job.wildcards.figure
    job.project.check_known(superrun)
    data_type = getattr(job.wildcards, "data_type", None)
    if data_type is None:
        draw_superrun_figure(job.project, superrun, figure, job.output)
        return
    (source, path), = job.named_inputs().items()
    draw_data_figure(job.project, superrun, data_type, figure, _checked(job, superrun, source, path), job.output)


def _select(job: Job) -> None:
    from ..stored.selections import write_selection

    count = write_selection(job.project, job.wildcards.selection, Path(job.smk.input[0]), job.output)
    log.info("selection %s: %d events", job.wildcards.selection, count)


def _entry_point(work: Callable[[Job], None], does: str) -> Callable:
    """The function a rule calls for one kind of job: ``work`` through :func:`run_job`."""
    def job(smk) -> None:
        run_job(smk, work)

    job.__doc__ = f"Snakemake job: {does}."
    return job


#: Every kind of job the rules run, by the name its rule calls, each through :func:`run_job`.
ENTRY_POINTS = {
    "process_job": _entry_point(_process, "compute one data type of one regular run"),
    "chain_job": _entry_point(_chain, "every data type of one regular run's chain (superruns.orchestration.chains)"),
    "superrun_job": _entry_point(_build_superrun, "build one data type of one superrun from its subruns' files"),
    "superrun_level_job": _entry_point(
        _superrun_level, "compute one superrun-level data type over a superrun (or run) as one run"),
    "summary_job": _entry_point(_summarise, "the HTML summary of one superrun file for ``snakemake --report``"),
    "figure_job": _entry_point(_draw, "one figure of a superrun's summary page (PNG)"),
    "selection_job": _entry_point(_select, "write the events that pass one selection's cuts"),
}
for _name, _job in ENTRY_POINTS.items():
    _job.__name__ = _job.__qualname__ = _name
process_job = ENTRY_POINTS["process_job"]
chain_job = ENTRY_POINTS["chain_job"]
superrun_job = ENTRY_POINTS["superrun_job"]
superrun_level_job = ENTRY_POINTS["superrun_level_job"]
summary_job = ENTRY_POINTS["summary_job"]
figure_job = ENTRY_POINTS["figure_job"]
selection_job = ENTRY_POINTS["selection_job"]
