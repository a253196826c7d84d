"""Whether data files are whole: what ``superruns verify`` runs, and a file's content hash.

:func:`verify_file` checks a file frame by frame without loading it: the frame header and
size, the metadata checksum and layout, every frame's CRC32 and compressed sizes, the row
counts of chunks and frames; with ``deep=True`` it also decompresses each frame (one at a
time) and checks the rows' times against the frame and chunk records.

:func:`content_hash` identifies a file's *data*: a hash of its dtype, chunk table and frames'
sizes and CRC32s, read from the metadata alone (the metadata's own CRC protects that table,
and each frame's CRC its bytes). It is equal for byte-identical data, whatever the metadata's
timestamps say.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..base import kernels
from ..base.atomic import is_temp_name, temp_owner_pid
from ..base.files import NotARegularFile, os_error_message
from .blosc_layout import chunk_sizes
from .format import ChunkRecord, FrameRecord, NewerFormat, StorageError
from .layout import place_of
from .reader import DataFile

__all__ = ["ADVICE", "content_hash", "verify_file", "verify_paths", "data_files", "temp_file_owner"]


def content_hash(data) -> str:
    """A hash of a file's data (dtype, chunk table, frames' sizes and CRC32s), from its
    metadata; ``data`` is a :class:`DataFile` or a path."""
    if not hasattr(data, "metadata"):
        data = DataFile(data)
    md = data.metadata
    table = {"dtype": md["dtype"],
             "chunks": [[c["start"], c["end"], c["n"], c.get("subruns"), c["frames"]] for c in md["chunks"]],
             "frames": [[f["n"], f["nbytes"], f["csize"], f["crc32"]] for f in md["frames"]]}
    text = json.dumps(table, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _empty_report(path: str) -> dict:
    return {"path": path, "ok": False, "problem": None, "problems": [], "chunks": None,
            "frames": None, "rows": None, "nbytes": None, "size": None, "content_hash": None,
            "run_id": None, "data_type": None, "lineage_hash": None}


#: What ``report["problem"]`` may say, and the advice for files with that problem.
ADVICE = {
    "damaged": "Move them aside (mv FILE FILE.damaged) and rebuild them (snakemake rebuilds missing "
               "files); keep the damaged copies until the rebuild is checked.",
    "misplaced": "They hold another run's or data type's data (linked, moved or copied there): move "
                 "each back to the place its metadata name (or aside), then rebuild what belongs here.",
    "other_lineage": "They were built with other plugins or options than the configuration "
                     "gives now: rebuild them (snakemake --forcerun <run>/<data type>), or keep "
                     "them on purpose and read them with lineage='any'.",
    "newer_format": "They are not damaged: they were written by a newer superruns; upgrade "
                    "superruns to read them. Do not delete them.",
    "not_a_file": "They are not regular files (a FIFO, device or directory): superruns reads nothing of "
                  "them and did not make them; find out what did before moving anything.",
    "unreadable": "These folders could not be read, so their files were not checked: give your user "
                  "read access (or check the disk), then verify again.",
    "missing": "Check the paths (a dangling symlink?); snakemake rebuilds missing data files.",
}


def verify_file(path, *, deep: bool = False, max_problems: int = 20,
                expected: tuple | None = None) -> dict:
    """Check one data file frame by frame; return ``{"path", "ok", "problem", "problems", ...}``.

    ``expected`` is the ``(run_id, data_type[, lineage_hash])`` the file's location names (a
    data file lives at ``{data_dir}/{run_id}/{data_type}-{lineage_hash}``, :mod:`superruns.storage.layout`;
    a lineage of None is not compared): a file saying otherwise is reported ``misplaced``.
    Memory stays at about one frame (4 MiB of rows by default), whatever the file's size.
    Every damaged frame is listed (up to ``max_problems``), not only the first.
    """
    path = os.fspath(path)
    report = _empty_report(path)
    problems = report["problems"]
    try:
        report["size"] = os.lstat(path).st_size
        data = DataFile(path, verify=True, nthreads=1)
    except (StorageError, OSError) as error:
        problems.append(str(error) if isinstance(error, StorageError) else os_error_message(error, path))
        report["problem"] = _kind_of_failure(error)
        return report
    table = data.frame_table
    report.update(chunks=len(data.chunks), frames=len(table), rows=data.n_rows,
                  nbytes=data.nbytes, run_id=data.run_id, data_type=data.data_type,
                  lineage_hash=data.metadata.get("lineage_hash"), content_hash=content_hash(data))
    if expected is not None and _misplaced(data, tuple(expected)):
        lineage = expected[2] if len(expected) > 2 and expected[2] else None
        said = f" of lineage {data.metadata.get('lineage_hash')}" if lineage else ""
        problems.append(f"{path}: it holds {data.run_id}/{data.data_type}{said}, not "
                        f"{expected[0]}/{expected[1]}{f' of lineage {lineage}' if lineage else ''} as its "
                        "place says: it was linked, moved or copied there")
        report["problem"] = "misplaced"
    _check_frames(data, report, deep, max_problems)
    report["ok"] = not problems
    return report


def _misplaced(data: DataFile, expected: tuple) -> bool:
    if (data.run_id, data.data_type) != expected[:2]:
        return True
    return len(expected) > 2 and expected[2] is not None and data.metadata.get("lineage_hash") != expected[2]


def _kind_of_failure(error: BaseException) -> str:
    if isinstance(error, FileNotFoundError):
        return "missing"
    if isinstance(error, NewerFormat):
        return "newer_format"
    if isinstance(error, NotARegularFile) or "not a regular file" in str(error) or \
            "only regular files are read" in str(error):
        return "not_a_file"
    return "damaged"


def _check_frames(data: DataFile, report: dict, deep: bool, max_problems: int) -> None:
    table, problems = data.frame_table, report["problems"]
    if not table:
        return
    rows_buffer = np.empty(max(f.n for f in table), data.dtype) if deep else None
    with data.cursor(max(f.csize for f in table)) as cursor:
        for i, chunk in enumerate(data.chunks):
            for k in range(*chunk.frames):
                if len(problems) >= max_problems:
                    problems.append(f"{data.path}: stopped after {max_problems} problems")
                    report["problem"] = "damaged"
                    return
                try:
                    _check_frame(cursor, i, k, chunk, rows_buffer)
                except StorageError as error:
                    problems.append(str(error))
                    report["problem"] = "damaged"


def _check_frame(cursor, i: int, k: int, chunk: ChunkRecord, rows_buffer) -> None:
    data = cursor.data
    record = data.frame_table[k]
    raw = cursor.raw(i, k)                                  # CRC32 and sizes checked here
    nbytes, cbytes = chunk_sizes(raw)
    where = data.where(i, k)
    if (nbytes, cbytes) != (record.nbytes, record.csize):
        raise StorageError(f"{where}: its header says {nbytes} bytes ({cbytes} compressed), the "
                           f"metadata {record.nbytes} ({record.csize}); the file is damaged")
    if rows_buffer is not None:
        rows = rows_buffer[:record.n]
        cursor.decode_into(raw, rows, where)
        problem = _row_problem(rows, record, chunk)
        if problem:
            raise StorageError(f"{where}: {problem}")


def _row_problem(rows: np.ndarray, frame: FrameRecord, chunk: ChunkRecord) -> str | None:
    if len(rows) == 0:
        return None
    times = rows["time"]
    ends = kernels.endtime(rows)
    bad = kernels.first_unsorted_row(rows)
    if bad >= 0:
        return f"rows are not sorted by time (row {bad})"
    stats = (int(times[0]), int(ends[0]), int(times[-1]), int(ends[-1]), int(ends.max()))
    recorded = (frame.first_time, frame.first_endtime, frame.last_time, frame.last_endtime,
                frame.max_endtime)
    if stats != recorded:
        return f"the rows' times {stats} differ from the frame's record {recorded}"
    if stats[0] < chunk.start or stats[2] >= chunk.end or stats[4] > chunk.end:
        return f"rows reach outside the chunk [{chunk.start}, {chunk.end})"
    return None


def data_files(directory, unreadable: list | None = None) -> tuple[list[Path], list[Path]]:
    """``(data files, leftover temporary files)`` under a data directory: files without a
    suffix (logs, summaries and selections have one) outside hidden directories (Snakemake's
    ``.snakemake``); temporary files are those :mod:`superruns.base.atomic` makes (a running
    writer's, or one a killed writer left behind: see :func:`temp_file_owner`). Folders that
    cannot be read are appended to ``unreadable`` (``(path, reason)``) instead of skipped
    without a word."""
    files, leftovers = [], []

    def cannot_read(error: OSError) -> None:
        if unreadable is not None:
            unreadable.append((str(error.filename or directory), os_error_message(error)))

    for root, dirs, names in os.walk(directory, onerror=cannot_read):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if is_temp_name(name):
                leftovers.append(Path(root) / name)
            elif not name.startswith(".") and "." not in name:
                files.append(Path(root) / name)
    return files, leftovers


def temp_file_owner(path) -> tuple[int | None, bool]:
    """``(pid, alive)`` of the process that is writing (or was) the temporary file ``path``:
    alive means a process with that pid runs on this machine now (its write may be under
    way: the file is not safe to delete)."""
    pid = temp_owner_pid(Path(path).name)
    if pid is None:
        return None, False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return pid, False
    except PermissionError:          # someone else's process: alive
        return pid, True
    except OSError:
        return pid, False
    return pid, True


def verify_paths(paths, *, deep: bool = False, data_dirs=()) -> dict:
    """Verify files and directories (their data files); ``{"ok", "files", "leftovers",
    "in_progress", "unreadable", ...}`` (not ok while a folder could not be read: its files
    were not checked). Files found in a directory, and files given under one of
    ``data_dirs``, must hold the run, data type and lineage their place names
    (``.../{run_id}/{data_type}-{lineage_hash}``). ``leftovers`` are temporary files of interrupted writes
    (their process is gone: safe to delete), ``in_progress`` those of a live process."""
    reports, temporary, unreadable = [], [], []
    roots = [Path(d).absolute() for d in data_dirs]
    for path in map(Path, paths):
        if path.is_dir():
            files, tmp = data_files(path, unreadable)
            temporary.extend(tmp)
            reports.extend(verify_file(p, deep=deep, expected=place_of(p)) for p in files)
        else:
            located = any(path.absolute().parent.parent == root for root in roots)
            reports.append(verify_file(path, deep=deep, expected=place_of(path) if located else None))
    owners = {str(p): temp_file_owner(p) for p in temporary}
    return {"ok": all(r["ok"] for r in reports) and not unreadable, "checked": len(reports),
            "bad": [r["path"] for r in reports if not r["ok"]], "files": reports,
            "unreadable": [{"path": p, "reason": reason} for p, reason in unreadable],
            "leftovers": [p for p, (_, alive) in owners.items() if not alive],
            "in_progress": [p for p, (_, alive) in owners.items() if alive]}
