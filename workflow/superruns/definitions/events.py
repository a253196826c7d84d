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

from ..base.files import check_regular
from ..base.intervals import merge_span_arrays
from ..base.names import is_superrun_id
from ..base.times import INT64_MAX, format_ns
from ..model.runs import Run, RunRegistry

__all__ = ["events_to_window_arrays", "events_to_windows", "read_events"]

_INT_COLUMNS = ("time", "endtime", "length", "dt")


def events_to_windows(events: np.ndarray, runs: RunRegistry, *, from_run: str | None = None,
                      pad_ns: int = 0, where: str = "events") -> dict[str, list[tuple[int, int]]]:
    """:func:`events_to_window_arrays` with each run's windows as a list of ``(start, end)``."""
    arrays = events_to_window_arrays(events, runs, from_run=from_run, pad_ns=pad_ns, where=where)
    return {run_id: list(map(tuple, windows.tolist())) for run_id, windows in arrays.items()}


def events_to_window_arrays(events: np.ndarray, runs: RunRegistry, *, from_run: str | None = None,
                            pad_ns: int = 0, where: str = "events") -> dict[str, np.ndarray]:
    """Merged, padded event windows per run: ``{run_id: (n, 2) int64 array}``, time order.

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
    out: dict[str, np.ndarray] = {}
    uniq, inverse = np.unique(run_ids.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    for k, run_id in enumerate(uniq.tolist()):
        rows = order[bounds[k]:bounds[k + 1]]
        run = _run_of_rows(run_id, rows, runs, where)
        out[run_id] = _run_windows(run, rows, time, end, pad_ns, where)
    return dict(sorted(out.items(), key=lambda kv: int(kv[1][0, 0])))


def _int_column(arr: np.ndarray, name: str, where: str) -> np.ndarray:
    """Column ``name`` as int64 ns, refusing floats (naming the first row that is NaN,
    infinite or not whole), subarrays, bools and values past int64."""
    column = np.asarray(arr[name])
    if column.ndim != 1:
        raise ValueError(f"{where}: column {name!r} holds {column.shape[1:]}-shaped values per "
                         f"row, not one int ns")
    kind = column.dtype.kind
    if kind == "f":
        raise ValueError(f"{where}: {_float_problem(column, name)}")
    if kind not in "iu":
        raise ValueError(f"{where}: column {name!r} holds {column.dtype}, not int ns")
    if kind == "u" and len(column) and column.max() > INT64_MAX:
        row = int(np.argmax(column > INT64_MAX))
        raise ValueError(f"{where}: row {row}, column {name!r}: {column[row]} is past 2**63-1 ns")
    return column.astype(np.int64)


def _float_problem(column: np.ndarray, name: str) -> str:
    """Why a float column is refused, naming the first bad row."""
    nan, inf = np.isnan(column), np.isinf(column)
    whole = np.zeros(len(column), bool)
    whole[~(nan | inf)] = column[~(nan | inf)] == np.floor(column[~(nan | inf)])
    for mask, what in ((nan, "is NaN (a missing value)"), (inf, "is infinite"),
                       (~whole, "is not a whole number")):
        if mask.any():
            row = int(np.argmax(mask))
            return (f"row {row}, column {name!r}: {float(column[row])!r} {what}; times and lengths "
                    f"are int ns: store the column as int64")
    return (f"column {name!r} holds {column.dtype}, not int ns (floats lose precision past "
            f"2**53 ns, about 104 days after the epoch): store it as int64")


def _event_columns(arr: np.ndarray, where: str):
    """``(time, end, run_ids or None)`` of a record array of events."""
    names = arr.dtype.names or ()
    if arr.ndim != 1:
        raise ValueError(f"{where}: a {arr.ndim}-dimensional array of shape {arr.shape}; events "
                         f"are a one-dimensional record array, one row per event")
    if "time" not in names:
        raise ValueError(f"{where}: no 'time' column (columns: {', '.join(names) or 'none'})")
    time = _int_column(arr, "time", where)
    if "endtime" in names:
        end = _int_column(arr, "endtime", where)
    elif "length" in names and "dt" in names:
        end = _end_from_length(time, _int_column(arr, "length", where),
                               _int_column(arr, "dt", where), where)
    else:
        raise ValueError(f"{where}: neither an 'endtime' column nor 'length' and 'dt' columns "
                         f"(columns: {', '.join(names)})")
    return time, end, _run_id_column(arr, names, where)


def _end_from_length(time: np.ndarray, length: np.ndarray, dt: np.ndarray, where: str
                     ) -> np.ndarray:
    """``time + length * dt``, refusing negative values and sums past int64."""
    for name, column in (("length", length), ("dt", dt)):
        bad = np.flatnonzero(column < (1 if name == "dt" else 0))
        if len(bad):
            raise ValueError(f"{where}: row {bad[0]}, column {name!r}: {column[bad[0]]} is "
                             f"{'not > 0' if name == 'dt' else 'negative'}")
    room = (INT64_MAX - np.maximum(time, 0)) // dt
    bad = np.flatnonzero(length > room)
    if len(bad):
        raise ValueError(f"{where}: row {bad[0]}: time + length * dt is past 2**63-1 ns")
    return time + length * dt


def _run_id_column(arr: np.ndarray, names: tuple, where: str) -> np.ndarray | None:
    """The ``run_id`` column as str, or None; bytes must be ASCII."""
    if "run_id" not in names:
        return None
    col = np.asarray(arr["run_id"])
    if col.ndim != 1:
        raise ValueError(f"{where}: column 'run_id' holds {col.shape[1:]}-shaped values per row")
    if col.dtype.kind == "S":
        try:
            return np.char.decode(col, "ascii")
        except UnicodeDecodeError:
            row = next(i for i, v in enumerate(col.tolist()) if not v.isascii())
            raise ValueError(f"{where}: row {row}, column 'run_id': {bytes(col[row])!r} is not ASCII; "
                             f"run ids are letters, digits, '_' and '.'") from None
    if col.dtype.kind == "U":
        return col
    raise ValueError(f"{where}: column 'run_id' holds {col.dtype}, not strings; store the "
                     f"run ids as strings exactly as in runs.yaml (e.g. '000001')")


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
                 where: str) -> np.ndarray:
    """The merged windows of one run's events (``rows``), each inside the run."""
    t, e = time[rows], end[rows]
    outside = np.flatnonzero((t < run.start) | (e > run.end))
    if len(outside):
        i = rows[outside[0]]
        raise ValueError(f"{where}: row {i} [{time[i]}, {end[i]}) is outside its run {run.run_id!r} "
                         f"[{run.start}, {run.end}) = [{format_ns(run.start)}, "
                         f"{format_ns(run.end)})")
    pad = min(pad_ns, run.end - run.start)  # more would be clipped anyway; no int64 overflow
    s = np.where(t < run.start + pad, run.start, t - pad)
    e = np.where(e > run.end - pad, run.end, e + pad)
    empty = np.flatnonzero(e <= s)
    if len(empty):
        raise ValueError(f"{where}: row {rows[empty[0]]} has zero duration and pad_ns is 0, so "
                         f"its window holds nothing; set pad_ns > 0")
    return np.stack(merge_span_arrays(s, e), axis=1)


# --------------------------------------------------------------------------------------
# events files


def read_events(path: Path) -> np.ndarray:
    """A .npy record array, or a .csv file with a header row, as a record array.

    Problems are ``ValueError`` naming ``path`` (and the row and column where there is one).
    """
    check_regular(path, "an events file")  # a FIFO would hang the read
    if path.suffix.lower() == ".npy":
        with open(path, "rb") as stream:
            if stream.read(6) != b"\x93NUMPY":
                raise ValueError(f"{path}: not a .npy file (it does not start with numpy's "
                                 f"header); save the events with numpy.save, or name a CSV "
                                 f"file *.csv")
        try:
            arr = np.load(path, allow_pickle=False)
        except ValueError as exc:  # objects (pickles), a damaged header, not a .npy file
            raise ValueError(f"{path}: not a readable .npy array of plain values ({exc}); save "
                             f"a record array with numpy.save (no object columns)") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.names is None:
            raise ValueError(f"{path}: holds a plain {getattr(arr, 'dtype', type(arr))} array, "
                             f"not a record array with columns time, endtime (or length, dt) "
                             f"and run_id")
        return arr
    return _csv_record_array(path, _read_csv_columns(path))


def _read_csv_columns(path: Path) -> dict[str, list[str]]:
    """Column name → its values as text (blank and ``#`` lines skipped)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            return _csv_columns(path, stream)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save the "
                         f"file as UTF-8 (or ASCII) CSV") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not a valid CSV file ({exc})") from None


def _csv_columns(path: Path, stream) -> dict[str, list[str]]:
    lines = (line for line in stream if line.strip() and not line.lstrip().startswith("#"))
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise ValueError(f"{path}: empty; it needs a header row (time,endtime,run_id)")
    header = [h.strip() for h in header]
    for i, h in enumerate(header):
        if not h:
            raise ValueError(f"{path}: header column {i + 1} has no name; name every column")
        if h in header[:i]:
            raise ValueError(f"{path}: header names column {h!r} twice (columns "
                             f"{header.index(h) + 1} and {i + 1}); keep one")
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
            arr = _csv_int_column(path, h, values)
        else:
            continue
        fields.append((h, arr.dtype))
        data.append(arr)
    out = np.empty(len(data[0]) if data else 0, dtype=fields)
    for (h, _), arr in zip(fields, data):
        out[h] = arr
    return out


def _csv_int_column(path: Path, name: str, values: list[str]) -> np.ndarray:
    """One CSV column of int ns; the first value that is not one is named with its row."""
    for i, v in enumerate(values):
        text = v.replace("_", "")
        if not (text.lstrip("+-").isdigit() and text.isascii()):
            what = ("is NaN (a missing value)" if v.lower().lstrip("+-") == "nan"
                    else "is empty" if not v else "is not an integer (ns)")
            raise ValueError(f"{path}: data row {i + 1}, column {name!r}: {v[:40]!r} {what}")
        if not -INT64_MAX - 1 <= int(text) <= INT64_MAX:
            raise ValueError(f"{path}: data row {i + 1}, column {name!r}: {v[:40]} is past "
                             f"the int64 range of ns")
    return np.array([int(v.replace("_", "")) for v in values], dtype=np.int64)
