"""One pending wake-up of Snakemake's scheduler at a time, not one more per wake-up.

Snakemake's job scheduler (9.x, ``snakemake.scheduling.job_scheduler.JobScheduler``) ends
every pass of its loop by starting a ``threading.Timer`` that wakes it again after the job
rate limiter's timespan (``--max-jobs-per-timespan``, 1 s in profiles/default), so that jobs
the limiter held back get their turn. A pass that such a timer started starts another: every
job that ends (each wakes the scheduler once) leaves a chain of wake-ups behind it, one per
timespan, until Snakemake ends. A campaign of N runs in T seconds thus wakes the scheduler
about N·T/2 times -- 14,491 times in a 1,000-run campaign (1,030 with this), each pass
touching every ready job -- and the scheduler's CPU grows as N² (Snakemake's issue #2967 reads like it:
"after ~12h it starts using a lot of CPU"). And the last timers, threads that are not
daemons, keep Snakemake's process waiting up to a timespan after its last job.

:func:`coalesce_scheduler_wakeups` keeps one such timer pending at a time: a pass that finds
one pending relies on it (it fires within a timespan, and the pass it starts schedules the
next), which is all the rate limiter needs; the timer is a daemon thread, so nothing waits
for it at the end. Snakemake has no setting or API for this; the method replaced is private,
so the replacement checks that it is still the one it replaces (its name and arguments) and
leaves Snakemake as it is otherwise. ``tests/e2e/test_scheduler_wakeups.py`` counts the
wake-ups of a campaign, so an upgrade that breaks this is seen. Measured in
benchmarks/scale.md ("A campaign from nothing").
"""

from __future__ import annotations

import inspect
import threading

__all__ = ["coalesce_scheduler_wakeups"]

#: The private method of Snakemake's JobScheduler replaced (its spelling, sic).
METHOD = "_schedule_reevalutation"
_PENDING = "_superruns_pending_wakeup"
_LOCK = threading.Lock()


def _one_pending_wakeup(scheduler, delay) -> None:
    """Wake ``scheduler`` after ``delay`` seconds unless a wake-up is pending already."""
    with _LOCK:
        if getattr(scheduler, _PENDING, None) is not None:
            return

        def wake() -> None:
            with _LOCK:
                setattr(scheduler, _PENDING, None)   # before waking: that pass schedules the next
            scheduler._open_jobs.release()

        timer = threading.Timer(delay, wake)
        timer.daemon = True                         # Snakemake's process does not wait for it
        setattr(scheduler, _PENDING, timer)
    timer.start()


def coalesce_scheduler_wakeups() -> bool:
    """Replace Snakemake's ``JobScheduler._schedule_reevalutation`` with
    :func:`_one_pending_wakeup` in this process; False (nothing changed) when this Snakemake's
    scheduler has no such method of that shape."""
    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:
        return False
    original = getattr(JobScheduler, METHOD, None)
    if original is _one_pending_wakeup:
        return True
    if original is None or list(inspect.signature(original).parameters) != ["self", "delay"] \
            or "_open_jobs" not in inspect.getsource(JobScheduler.__init__):
        return False
    setattr(JobScheduler, METHOD, _one_pending_wakeup)
    return True
