"""Event selections: the events of a run or superrun that pass simple cuts, as an events file.

A selection is configured in ``config.yaml``::

    selections:
      lowE:
        source: _sr1_v0.2          # run or superrun whose events are scanned
        data_type: event_info
        cuts: {s1_area: [null, 60]}   # field: [min, max), null for no bound

and written by the workflow to ``{data_dir}/selections/{name}.npy`` (time, endtime, run_id),
which a superrun's ``events:`` can name: the minimum-bias use case, built by Snakemake.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..base.atomic import atomic_open
from ..base.errors import SuperrunsError
from ..storage import layout

if TYPE_CHECKING:
    from ..project import Project

class SelectionError(SuperrunsError, ValueError):
    """A selection cannot be made as configured; the message names it and the fix."""


EVENTS_DTYPE = np.dtype([("time", "<i8"), ("endtime", "<i8"), ("run_id", "<U32")])


def selection_path(project: Project, name: str) -> Path:
    return layout.selection_path(project.data_dir, name)


def passes_cuts(rows: np.ndarray, cuts: dict, where: str) -> np.ndarray:
    keep = np.ones(len(rows), dtype=bool)
    for field, (low, high) in cuts.items():
        if field not in (rows.dtype.names or ()):
            raise SelectionError(f"{where}: cut on {field!r}, which the data do not have; "
                             f"fields: {', '.join(rows.dtype.names)}")
        values = rows[field]
        if low is not None:
            keep &= values >= low
        if high is not None:
            keep &= values < high
    return keep


def leaf_run_of(project: Project, source: str, times: np.ndarray) -> np.ndarray:
    """The regular run each time belongs to, from the source's segments."""
    if not project.is_superrun(source):
        return np.full(len(times), source, dtype=EVENTS_DTYPE["run_id"])
    segments = project.definitions.segments(source)
    starts = np.array([s.start for s in segments], dtype=np.int64)
    index = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, len(segments) - 1)
    return np.array([s.run_id for s in segments], dtype=EVENTS_DTYPE["run_id"])[index]


def select_events(project: Project, name: str, source_file: str | Path) -> np.ndarray:
    """The events of ``source_file`` (the selection's source: its run or superrun's data type,
    checked to be what the selection names) that pass the selection's cuts."""
    from ..base import kernels  # here: planning a workflow (selection_path) needs neither
    from ..storage import DataFile
    from ..storage.freshness import require_current
    from ..storage.identity import check_identity

    spec = project.config["selections"][name]
    where = f"selection {name!r} (config.yaml, selections)"
    source, data_type = spec["source"], spec.get("data_type", "event_info")
    data = DataFile(source_file)
    check_identity(data, source, data_type, project.lineage_hash(source, data_type), reader="job")
    require_current(project, source, data_type, data)
    rows = data.load()
    selected = rows[passes_cuts(rows, spec.get("cuts") or {}, where)]
    events = np.zeros(len(selected), dtype=EVENTS_DTYPE)
    events["time"] = selected["time"]
    events["endtime"] = kernels.endtime(selected)
    events["run_id"] = leaf_run_of(project, source, events["time"])
    return events


def write_selection(project: Project, name: str, source_file: str | Path, output: Path) -> int:
    """Write the events of ``source_file`` that pass selection ``name`` to ``output``
    (atomically); return how many there are."""
    events = select_events(project, name, source_file)
    if not len(events):
        raise SelectionError(f"Selection {name!r} selects no events from {project.config['selections'][name]['source']}: "
                         "loosen its cuts, or remove the superruns that use it.")
    with atomic_open(output, "wb") as stream:     # np.save to a path would append ".npy"
        np.save(stream, events)
    return len(events)
