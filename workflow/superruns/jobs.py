"""What the Snakemake scripts run: one job each, with its log and a clear error.

The scripts under ``scripts/`` only hand the ``snakemake`` object to these functions, so
everything here is reachable from tests without Snakemake. Every output gets a provenance
record in its metadata (:mod:`superruns.provenance`).
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .project import Project
from .storage import StorageError

log = logging.getLogger("superruns")

# Errors whose message already says what is wrong and what to do: shown without a traceback.
# StorageError covers DataCorrupted: a damaged input names its file, chunk and frame.
EXPECTED_ERRORS = (ValueError, KeyError, RuntimeError, OSError, StorageError)


@contextmanager
def job_log(log_path: str | None):
    """Log to the job's log file, and report an expected error as one clear line."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    started = time.perf_counter()
    try:
        yield
    except EXPECTED_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        log.error("%s: %s", type(error).__name__, message)
        raise SystemExit(1) from None
    log.info("done in %.2f s", time.perf_counter() - started)


def rule_name(smk) -> str | None:
    return getattr(smk, "rule", None)


def process_job(smk) -> None:
    """Snakemake job: compute one data type of one regular run."""
    from .processing import open_inputs, process_run
    from .provenance import record

    with job_log(smk.log[0] if smk.log else None):
        project = Project(smk.config)
        run_id, data_type = smk.wildcards.run, smk.wildcards.data_type
        # Absolute paths: messages then name files the user can find from anywhere (jobs run
        # in data_dir, users in the workflow's directory).
        inputs = open_inputs({name: Path(path).absolute() for name, path in smk.input.items()})
        provenance = record(project, run_id, data_type, inputs.values(), rule=rule_name(smk))
        process_run(project, run_id, data_type, inputs, Path(smk.output[0]),
                    extra_metadata={"provenance": provenance})


def superrun_job(smk) -> None:
    """Snakemake job: build one data type of one superrun from its subruns' files."""
    from .concatenation import build_from_project
    from .provenance import record
    from .storage import DataFile

    with job_log(smk.log[0] if smk.log else None):
        project = Project(smk.config)
        superrun, data_type = smk.wildcards.superrun, smk.wildcards.data_type
        # Open each input once: the provenance record and the build share them (a superrun
        # of 10,000 subruns spent as long re-opening them as building).
        files = {path: DataFile(path) for path in (Path(p).resolve() for p in smk.input)}
        provenance = record(project, superrun, data_type, files.values(), rule=rule_name(smk))
        build_from_project(project, superrun, data_type, Path(smk.output[0]),
                           extra_metadata={"provenance": provenance}, files=files)


def summary_job(smk) -> None:
    """Snakemake job: the HTML summary of one superrun file for ``snakemake --report``."""
    from .report import write_summary

    with job_log(smk.log[0] if smk.log else None):
        write_summary(Path(smk.input[0]), Path(smk.output[0]))


def selection_job(smk) -> None:
    """Snakemake job: write the events that pass one selection's cuts."""
    from .selections import write_selection

    with job_log(smk.log[0] if smk.log else None):
        project = Project(smk.config)
        count = write_selection(project, smk.wildcards.selection, Path(smk.output[0]))
        log.info("selection %s: %d events", smk.wildcards.selection, count)
