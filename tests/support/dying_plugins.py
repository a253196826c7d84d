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

import numpy as np

from superruns.model.plugins import Option, Plugin

DIE = {"exit": lambda: os._exit(5), "kill": lambda: os.kill(os.getpid(), signal.SIGKILL)}


class Crash(Plugin):
    provides = "crash"
    depends_on = ("event_info",)
    data_kind = "events"
    version = "0.0.1"
    dtype = np.dtype([("time", "<i8"), ("endtime", "<i8")])
    options = (Option("crash_how", "exit", track=False, help="exit or kill"),
               Option("crash_runs", ["8"], track=False, help="the runs whose job dies"))

    def compute(self, inputs, config, span):
        if span.run_id in config["crash_runs"]:
            DIE[config["crash_how"]]()
        rows = inputs["event_info"]
        out = np.zeros(len(rows), self.dtype)
        out["time"], out["endtime"] = rows["time"], rows["endtime"]
        return out


PLUGINS = [Crash]
