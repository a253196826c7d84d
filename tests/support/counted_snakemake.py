"""``snakemake`` that counts the passes of its job scheduler's loop (each wake-up of it runs
``JobScheduler._finish_jobs`` once) and writes the count to the file ``$SCHEDULER_PASSES``
when it ends (tests/e2e/test_scheduler_wakeups.py).

    python counted_snakemake.py SNAKEMAKE_ARGS...

Runs the ``snakemake`` command in this process (``snakemake.cli.main``, as the console script
does); nothing else changes.
"""

from __future__ import annotations

import atexit
import os
import sys


def count_passes() -> list[int]:
    from snakemake.scheduling.job_scheduler import JobScheduler

    passes = [0]
    original = JobScheduler._finish_jobs

    def counted(self, *args, **kwargs):
        passes[0] += 1
        return original(self, *args, **kwargs)

    JobScheduler._finish_jobs = counted
    return passes


if __name__ == "__main__":
    passes = count_passes()
    atexit.register(lambda: open(os.environ["SCHEDULER_PASSES"], "w").write(str(passes[0])))
    sys.argv = ["snakemake", *sys.argv[1:]]
    from snakemake.cli import main

    main()
