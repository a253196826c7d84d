"""``snakemake`` whose data files stop appearing after the first N: a build that cannot finish
before the test kills it (tests/reliability/test_crash_safety.py), however fast the machine.

    python gated_snakemake.py N SNAKEMAKE_ARGS...

Runs the ``snakemake`` command in this process (``snakemake.cli.main``, as the console script
does); the jobs run in its worker processes, forked from it after the gate is set
(profiles/default: ``force-use-threads``; superruns.orchestration.workers). The first N
``DataWriter.close`` calls (the fsync and rename that make a data file appear), counted over
all of them (a file created exclusively per call let through, in ``.gate/``), go through;
every later one waits, its hidden temporary file written, until the process group is killed.
Nothing else changes: what the killed build leaves is what a kill at that moment leaves.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def let_through(slots: Path, limit: int) -> bool:
    """Whether one more data file may be completed: one of ``limit`` slot files created
    exclusively (by this process or any worker), or none left."""
    slots.mkdir(exist_ok=True)
    for slot in range(limit):
        try:
            os.close(os.open(slots / str(slot), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            continue
    return False


def gate(limit: int) -> None:
    """Let the first ``limit`` data files be completed; hold every later one before its rename."""
    from superruns.storage import writer

    original = writer.DataWriter.close
    slots = Path.cwd() / ".gate"

    def close(self, *args, **kwargs):
        if not getattr(self, "_closed", False) and not getattr(self, "_failed", False):
            if not let_through(slots, limit):
                while True:
                    time.sleep(1)     # until SIGKILL
        return original(self, *args, **kwargs)

    writer.DataWriter.close = close


if __name__ == "__main__":
    gate(int(sys.argv[1]))
    import snakemake.cli

    sys.argv = ["snakemake", *sys.argv[2:]]
    snakemake.cli.main(sys.argv[1:])
