"""``snakemake`` whose data files stop appearing after the first N: a build that cannot finish
before the test kills it (tests/reliability/test_crash_safety.py), however fast the machine.

    python gated_snakemake.py N SNAKEMAKE_ARGS...

Runs the ``snakemake`` command in this process (``snakemake.cli.main``, as the console script
does); the jobs run in its threads (profiles/default: ``force-use-threads``). The first N
``DataWriter.close`` calls (the fsync and rename that make a data file appear) go through;
every later one waits, its hidden temporary file written, until the process is killed. Nothing
else changes: what the killed build leaves is what a kill at that moment leaves.
"""

from __future__ import annotations

import sys
import threading
import time


def gate(limit: int) -> None:
    """Let the first ``limit`` data files be completed; hold every later one before its rename."""
    from superruns.storage import writer

    original = writer.DataWriter.close
    lock = threading.Lock()
    completed = [0]

    def close(self, *args, **kwargs):
        if not getattr(self, "_closed", False) and not getattr(self, "_failed", False):
            with lock:
                completed[0] += 1
                held = completed[0] > limit
            while held:
                time.sleep(1)         # until SIGKILL
        return original(self, *args, **kwargs)

    writer.DataWriter.close = close


if __name__ == "__main__":
    gate(int(sys.argv[1]))
    import snakemake.cli

    sys.argv = ["snakemake", *sys.argv[2:]]
    snakemake.cli.main(sys.argv[1:])
