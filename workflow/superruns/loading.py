"""Loading runs and superruns: one data type, or several of one kind merged column-wise."""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from .errors import SuperrunsError
from .storage import DataFile

TIME_FIELDS = ("time", "endtime", "length", "dt")


class LoadError(SuperrunsError, ValueError):
    """The request cannot be served; the message says what to build or change."""


def as_data_types(data_types: str | Sequence[str]) -> list[str]:
    if isinstance(data_types, str):
        return [data_types]
    data_types = list(dict.fromkeys(data_types))
    if not data_types:
        raise LoadError("No data type asked for: give a data type or a list of data types of one kind.")
    return data_types


def open_files(project, run_id: str, data_types: list[str]) -> list[DataFile]:
    files = []
    for data_type in data_types:
        path = project.path(run_id, data_type)
        if not path.exists():
            if data_type not in project.registry:      # say what is wrong, not "build it"
                raise LoadError(f"Unknown data type {data_type!r} (no file {path}): no plugin of "
                                f"{', '.join(project.config['plugins'])} provides it; the registry "
                                f"knows {', '.join(sorted(project.registry))}.")
            project.check_known(run_id)
            raise LoadError(f"No {data_type} for {run_id}: {path} does not exist. Build it with "
                            f"`snakemake --cores all {run_id}/{data_type}`.")
        files.append(DataFile(path))
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


def load(project, run_id: str, data_types: str | Sequence[str], time_range=None) -> np.ndarray:
    names = as_data_types(data_types)
    files = open_files(project, run_id, names)
    return merge_columns([f.load(time_range=time_range) for f in files], names, run_id)


def iter_chunks(project, run_id: str, data_types: str | Sequence[str], time_range=None) -> Iterator[np.ndarray]:
    """Rows chunk by chunk; several data types of one kind are merged per chunk (they share
    chunk boundaries when built by this workflow)."""
    names = as_data_types(data_types)
    files = open_files(project, run_id, names)
    boundaries = [[(c.start, c.end) for c in f.chunks] for f in files]
    if any(b != boundaries[0] for b in boundaries[1:]):
        raise LoadError(f"{run_id}: {', '.join(names)} have different chunk boundaries; "
                        "load them whole with superruns.load instead.")
    iterators = [f.iter_chunks(time_range=time_range) for f in files]
    for chunks in zip(*iterators):
        yield merge_columns([c.rows for c in chunks], names, run_id)

