"""One pending wake-up of Snakemake's scheduler at a time (superruns.orchestration.wakeups),
against a stand-in scheduler: its semaphore, which each wake-up releases once."""

from __future__ import annotations

import threading
import time

from superruns.orchestration.wakeups import _one_pending_wakeup


class Scheduler:
    def __init__(self):
        self._open_jobs = threading.Semaphore(0)


def pending_timers() -> list[threading.Timer]:
    return [t for t in threading.enumerate() if isinstance(t, threading.Timer) and t.is_alive()]


def test_many_requests_leave_one_pending_daemon_timer():
    scheduler, before = Scheduler(), set(pending_timers())
    for _ in range(100):
        _one_pending_wakeup(scheduler, 0.2)
    timers = set(pending_timers()) - before
    assert len(timers) == 1 and timers.pop().daemon              # nothing waits for it at exit
    assert scheduler._open_jobs.acquire(timeout=2)               # it wakes the scheduler ...
    assert not scheduler._open_jobs.acquire(timeout=0.5)         # ... once


def test_the_pass_a_wakeup_starts_can_schedule_the_next():
    scheduler = Scheduler()
    _one_pending_wakeup(scheduler, 0.05)
    assert scheduler._open_jobs.acquire(timeout=2)
    _one_pending_wakeup(scheduler, 0.05)                          # as the woken pass does
    assert scheduler._open_jobs.acquire(timeout=2)


def test_two_schedulers_have_a_pending_wakeup_each():
    first, second = Scheduler(), Scheduler()
    _one_pending_wakeup(first, 0.05)
    _one_pending_wakeup(second, 0.05)
    time.sleep(0.01)
    assert first._open_jobs.acquire(timeout=2) and second._open_jobs.acquire(timeout=2)
