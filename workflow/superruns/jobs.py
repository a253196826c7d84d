"""What the Snakemake scripts run: one job each, with its log and a clear error.

The scripts under ``scripts/`` only hand the ``snakemake`` object to these functions, so
everything here is reachable from tests without Snakemake.
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .project import Project

log = logging.getLogger("superruns")

# Errors whose message already says what is wrong and what to do: shown without a traceback.
EXPECTED_ERRORS = (ValueError, KeyError, RuntimeError, OSError)


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


def process_job(smk) -> None:
    """Snakemake job: compute one data type of one regular run."""
    from .processing import process_run

    with job_log(smk.log[0] if smk.log else None):
        project = Project(smk.config)
        inputs = {name: Path(path) for name, path in smk.input.items()}
        process_run(project, smk.wildcards.run, smk.wildcards.data_type, inputs, Path(smk.output[0]))


def superrun_job(smk) -> None:
    """Snakemake job: build one data type of one superrun from its subruns' files."""
    from .concatenation import build_from_project

    with job_log(smk.log[0] if smk.log else None):
        project = Project(smk.config)
        build_from_project(project, smk.wildcards.superrun, smk.wildcards.data_type, Path(smk.output[0]))
