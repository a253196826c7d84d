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

from .. import kernels
from ..atomic import is_temp_name
from .blosc_layout import chunk_sizes
from .format import ChunkRecord, FrameRecord, StorageError
from .reader import DataFile

__all__ = ["content_hash", "verify_file", "verify_paths", "data_files"]


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
    return {"path": path, "ok": False, "problems": [], "chunks": None, "frames": None,
            "rows": None, "nbytes": None, "size": None, "content_hash": None,
            "run_id": None, "data_type": None}


def verify_file(path, *, deep: bool = False, max_problems: int = 20) -> dict:
    """Check one data file frame by frame; return ``{"path", "ok", "problems", ...}``.

    Memory stays at about one frame (4 MiB of rows by default), whatever the file's size.
    Every damaged frame is listed (up to ``max_problems``), not only the first.
    """
    path = os.fspath(path)
    report = _empty_report(path)
    problems = report["problems"]
    try:
        report["size"] = os.path.getsize(path)
        data = DataFile(path, verify=True, nthreads=1)
    except (StorageError, OSError) as error:
        problems.append(str(error))
        return report
    table = data.frame_table
    report.update(chunks=len(data.chunks), frames=len(table), rows=data.n_rows,
                  nbytes=data.nbytes, run_id=data.run_id, data_type=data.data_type,
                  content_hash=content_hash(data))
    if table:
        rows_buffer = np.empty(max(f.n for f in table), data.dtype) if deep else None
        with data.cursor(max(f.csize for f in table)) as cursor:
            for i, chunk in enumerate(data.chunks):
                for k in range(*chunk.frames):
                    if len(problems) >= max_problems:
                        problems.append(f"{path}: stopped after {max_problems} problems")
                        return report
                    try:
                        _check_frame(cursor, i, k, chunk, rows_buffer)
                    except StorageError as error:
                        problems.append(str(error))
    report["ok"] = not problems
    return report


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


def data_files(directory) -> tuple[list[Path], list[Path]]:
    """``(data files, leftover temporary files)`` under a data directory: files without a
    suffix (logs, summaries and selections have one) outside hidden directories (Snakemake's
    ``.snakemake``); temporary files are those :mod:`superruns.atomic` makes, which a killed
    writer leaves behind (safe to delete when no job runs)."""
    files, leftovers = [], []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if is_temp_name(name):
                leftovers.append(Path(root) / name)
            elif not name.startswith(".") and "." not in name:
                files.append(Path(root) / name)
    return files, leftovers


def verify_paths(paths, *, deep: bool = False) -> dict:
    """Verify files and directories (their data files); ``{"ok", "files", "leftovers"}``."""
    reports, leftovers = [], []
    for path in map(Path, paths):
        if path.is_dir():
            files, tmp = data_files(path)
            leftovers.extend(str(p) for p in tmp)
            reports.extend(verify_file(p, deep=deep) for p in files)
        else:
            reports.append(verify_file(path, deep=deep))
    return {"ok": all(r["ok"] for r in reports), "checked": len(reports),
            "bad": [r["path"] for r in reports if not r["ok"]], "files": reports,
            "leftovers": leftovers}
