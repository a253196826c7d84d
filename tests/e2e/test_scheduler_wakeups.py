"""End to end: Snakemake's scheduler wakes about once per job, not once per job per second
(superruns.orchestration.wakeups), real snakemake.

Snakemake's scheduler ends each pass of its loop by starting a timer that wakes it again a
timespan (``--max-jobs-per-timespan``) later, and each pass a timer starts starts another: a
campaign of N jobs over T seconds woke it about N·T/2 times (100 passes for the 25 jobs of
the test below, against 33 with one pending wake-up at a time). The count of passes comes
from ``support/counted_snakemake.py``; the rate limit must still hold, and nothing hang."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from superruns.orchestration.wakeups import coalesce_scheduler_wakeups

from support.workflows import REPO, Workflow, run_entry

pytestmark = pytest.mark.e2e

COUNTED = REPO / "tests" / "support" / "counted_snakemake.py"


def counted_snakemake(flow: Workflow, *args: str) -> tuple[int, float]:
    """Run snakemake in ``flow``; the scheduler's passes and the wall time it took."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests"), SCHEDULER_PASSES=str(flow.root / "passes"))
    start = time.monotonic()
    result = subprocess.run([sys.executable, str(COUNTED), "-s", str(REPO / "Snakefile"), "--cores", "2", *args],
                            cwd=flow.root, env=env, capture_output=True, text=True, timeout=300)
    wall = time.monotonic() - start
    assert result.returncode == 0, result.stdout + result.stderr
    return int((flow.root / "passes").read_text()), wall


def napping_campaign(flow: Workflow, runs: int, nap_s: float) -> None:
    entries = {str(i): run_entry(30 * i, 10) for i in range(1, runs + 1)}
    flow.write(entries, {"_all": {"runs": list(entries)}}, {"nap_s": nap_s},
               plugins=["superruns.detector", "support.slow_plugins"])


def test_this_snakemake_gets_one_pending_wakeup():
    """The method replaced is still there, of the shape replaced (else nothing changes, and
    the campaign below shows the storm)."""
    assert coalesce_scheduler_wakeups()


def test_the_scheduler_wakes_about_once_per_job(tmp_path):
    flow = Workflow(tmp_path)
    napping_campaign(flow, runs=24, nap_s=0.5)         # 25 jobs of 0.5 s on 2 cores: 6 s and more
    passes, wall = counted_snakemake(flow, "_all/nap")
    jobs = 25
    # one pass per job that ends, one per second of timer, a few at the start and the end;
    # every job's wake-up left a timer chain behind before: about jobs * wall / 2 more
    assert passes <= jobs + wall + 5, (passes, wall)


def test_the_job_rate_limit_still_holds(tmp_path):
    flow = Workflow(tmp_path)
    napping_campaign(flow, runs=6, nap_s=0.0)          # 7 jobs, at most 2 started a second
    _, wall = counted_snakemake(flow, "_all/nap", "--max-jobs-per-timespan", "2/1s")
    assert flow.file("_all", "nap").exists()
    assert wall >= 3, wall                             # 7 jobs at 2 a second: a fourth window
