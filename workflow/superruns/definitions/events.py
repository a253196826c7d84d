"""Events to time windows: an events file (``.npy`` or ``.csv``) → merged windows per run.

Each event ``[time, endtime)`` (or ``time + length * dt``) must lie inside its run; its window
is widened by ``pad_ns`` on both sides, clipped to the run, and overlapping or touching
windows of one run are merged. Problems are ``ValueError``s saying what is wrong with which
row; the caller adds the file, superrun and fix.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..intervals import merge_spans
from ..names import is_superrun_id
from ..runs import Run, RunRegistry
from ..times import format_ns

__all__ = ["events_to_windows", "read_events"]

_INT_COLUMNS = ("time", "endtime", "length", "dt")


def events_to_windows(events: np.ndarray, runs: RunRegistry, *, from_run: str | None = None,
                      pad_ns: int = 0, where: str = "events") -> dict[str, list[tuple[int, int]]]:
    """Merged, padded event windows per run: ``{run_id: [(start, end), ...]}``, time order.

    ``events`` is a record array with ``time`` and ``endtime`` (or ``length`` and ``dt``) and
    ``run_id`` (unless ``from_run``). Each event must lie inside its run; its window
    ``[time - pad_ns, end + pad_ns)`` is clipped to the run, and overlapping or touching
    windows are merged. Raises ``ValueError`` with the reason (callers add the context).
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise ValueError(f"{where}: not a record array with named columns")
    time, end, run_ids = _event_columns(events, where)
    if len(events) == 0:
        raise ValueError(f"{where}: holds no events")
    run_ids = _run_of_each_event(run_ids, from_run, len(time), where)
    bad = np.flatnonzero(end < time)
    if len(bad):
        raise ValueError(f"{where}: row {bad[0]} ends ({end[bad[0]]}) before it starts ({time[bad[0]]})")
    out: dict[str, list[tuple[int, int]]] = {}
    uniq, inverse = np.unique(run_ids.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    for k, run_id in enumerate(uniq.tolist()):
        rows = order[bounds[k]:bounds[k + 1]]
        run = _run_of_rows(run_id, rows, runs, where)
        out[run_id] = _run_windows(run, rows, time, end, pad_ns, where)
    return dict(sorted(out.items(), key=lambda kv: kv[1][0][0]))


def _int_column(arr: np.ndarray, name: str, where: str) -> np.ndarray:
    column = np.asarray(arr[name])
    if column.dtype.kind not in "iu":
        raise ValueError(f"{where}: column {name!r} holds {column.dtype}, not int ns")
    return column.astype(np.int64)


def _event_columns(arr: np.ndarray, where: str):
    """``(time, end, run_ids or None)`` of a record array of events."""
    names = arr.dtype.names or ()
    if "time" not in names:
        raise ValueError(f"{where}: no 'time' column (columns: {', '.join(names) or 'none'})")
    time = _int_column(arr, "time", where)
    if "endtime" in names:
        end = _int_column(arr, "endtime", where)
    elif "length" in names and "dt" in names:
        end = time + arr["length"].astype(np.int64) * arr["dt"].astype(np.int64)
    else:
        raise ValueError(f"{where}: neither an 'endtime' column nor 'length' and 'dt' columns "
                         f"(columns: {', '.join(names)})")
    run_ids = None
    if "run_id" in names:
        col = np.asarray(arr["run_id"])
        if col.dtype.kind == "S":
            run_ids = np.char.decode(col, "ascii")
        elif col.dtype.kind == "U":
            run_ids = col
        else:
            raise ValueError(f"{where}: column 'run_id' holds {col.dtype}, not strings; store the "
                             f"run ids as strings exactly as in runs.yaml (e.g. '000001')")
    return time, end, run_ids


def _run_of_each_event(run_ids, from_run: str | None, n: int, where: str) -> np.ndarray:
    """The run id of every row: the column, checked against ``from_run`` when both are given."""
    if from_run is not None:
        if run_ids is not None:
            bad = np.flatnonzero(run_ids != from_run)
            if len(bad):
                raise ValueError(f"{where}: row {bad[0]} has run_id {run_ids[bad[0]]!r} but "
                                 f"from_run is {from_run!r}")
        return np.full(n, from_run, dtype=object)
    if run_ids is None:
        raise ValueError(f"{where}: no 'run_id' column and no from_run")
    return run_ids


def _run_of_rows(run_id: str, rows: np.ndarray, runs: RunRegistry, where: str) -> Run:
    if is_superrun_id(run_id):
        raise ValueError(f"{where}: row {rows[0]} names superrun {run_id!r}; events belong to "
                         f"regular runs")
    if run_id not in runs:
        raise ValueError(f"{where}: row {rows[0]} names run {run_id!r}, which is not in the "
                         f"run registry ({runs.source})")
    return runs[run_id]


def _run_windows(run: Run, rows: np.ndarray, time: np.ndarray, end: np.ndarray, pad_ns: int,
                 where: str) -> list[tuple[int, int]]:
    """The merged windows of one run's events (``rows``), each inside the run."""
    t, e = time[rows], end[rows]
    outside = np.flatnonzero((t < run.start) | (e > run.end))
    if len(outside):
        i = rows[outside[0]]
        raise ValueError(f"{where}: row {i} [{time[i]}, {end[i]}) is outside its run {run.run_id!r} "
                         f"[{run.start}, {run.end}) = [{format_ns(run.start)}, "
                         f"{format_ns(run.end)})")
    s = np.maximum(t - pad_ns, run.start)
    e = np.minimum(e + pad_ns, run.end)
    empty = np.flatnonzero(e <= s)
    if len(empty):
        raise ValueError(f"{where}: row {rows[empty[0]]} has zero duration and pad_ns is 0, so "
                         f"its window holds nothing; set pad_ns > 0")
    return [(start, stop) for start, stop in merge_spans(zip(s.tolist(), e.tolist()))]


# --------------------------------------------------------------------------------------
# events files


def read_events(path: Path) -> np.ndarray:
    """A .npy record array, or a .csv file with a header row, as a record array."""
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.dtype.names is None:
            raise ValueError(f"{path}: holds a plain {arr.dtype} array, not a record array with "
                             f"columns time, endtime (or length, dt) and run_id")
        return arr
    return _csv_record_array(path, _read_csv_columns(path))


def _read_csv_columns(path: Path) -> dict[str, list[str]]:
    """Column name → its values as text (blank and ``#`` lines skipped)."""
    with open(path, newline="") as stream:
        lines = (line for line in stream if line.strip() and not line.lstrip().startswith("#"))
        reader = csv.reader(lines)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty; it needs a header row (time,endtime,run_id)")
        header = [h.strip() for h in header]
        cols: dict[str, list[str]] = {h: [] for h in header}
        for lineno, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise ValueError(f"{path}: data row {lineno - 1} has {len(row)} fields, the header "
                                 f"{len(header)}")
            for h, v in zip(header, row):
                cols[h].append(v.strip())
    return cols


def _csv_record_array(path: Path, cols: dict[str, list[str]]) -> np.ndarray:
    """The known columns of a CSV file as a record array (ints as int64, run ids as str)."""
    fields, data = [], []
    for h, values in cols.items():
        if h == "run_id":
            arr = np.array(values, dtype=str)
        elif h in _INT_COLUMNS:
            try:
                arr = np.array([int(v) for v in values], dtype=np.int64)
            except ValueError:
                bad = next(i for i, v in enumerate(values) if not v.lstrip("+-").isdigit())
                raise ValueError(f"{path}: data row {bad + 1}, column {h!r}: {values[bad]!r} is "
                                 f"not an integer (ns)") from None
        else:
            continue
        fields.append((h, arr.dtype))
        data.append(arr)
    out = np.empty(len(data[0]) if data else 0, dtype=fields)
    for (h, _), arr in zip(fields, data):
        out[h] = arr
    return out
