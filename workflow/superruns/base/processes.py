"""What kind of process this is, for the code that must tell a user's Ctrl-C from an error.

A job of the workflow runs in a thread of Snakemake's process or in a worker process forked
from it (:mod:`superruns.orchestration.workers`). There a ``KeyboardInterrupt`` raised by a
plugin is that plugin's failure; only in the main thread of any other process is it the
user's Ctrl-C, to let through. The flag lives here, below every layer that asks."""

from __future__ import annotations

import threading

__all__ = ["in_job_worker", "is_users_interrupt", "mark_job_worker"]

_JOB_WORKER = False


def mark_job_worker() -> None:
    """Called once by a worker process of Snakemake's before its first job."""
    global _JOB_WORKER
    _JOB_WORKER = True


def in_job_worker() -> bool:
    """Whether this is a worker process running the workflow's jobs."""
    return _JOB_WORKER


def is_users_interrupt(error: BaseException) -> bool:
    """A ``KeyboardInterrupt`` in the main thread of a process that is not a job worker."""
    return (isinstance(error, KeyboardInterrupt) and not _JOB_WORKER
            and threading.current_thread() is threading.main_thread())
