"""numba kernels for the row work of building and loading superruns.

All kernels take plain numpy arrays (``time`` and ``endtime`` as int64) so that numba
compiles them once per signature, cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np

from .errors import SuperrunsError


class RowsError(SuperrunsError, ValueError):
    """Rows lack what a kernel needs (e.g. fields that give an end time)."""


def endtime(rows: np.ndarray) -> np.ndarray:
    """Exclusive end time (ns) of each row: its ``endtime`` field, else ``time + length * dt``."""
    names = rows.dtype.names or ()
    if "endtime" in names:
        return np.asarray(rows["endtime"], dtype=np.int64)
    if "length" in names and "dt" in names:
        return rows["time"].astype(np.int64) + rows["length"].astype(np.int64) * rows["dt"].astype(np.int64)
    raise RowsError("Rows need an 'endtime' field, or 'length' and 'dt' fields, to have an end time "
                     f"(fields: {', '.join(names) or 'none'})")


@numba.njit(cache=True, nogil=True)
def _assign_to_ranges(time, end, starts, stops, touching):
    """The range each row belongs to, else -1: one pass over rows sorted by time and disjoint
    ranges sorted by start."""
    which = np.full(time.size, -1, dtype=np.int64)
    j = 0
    n_ranges = starts.size
    for i in range(time.size):
        t = time[i]
        # The only range that can contain (or be the first to touch) this row is the first
        # one that ends after the row starts; later rows start no earlier, so j never goes back.
        while j < n_ranges and stops[j] <= t:
            j += 1
        if j == n_ranges:
            break
        if touching:
            keep = starts[j] < end[i] or (starts[j] <= t and end[i] == t)
        else:
            keep = starts[j] <= t and end[i] <= stops[j]
        if keep:
            which[i] = j
    return which


def assign_to_ranges(time: np.ndarray, end: np.ndarray, starts: np.ndarray, stops: np.ndarray, *,
                     touching: bool = False) -> np.ndarray:
    """For rows sorted by time (``time``, exclusive ``end``) and sorted, disjoint ranges
    ``[starts, stops)``: the index of the range each row belongs to, or -1 (the rule of
    :func:`select_in_ranges`; a row overlapping several ranges belongs to the first). One pass,
    O(rows + ranges), so all the ranges of one frame cost one call."""
    return _assign_to_ranges(np.ascontiguousarray(time, dtype=np.int64), np.ascontiguousarray(end, dtype=np.int64),
                             np.ascontiguousarray(starts, dtype=np.int64),
                             np.ascontiguousarray(stops, dtype=np.int64), touching)


def select_in_ranges(rows: np.ndarray, ranges, *, touching: bool = False) -> np.ndarray:
    """Boolean mask of the rows that belong to any of the sorted, disjoint ``ranges``.

    A row ``[time, endtime)`` belongs to a range ``[start, stop)`` when it lies fully inside
    it (strax's containment), or, with ``touching=True``, when it overlaps it (a zero-length
    row overlaps the range that contains its time). Rows must be sorted by time.
    """
    ranges = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
    return assign_to_ranges(rows["time"], endtime(rows), ranges[:, 0], ranges[:, 1], touching=touching) >= 0


def first_unsorted_row(rows: np.ndarray) -> int:
    """Index of the first row whose time is earlier than the previous row's, or -1.

    Plain numpy on purpose: this check runs in every job, and the first call of any numba
    function costs a process ~0.4 s of numba start-up even with a warm cache; a superrun
    job that cuts nothing then never starts numba at all.
    """
    time = rows["time"]
    bad = np.flatnonzero(time[1:] < time[:-1])
    return int(bad[0]) + 1 if bad.size else -1
