"""A plugin whose job's process dies on purpose (tests/e2e/test_workers.py): ``crash``,
computed from ``event_info`` (the last data type of a run's one job), ends the process
computing it for the runs in ``crash_runs`` -- ``os._exit(5)`` or SIGKILL, as ``crash_how``
says -- and copies the events' times otherwise. In a thread of Snakemake's own process, that
would end Snakemake; in a worker process, it fails one job.

Listed in a test workflow's ``plugins:`` as ``support.dying_plugins`` (with ``tests/`` on
PYTHONPATH for snakemake)."""

from __future__ import annotations

import os
import signal

from superruns.model.plugins import Option

from support.failing_plugins import Boom

DIE = {"exit": lambda: os._exit(5), "kill": lambda: os.kill(os.getpid(), signal.SIGKILL)}


class Crash(Boom):
    """:class:`~support.failing_plugins.Boom`'s events copy, failing by ending its process."""

    provides = "crash"
    options = (Option("crash_how", "exit", track=False, help="exit or kill"),
               Option("crash_runs", ["8"], track=False, help="the runs whose job dies"))

    def fail(self, config, run_id: str) -> None:
        if run_id in config["crash_runs"]:
            DIE[config["crash_how"]]()


PLUGINS = [Crash]
