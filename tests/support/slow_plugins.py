"""A plugin whose jobs take a while (tests/e2e/test_scheduler_wakeups.py): ``nap``, computed
from ``event_info`` (so it is the last data type of a run's one job), sleeps ``nap_s`` seconds
and copies the events' times: a campaign of jobs that each last, without the CPU they would
take to compute.

Listed in a test workflow's ``plugins:`` as ``support.slow_plugins`` (with ``tests/`` on
PYTHONPATH for snakemake)."""

from __future__ import annotations

import time

from superruns.model.plugins import Option

from support.failing_plugins import Boom


class Nap(Boom):
    """:class:`~support.failing_plugins.Boom`'s events copy, after a sleep."""

    provides = "nap"
    options = (Option("nap_s", 0.5, track=False, help="seconds each run's nap takes"),)

    def fail(self, config, run_id: str) -> None:
        time.sleep(config["nap_s"])


PLUGINS = [Nap]
