"""A plugin that fails on purpose (tests/reliability/test_isolated_jobs.py): ``boom``, computed
from ``event_info`` (so it is the last data type of a run's one job), raises what its option
``boom_raise`` names for the runs in ``boom_runs``, and copies the events' times otherwise.

Listed in a test workflow's ``plugins:`` as ``support.failing_plugins`` (with ``tests/`` on
PYTHONPATH for snakemake)."""

from __future__ import annotations

import sys

import numpy as np

from superruns.model.plugins import Option, Plugin


class NotAnException(BaseException):
    """What a careless user function may raise: not an Exception, not SystemExit."""


RAISE = {
    "SystemExit": lambda: sys.exit(3),
    "KeyboardInterrupt": lambda: (_ for _ in ()).throw(KeyboardInterrupt("from a plugin")),
    "MemoryError": lambda: (_ for _ in ()).throw(MemoryError("from a plugin")),
    "GeneratorExit": lambda: (_ for _ in ()).throw(GeneratorExit("from a plugin")),
    "BaseException": lambda: (_ for _ in ()).throw(NotAnException("from a plugin")),
    "ZeroDivisionError": lambda: 1 / 0,
}


class Boom(Plugin):
    provides = "boom"
    depends_on = ("event_info",)
    data_kind = "events"
    version = "0.0.1"
    dtype = np.dtype([("time", "<i8"), ("endtime", "<i8")])
    # Not tracked: the lineage (and so the file names) stays when a test stops the failure.
    options = (Option("boom_raise", "SystemExit", track=False, help="what to raise: a key of RAISE, or none"),
               Option("boom_runs", ["8"], track=False, help="the runs it fails for"))

    def fail(self, config, run_id: str) -> None:
        """Fail as the options say, for the runs they name (a subclass fails otherwise)."""
        if run_id in config["boom_runs"] and config["boom_raise"] in RAISE:
            RAISE[config["boom_raise"]]()

    def compute(self, inputs, config, span):
        self.fail(config, span.run_id)
        rows = inputs["event_info"]
        out = np.zeros(len(rows), self.dtype)
        out["time"], out["endtime"] = rows["time"], rows["endtime"]
        return out


PLUGINS = [Boom]
