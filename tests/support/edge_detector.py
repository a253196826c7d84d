"""The shipped simulated detector whose raw_records of some runs reach past the run registry's
start and end, as imported strax data often begin before their run document: every data type
made from them (peaks, events, ...) does too. The oracle test (tests/support/oracle_check.py)
builds its runs with it, so "a run held whole keeps every row of its file" and "a range at a
registry edge keeps only what the selection rule keeps there" can differ and be checked,
with the registry the files were made with (current files, nothing stale)."""

from __future__ import annotations

import dataclasses

from superruns.detector import PLUGINS as DETECTOR_PLUGINS, RawRecords

SECOND = 1_000_000_000
#: Per run id: how far its data begin before the registry's start and end after its end [ns].
REACH = {"000003": (1_250_000_000, 500_000_000), "000004": (400_000_000, 800_000_000)}


class EdgeRawRecords(RawRecords):
    """raw_records simulated over the run's registry span widened by :data:`REACH`."""

    def generate(self, run, config):
        early, late = REACH.get(str(run.run_id), (0, 0))
        yield from super().generate(dataclasses.replace(run, start=run.start - early, end=run.end + late), config)


PLUGINS = [EdgeRawRecords if plugin is RawRecords else plugin for plugin in DETECTOR_PLUGINS]
