"""Import strax DataDirectory folders as this workflow's files, without reprocessing."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..base.atomic import fsync_directory, write_atomic
from ..storage import DataWriter, dtype_from_metadata, read_metadata
from ..storage.layout import relative_path
from .format import (
    StraxFolder,
    StraxFormatError,
    checked_folder_metadata,
    datetime_to_ns,
    decode_run_document,
    iter_folder_chunks,
    scan_directory,
)

__all__ = ["Imported", "add_runs_to_registry", "import_directory"]


@dataclass(frozen=True)
class Imported:
    run_id: str
    data_type: str
    path: Path
    lineage_hash: str
    n_rows: int
    skipped: bool = False


def _run_selection(folders: list[StraxFolder], runs) -> dict[str, tuple[str, int | None, int | None]]:
    """``{new run id: (strax run id, start, end)}`` from ``runs`` (see :func:`import_directory`)."""
    available = sorted({f.run_id for f in folders if not f.run_id.startswith("_")})
    if runs is None:
        return {r: (r, None, None) for r in available}
    if isinstance(runs, str):
        runs = [runs]
    if isinstance(runs, Mapping):
        selection = {}
        for new_id, source in runs.items():
            if isinstance(source, str):
                selection[str(new_id)] = (source, None, None)
            else:
                strax_id, start, end = source
                if not int(start) < int(end):
                    raise StraxFormatError(f"import of {new_id}: start {start} is not before end {end}")
                selection[str(new_id)] = (str(strax_id), int(start), int(end))
    else:
        selection = {str(r): (str(r), None, None) for r in runs}
    for new_id, (strax_id, _, _) in selection.items():
        if strax_id not in available:
            raise StraxFormatError(f"import of {new_id}: the DataDirectory holds no data of run {strax_id!r} "
                                   f"(it has: {', '.join(available) or 'none'})")
        from ..base.names import run_id_problem

        problem = run_id_problem(new_id)
        if problem:
            raise StraxFormatError(f"import: {problem}")
    return selection


def _clip_chunk(info: dict, rows: np.ndarray, start, end, where: str):
    """The part of a strax chunk inside ``[start, end)``: rows with ``start <= time < end``; a row
    that reaches across a cut is an error (cut between rows, e.g. at a chunk boundary)."""
    if start is None:
        return info["start"], info["end"], rows
    c0, c1 = max(info["start"], start), min(info["end"], end)
    if c0 >= c1:
        return None
    from ..base.kernels import endtime

    ends = endtime(rows)
    times = rows["time"]
    keep = (times >= start) & (times < end)
    crossing = ((times < start) & (ends > start)) | (keep & (ends > end))
    if crossing.any():
        i = int(np.flatnonzero(crossing)[0])
        raise StraxFormatError(f"{where}: row {i} [{times[i]}, {ends[i]}) reaches across the cut at "
                               f"{start if times[i] < start else end}; cut between rows (e.g. at a chunk boundary)")
    # Rows are sorted by time, so the kept ones are one slice (a view: padding bytes kept,
    # which numpy's structured copies would drop).
    i0, i1 = np.searchsorted(times, [start, end], side="left")
    if keep.sum() != i1 - i0:
        raise StraxFormatError(f"{where}: rows are not sorted by time; the strax data are damaged")
    return c0, c1, rows[i0:i1]


def import_directory(strax_dir, data_dir, *, runs=None, data_types=None, runs_file=None,
                     overwrite: bool = False, chunk_target_size_mb: float | None = None) -> list[Imported]:
    """Convert strax ``{run}-{data_type}-{hash}`` folders into ``{data_dir}/{run}/{data_type}-{hash}`` files.

    Nothing is recomputed: the rows are copied chunk by chunk (strax's chunk boundaries kept),
    with strax's lineage and lineage hash, data kind and dtype. ``runs``: None (every regular
    run), a list of strax run ids, or ``{new_run_id: strax_run_id | (strax_run_id, start_ns,
    end_ns)}`` to rename runs or to cut a run into several (rows with ``start <= time < end``;
    a cut must fall between rows). ``data_types``: None (all), a list, or ``{data_type:
    lineage_hash}`` when the directory holds several versions. With ``runs_file`` (a run
    registry, e.g. ``config/runs.yaml``) the runs are added to it: start/end from the strax run
    document (``{run}-metadata.json``, ``$date``) or else from the data; a cut run gets its cut.
    An existing file is kept when it was imported from the same folder and time range, else
    replaced only with ``overwrite``.

    All or nothing: every folder (lineage, codec, what is in the way) is checked first, the
    files are written to a hidden staging folder in ``data_dir``, the registry entries are
    checked, and only then do the files move into place and the runs enter the registry; on any
    error the data directory and the registry are as they were.
    """
    strax_dir, data_dir = Path(strax_dir), Path(data_dir)
    tasks = _plan(strax_dir, runs, data_types, data_dir, overwrite)
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=data_dir))
    try:
        results, spans = [], {new_id: [] for new_id in dict.fromkeys(t.new_id for t in tasks)}
        for task in tasks:
            result = task.skipped or _import_folder(task, staging / task.new_id / task.folder.data_type,
                                                    chunk_target_size_mb)
            results.append(result)
            md = read_metadata(result.path)
            if md.get("start") is not None:
                spans[task.new_id].append((md["start"], md["end"]))
        entries = {new_id: _registry_entry(strax_dir, *_source_of(tasks, new_id), found)
                   for new_id, found in spans.items()}
        if runs_file is not None:
            add_runs_to_registry(runs_file, entries, dry_run=True)
        results = _move_into_place(results, data_dir, staging)
        if runs_file is not None:
            try:
                add_runs_to_registry(runs_file, entries)
            except BaseException:
                _move_back(results, staging)
                raise
        return results
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class _Task:
    """One folder to import as ``new_id`` (``skipped``: already imported from it)."""

    folder: StraxFolder
    new_id: str
    start: int | None
    end: int | None
    md: dict
    skipped: Imported | None = None


def _source_of(tasks, new_id: str):
    task = next(t for t in tasks if t.new_id == new_id)
    return task.folder.run_id, task.start, task.end


def _choose(folders, strax_dir, new_id, strax_id, data_type, wanted_hash) -> StraxFolder:
    candidates = [f for f in folders if f.run_id == strax_id and f.data_type == data_type
                  and wanted_hash.get(data_type, f.lineage_hash) == f.lineage_hash]
    if not candidates:
        raise StraxFormatError(f"import of {new_id}: {strax_dir} holds no {data_type} of run {strax_id}"
                               + (f" with lineage hash {wanted_hash[data_type]}" if data_type in wanted_hash else ""))
    if len(candidates) > 1:
        raise StraxFormatError(
            f"import of {new_id}: {strax_dir} holds {data_type} of run {strax_id} with several lineage "
            f"hashes ({', '.join(f.lineage_hash for f in candidates)}); choose one: "
            f"data_types={{{data_type!r}: hash}}")
    return candidates[0]


def _plan(strax_dir: Path, runs, data_types, data_dir: Path, overwrite: bool) -> list[_Task]:
    """Every folder to import, each checked (lineage, codec, what is in the way) before any write."""
    folders = scan_directory(strax_dir)
    selection = _run_selection(folders, runs)
    wanted_hash = dict(data_types) if isinstance(data_types, Mapping) else {}
    if isinstance(data_types, str):
        data_types = [data_types]
    tasks = []
    for new_id, (strax_id, start, end) in selection.items():
        mine = [f for f in folders if f.run_id == strax_id]
        types = sorted({f.data_type for f in mine}) if data_types is None else list(data_types)
        for data_type in types:
            folder = _choose(mine, strax_dir, new_id, strax_id, data_type, wanted_hash)
            md = checked_folder_metadata(folder)
            output = data_dir / relative_path(new_id, data_type, folder.lineage_hash)
            skipped = _already_imported(folder, output, new_id, start, end, overwrite)
            tasks.append(_Task(folder, new_id, start, end, md, skipped))
    return tasks


def _already_imported(folder, output: Path, new_id, start, end, overwrite) -> Imported | None:
    """The kept file when ``output`` was imported from the same folder and range; an error
    when something else is in the way (without ``overwrite``); else None."""
    if not output.exists() or overwrite:
        return None
    existing = read_metadata(output)
    if (existing.get("imported_from") == _source_record(folder, start, end)
            and existing.get("lineage_hash") == folder.lineage_hash):
        return Imported(new_id, folder.data_type, output, folder.lineage_hash,
                        sum(c["n"] for c in existing["chunks"]), skipped=True)
    raise StraxFormatError(f"{output} exists and was not imported from {folder.path}; pass overwrite=True "
                           "(--overwrite) to replace it")


def _move_into_place(results: list[Imported], data_dir: Path, staging: Path) -> list[Imported]:
    """Move the staged files to ``data_dir`` (files they replace go to ``staging/.replaced``)."""
    placed = []
    try:
        for result in results:
            if result.skipped:
                placed.append(result)
                continue
            target = data_dir / relative_path(result.run_id, result.data_type, result.lineage_hash)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                backup = staging / ".replaced" / result.run_id / target.name
                backup.parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, backup)
            os.replace(result.path, target)
            placed.append(replace(result, path=target))
    except BaseException:
        _move_back(placed, staging)
        raise
    fsync_directory(data_dir)
    return placed


def _move_back(placed: list[Imported], staging: Path) -> None:
    """Undo :func:`_move_into_place`: remove the new files, put back those they replaced."""
    for result in placed:
        if result.skipped:
            continue
        result.path.unlink(missing_ok=True)
        backup = staging / ".replaced" / result.run_id / result.path.name
        if backup.exists():
            os.replace(backup, result.path)


def _source_record(folder: StraxFolder, start, end) -> dict:
    return {"folder": str(folder.path.resolve()), "strax_run_id": folder.run_id,
            "time_range": None if start is None else [start, end]}


def _import_folder(task: _Task, output: Path, chunk_target_size_mb) -> Imported:
    folder, new_id, start, end, md = task.folder, task.new_id, task.start, task.end, task.md
    where = str(folder.path)
    source = _source_record(folder, start, end)
    dtype = dtype_from_metadata(md)
    metadata = {
        "run_id": new_id, "data_type": md["data_type"], "data_kind": md["data_kind"],
        "lineage": md["lineage"], "lineage_hash": md["lineage_hash"],
        "chunk_target_size_mb": chunk_target_size_mb or md.get("chunk_target_size_mb", 200),
        "imported_from": source,
        "strax": {"compressor": md["compressor"], "strax_version": md.get("strax_version"),
                  "run_id": md["run_id"], "start": md.get("start"), "end": md.get("end")},
    }
    n = 0
    with DataWriter(output, dtype, metadata) as writer:
        for info, rows in iter_folder_chunks(folder, md):
            clipped = _clip_chunk(info, rows, start, end, f"{where}, chunk {info['chunk_i']}")
            if clipped is None:
                continue
            c0, c1, kept = clipped
            writer.write_chunk(kept, c0, c1, run_id=new_id)
            n += len(kept)
    return Imported(new_id, folder.data_type, output, folder.lineage_hash, n)


def _registry_entry(strax_dir: Path, strax_id: str, start, end, spans) -> dict:
    """The run registry entry of an imported run."""
    doc = {}
    doc_path = strax_dir / f"{strax_id}-metadata.json"
    if doc_path.exists():
        try:
            doc = decode_run_document(doc_path.read_text())
        except (ValueError, StraxFormatError) as error:
            raise StraxFormatError(f"{doc_path}: cannot be read as a strax run document ({error})") from None
    if start is None:
        if isinstance(doc.get("start"), _dt.datetime) and isinstance(doc.get("end"), _dt.datetime):
            start, end = datetime_to_ns(doc["start"]), datetime_to_ns(doc["end"])
            _check_document_covers(doc_path, strax_id, start, end, spans)
        elif spans:
            start, end = min(s for s, _ in spans), max(e for _, e in spans)
        else:
            raise StraxFormatError(f"run {strax_id}: no run document and no data to take start/end from")
    entry: dict[str, Any] = {"start": int(start), "end": int(end)}
    for key in ("mode", "source"):
        value = doc.get(key)
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if value:
            entry[key] = str(value)
    tags = [t.get("name") if isinstance(t, Mapping) else t for t in doc.get("tags", []) or []]
    tags = sorted({str(t) for t in tags if t})
    if tags:
        entry["tags"] = tags
    return entry


def _check_document_covers(doc_path: Path, strax_id: str, start: int, end: int, spans) -> None:
    """Refuse a run document whose ``[start, end)`` holds none of the run's data: a registry
    entry from it would put every file of the run outside its run, and no superrun of the run
    could be built (its data in seconds, the data in ns, or another run's times)."""
    if not spans:
        return
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    if first < end and last > start:
        return
    from ..base.times import format_ns

    raise StraxFormatError(
        f"run {strax_id}: its run document {doc_path} puts it at [{format_ns(start)}, {format_ns(end)}), but its "
        f"data span [{format_ns(first)}, {format_ns(last)}) ([{first}, {last}) ns), none of it inside: a run registry "
        f"entry from it would make every superrun of {strax_id} fail. Fix the run document, or import the run "
        f"with the data's span: --runs {strax_id}={strax_id}:{first}:{last} (from Python: runs={{{strax_id!r}: "
        f"({strax_id!r}, {first}, {last})}})")


def add_runs_to_registry(runs_file, entries: Mapping[str, Mapping], *, dry_run: bool = False) -> list[str]:
    """Add runs to a run registry file (kept as written: new entries are appended as text).

    A run already there with the same start and end is left alone; with other times it is an
    error. The new text is checked by :class:`superruns.model.runs.RunRegistry` before it replaces
    the file (atomically). ``dry_run``: check only. Returns the ids added.
    """
    from ..base.yamlio import yaml_load
    from ..model.runs import RunRegistry

    path = Path(runs_file)
    text = path.read_text() if path.exists() else ""
    doc = yaml_load(path) if text.strip() else None
    existing = (doc or {}).get("runs") or {}
    added = []
    lines = []
    for run_id, entry in entries.items():
        if run_id in existing:
            old = RunRegistry.from_dict({"runs": {run_id: existing[run_id]}}, source=path)[run_id]
            if (old.start, old.end) != (entry["start"], entry["end"]):
                raise StraxFormatError(f"{path}: run {run_id!r} is already registered with [{old.start}, "
                                       f"{old.end}), not [{entry['start']}, {entry['end']}); remove or rename it")
            continue
        added.append(run_id)
        lines.append(f"  {json.dumps(run_id)}:")
        for key, value in entry.items():
            lines.append(f"    {key}: {json.dumps(value)}")
    if not added:
        return added
    if doc is None or not existing:
        new_text = "runs:\n" + "\n".join(lines) + "\n"
        if text.strip():
            new_text = re.sub(r"(?m)^runs:.*$", "", text).rstrip() + "\n" + new_text
    else:
        new_text = text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".runs-check-") as tmp:
        candidate = Path(tmp) / path.name
        candidate.write_text(new_text)
        RunRegistry.load(candidate)       # raises naming the problem; the file is untouched
    if not dry_run:
        write_atomic(path, new_text)
    return added
