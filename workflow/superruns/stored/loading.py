"""Loading runs and superruns: one data type, or several of one kind merged column-wise."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from ..base.errors import SuperrunsError
from ..base.times import INT64_MAX, parse_time_ns
from ..storage import DataFile
from ..storage.identity import ANY, CURRENT, check_identity, check_name, wanted_lineage_hash

if TYPE_CHECKING:
    from ..project import Project

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


def locate(project: Project, run_id: str, data_type: str, lineage: str | None = CURRENT):
    """``(path, lineage hash the file must hold or None)`` of the version of ``run_id``'s
    ``data_type`` that ``lineage`` asks for (:mod:`superruns.storage.layout`: one file per lineage);
    ``"any"`` takes the current version if stored, else the only one stored."""
    check_name(project, run_id, data_type)
    wanted = wanted_lineage_hash(project, run_id, data_type, lineage)
    if wanted is not None:
        return project.path(run_id, data_type, wanted), wanted
    versions = project.stored_versions(run_id, data_type)
    current = _current_or_none(project, run_id, data_type)
    if current in versions:
        return versions[current], None
    if len(versions) > 1:
        raise LoadError(f"{run_id}/{data_type} is stored in {len(versions)} lineages "
                        f"({', '.join(sorted(versions))}), none the configuration's: give one "
                        "with lineage=HASH.")
    if not versions:
        project.check_known(run_id)
        raise LoadError(f"No {data_type} for {run_id} in any lineage (nothing in "
                        f"{project.data_dir / run_id}). Build it with `snakemake --cores all "
                        f"{run_id}/{data_type}` or superruns.make.")
    return next(iter(versions.values())), None


def _current_or_none(project: Project, run_id: str, data_type: str) -> str | None:
    try:
        return project.lineage_hash(run_id, data_type)
    except SuperrunsError:
        return None


def missing_message(project: Project, run_id: str, data_type: str, path) -> str:
    versions = sorted(project.stored_versions(run_id, data_type))
    others = (f" Stored in other lineages: {', '.join(versions)} (read one with lineage=HASH)."
              if versions else "")
    where = project.remote.url(path) if project.remote is not None else path
    return (f"No {data_type} for {run_id}: {where} does not exist. Build it with "
            f"`snakemake --cores all {run_id}/{data_type}` or superruns.make.{others}")


def open_files(project: Project, run_id: str, data_types: list[str], lineage: str | None = CURRENT,
               allow_stale: bool = False) -> list[DataFile]:
    """The files of ``run_id``'s ``data_types``, each checked to be what was asked for (its
    run, data type and lineage: see :mod:`superruns.storage.identity`) and, unless read on
    purpose (``allow_stale``, or a ``lineage`` other than the current one), to be current
    (:mod:`superruns.storage.freshness`: a stale file names the command that rebuilds it)."""
    from ..storage.freshness import require_current

    files = []
    for data_type in data_types:
        path, wanted = locate(project, run_id, data_type, lineage)
        if not project.data_exists(path):
            project.check_known(run_id)
            raise LoadError(missing_message(project, run_id, data_type, path))
        data = project.open_data(path)
        check_identity(data, run_id, data_type, wanted, reader="load")
        if lineage in (None, CURRENT) and not allow_stale:
            require_current(project, run_id, data_type, data, reader="load")
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


def load(project: Project, run_id: str | Sequence[str], data_types: str | Sequence[str], time_range=None,
         lineage: str | None = CURRENT, as_frame: bool = False, allow_stale: bool = False):
    """Rows of one run or superrun; of several (a list of names) concatenated in the order
    given, with a first field ``run_id`` (as strax's ``get_array`` of several runs). Every
    file is checked before any is read (stale ones refused unless ``allow_stale``).
    ``as_frame``: a pandas DataFrame."""
    names = as_data_types(data_types)
    time_range = as_time_range(time_range)
    if isinstance(run_id, str):
        files = open_files(project, run_id, names, lineage, allow_stale)
        rows = merge_columns([f.load(time_range=time_range) for f in files], names, run_id)
    else:
        run_ids = as_run_ids(run_id)
        opened = [open_files(project, r, names, lineage, allow_stale) for r in run_ids]
        rows = with_run_ids([merge_columns([f.load(time_range=time_range) for f in files], names, r)
                             for r, files in zip(run_ids, opened)], run_ids)
    return as_data_frame(rows, names) if as_frame else rows


def as_run_ids(run_ids) -> list[str]:
    if not isinstance(run_ids, (list, tuple)) or not run_ids or \
            not all(isinstance(r, str) for r in run_ids):
        raise LoadError(f"run_id={run_ids!r}: give a run or superrun name, or a non-empty list of them.")
    if len(set(run_ids)) != len(run_ids):
        raise LoadError(f"run_id={run_ids!r}: a run is named twice; name each once.")
    return list(run_ids)


def with_run_ids(arrays: list[np.ndarray], run_ids: list[str]) -> np.ndarray:
    """The runs' rows concatenated, a first field ``run_id`` (``<U{longest}``) saying whose."""
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise LoadError(f"runs {', '.join(run_ids)} hold rows of different dtypes (other plugin "
                        "versions?); load them one by one.")
    width = max(len(r) for r in run_ids)
    dtype = np.dtype([("run_id", f"<U{width}")] + arrays[0].dtype.descr)
    result = np.empty(sum(len(a) for a in arrays), dtype=dtype)
    start = 0
    for rows, run_id in zip(arrays, run_ids):
        part = result[start:start + len(rows)]
        part["run_id"] = run_id
        for name in rows.dtype.names:
            part[name] = rows[name]
        start += len(rows)
    return result


def as_data_frame(rows: np.ndarray, names: list[str]):
    """``rows`` as a pandas DataFrame; array fields are refused (as strax's ``get_df``)."""
    try:
        import pandas as pd
    except ImportError:
        raise LoadError("as_frame=True needs pandas, which is not installed: pip install pandas "
                        "(or load without as_frame: a numpy structured array).") from None
    shaped = [n for n in rows.dtype.names if rows.dtype[n].shape]
    if shaped:
        raise LoadError(f"{', '.join(names)} hold array fields ({', '.join(shaped)}), which a DataFrame "
                        "cannot hold as columns: load without as_frame, or a data type without them.")
    return pd.DataFrame.from_records(rows)


def is_stored(project: Project, run_id: str, data_type: str, lineage: str | None = CURRENT,
              allow_stale: bool = False) -> bool:
    """Whether ``run_id``'s ``data_type`` of ``lineage`` (default: the configuration's) is
    stored: its file exists and says it is what was asked for (metadata only); of the current
    lineage, only a current file counts unless ``allow_stale`` (as :func:`load` reads it)."""
    path, wanted = locate(project, run_id, data_type, lineage) if lineage != ANY else (None, None)
    if path is None:
        return bool(project.stored_versions(run_id, data_type))
    try:   # a missing file is a LoadError there (one existence check: a request on remote storage)
        open_files(project, run_id, [data_type], lineage, allow_stale)
    except SuperrunsError:
        return False
    return True


def iter_chunks(project: Project, run_id: str, data_types: str | Sequence[str], time_range=None,
                lineage: str | None = CURRENT, allow_stale: bool = False) -> Iterator[np.ndarray]:
    """Rows chunk by chunk; several data types of one kind are merged per chunk (they share
    chunk boundaries when built by this workflow). The request is checked at once, before the
    first chunk is asked for."""
    names = as_data_types(data_types)
    time_range = as_time_range(time_range)
    files = open_files(project, run_id, names, lineage, allow_stale)
    return _chunks(files, names, run_id, time_range)


def _chunks(files: list[DataFile], names: list[str], run_id: str, time_range) -> Iterator[np.ndarray]:
    boundaries = [[(c.start, c.end) for c in f.chunks] for f in files]
    if any(b != boundaries[0] for b in boundaries[1:]):
        raise LoadError(f"{run_id}: {', '.join(names)} have different chunk boundaries; "
                        "load them whole with superruns.load instead.")
    iterators = [f.iter_chunks(time_range=time_range) for f in files]
    for chunks in zip(*iterators):
        yield merge_columns([c.rows for c in chunks], names, run_id)

