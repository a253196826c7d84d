"""What a job asks of the machine or cluster it runs on, from what Snakemake knows of it."""

from __future__ import annotations

from pathlib import Path

from ..model.superrun_plugins import SuperrunPlugin, memory_estimate_mb

__all__ = ["memory_estimate_for_paths"]


def memory_estimate_for_paths(plugin: SuperrunPlugin, paths) -> int:
    """:func:`~superruns.model.superrun_plugins.memory_estimate_mb` of the input files at
    ``paths``; files not there yet (a dry run, before Snakemake built them) count as empty."""
    from ..storage import DataFile  # here: planning a workflow reads no data file

    return memory_estimate_mb(plugin, [DataFile(p) for p in paths if Path(p).exists()])
