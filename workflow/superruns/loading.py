"""Loading runs and superruns: one data type, or several of one kind merged column-wise."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .errors import SuperrunsError
from .identity import CURRENT, check_identity, check_name, wanted_lineage_hash
from .storage import DataFile
from .times import INT64_MAX, parse_time_ns

TIME_FIELDS = ("time", "endtime", "length", "dt")


class LoadError(SuperrunsError, ValueError):
    """The request cannot be served; the message says what to build or change."""


def as_data_types(data_types) -> list[str]:
    if isinstance(data_types, str):
        return [data_types]
    if data_types is None or not isinstance(data_types, (list, tuple)) or \
            not all(isinstance(d, str) for d in data_types):
        raise LoadError(f"data_types={data_types!r}: give a data type (a string such as "
                        "'event_info') or a list of data types of one kind.")
    data_types = list(dict.fromkeys(data_types))
    if not data_types:
        raise LoadError("No data type asked for: give a data type or a list of data types of one kind.")
    return data_types


def as_time_range(time_range) -> tuple[int, int] | None:
    """``(start, end)`` in int ns from ints, ISO-8601 strings or datetimes; None at either end
    leaves that end open."""
    if time_range is None:
        return None
    if isinstance(time_range, (str, bytes)) or not hasattr(time_range, "__len__") or len(time_range) != 2:
        raise LoadError(f"time_range={time_range!r}: give (start, end), each int ns since 1970, "
                        "an ISO-8601 time such as '2019-01-03T10:00:00Z' or None (open end).")
    bounds = []
    for value, open_end, name in zip(time_range, (0, INT64_MAX), ("start", "end")):
        try:
            bounds.append(open_end if value is None else parse_time_ns(value))
        except ValueError as error:
            raise LoadError(f"time_range {name}: {error}.") from None
    if bounds[0] > bounds[1]:
        raise LoadError(f"time_range={time_range!r}: start after end.")
    return bounds[0], bounds[1]


def open_files(project, run_id: str, data_types: list[str], lineage: str | None = CURRENT) -> list[DataFile]:
    """The files of ``run_id``'s ``data_types``, each checked to be what was asked for (its
    run, data type and lineage: see :mod:`superruns.identity`)."""
    files = []
    for data_type in data_types:
        check_name(project, run_id, data_type)
        path = project.path(run_id, data_type)
        if not path.exists():
            project.check_known(run_id)
            raise LoadError(f"No {data_type} for {run_id}: {path} does not exist. Build it with "
                            f"`snakemake --cores all {run_id}/{data_type}`.")
        wanted = wanted_lineage_hash(project, run_id, data_type, lineage)
        data = DataFile(path)
        check_identity(data, run_id, data_type, wanted, reader="load")
        files.append(data)
    kinds = {f.metadata["data_kind"] for f in files}
    if len(kinds) > 1:
        listing = ", ".join(f"{f.path} ({f.metadata['data_kind']})" for f in files)
        raise LoadError(f"Cannot load {listing} of {run_id} together: they are of different data kinds. "
                        "Load each kind separately.")
    return files


def merged_dtype(dtypes: list[np.dtype]) -> np.dtype:
    """The fields of every dtype, each name once, in order of first appearance."""
    fields, seen = [], set()
    for dtype in dtypes:
        for entry in dtype.descr:
            name = entry[0][1] if isinstance(entry[0], tuple) else entry[0]
            if name == "" or name in seen:
                continue
            seen.add(name)
            fields.append(entry)
    return np.dtype(fields)


def merge_columns(arrays: list[np.ndarray], names: list[str], run_id: str) -> np.ndarray:
    """Rows of one kind from several data types, merged column-wise into one array."""
    if len(arrays) == 1:
        return arrays[0]
    reference = arrays[0]
    for array, name in zip(arrays[1:], names[1:]):
        if len(array) != len(reference) or not np.array_equal(array["time"], reference["time"]):
            raise LoadError(f"{run_id}: {name} and {names[0]} do not hold the same rows "
                            f"({len(array)} vs {len(reference)}), so they cannot be merged. "
                            "Rebuild them from the same inputs.")
    result = np.empty(len(reference), dtype=merged_dtype([a.dtype for a in arrays]))
    for array in arrays:
        for name in array.dtype.names:
            if name and name in result.dtype.names:
                result[name] = array[name]
    return result


def load(project, run_id: str, data_types: str | Sequence[str], time_range=None,
         lineage: str | None = CURRENT) -> np.ndarray:
    names = as_data_types(data_types)
    time_range = as_time_range(time_range)
    files = open_files(project, run_id, names, lineage)
    return merge_columns([f.load(time_range=time_range) for f in files], names, run_id)


def iter_chunks(project, run_id: str, data_types: str | Sequence[str], time_range=None,
                lineage: str | None = CURRENT) -> Iterator[np.ndarray]:
    """Rows chunk by chunk; several data types of one kind are merged per chunk (they share
    chunk boundaries when built by this workflow). The request is checked at once, before the
    first chunk is asked for."""
    names = as_data_types(data_types)
    time_range = as_time_range(time_range)
    files = open_files(project, run_id, names, lineage)
    return _chunks(files, names, run_id, time_range)


def _chunks(files: list[DataFile], names: list[str], run_id: str, time_range) -> Iterator[np.ndarray]:
    boundaries = [[(c.start, c.end) for c in f.chunks] for f in files]
    if any(b != boundaries[0] for b in boundaries[1:]):
        raise LoadError(f"{run_id}: {', '.join(names)} have different chunk boundaries; "
                        "load them whole with superruns.load instead.")
    iterators = [f.iter_chunks(time_range=time_range) for f in files]
    for chunks in zip(*iterators):
        yield merge_columns([c.rows for c in chunks], names, run_id)

