"""Provenance and integrity of data files: what a file was built from, and whether it is whole.

Every file the workflow writes carries a ``provenance`` record in its metadata
(:func:`record`, passed by :mod:`superruns.jobs` as ``extra_metadata``)::

    {"config_hash":  hash of the configuration, paths relative to the workflow directory,
     "lineage_hash": the output's lineage hash (its lineage is the top-level "lineage" field),
     "code":         {"superruns": version, "git_commit": ..., "git_dirty": ..., "python": ...,
                      "numpy": ..., "numba": ..., "blosc2": ..., "snakemake": ...},
     "inputs":       {"{run}/{data_type}": {"content_hash": ..., "lineage_hash": ..., "rows": ...}},
     "job":          {"rule": ..., "run_id": ..., "data_type": ...},
     "host": ..., "pid": ..., "time": ISO-8601 UTC}

Two builds of the same data from the same configuration and code give equal records apart
from the fields listed in :data:`WHEN_AND_WHERE` (and the writer's ``writing_started`` and
``writing_ended``); ``docs/reliability.md`` lists them.

:func:`content_hash` identifies a file's *data*: a hash of its dtype, chunk table and frames'
sizes and CRC32s, read from the metadata alone (the metadata's own CRC protects that table,
and each frame's CRC its bytes). It is equal for byte-identical data, whatever the metadata's
timestamps say, so an input's content hash shows whether a rebuilt input is the same data.

:func:`verify_file` checks a file frame by frame without loading it: the frame header and
size, the metadata checksum and layout, every frame's CRC32 and compressed sizes, the row
counts of chunks and frames; with ``deep=True`` it also decompresses each frame (one at a
time) and checks the rows' times against the frame and chunk records.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["WHEN_AND_WHERE", "code_version", "config_hash", "content_hash", "record",
           "verify_file", "verify_paths", "data_files"]

#: Provenance fields that record when and where a file was built (differ between rebuilds).
WHEN_AND_WHERE = ("host", "pid", "time")
#: Top-level metadata fields the writer sets from the clock.
WRITER_TIMES = ("writing_started", "writing_ended")

_PACKAGES = ("numpy", "numba", "blosc2", "snakemake")


# -- code and configuration ---------------------------------------------------------------------


def _git(*args: str) -> str | None:
    directory = Path(__file__).resolve().parent
    try:
        result = subprocess.run(["git", "-C", str(directory), *args], capture_output=True,
                                text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout if result.returncode == 0 else None


@lru_cache(maxsize=1)
def code_version() -> dict:
    """The package version, the git commit of its source (if it is a git checkout) and
    whether tracked files differ from it, and the versions of the libraries that shape the
    bytes written."""
    from importlib.metadata import PackageNotFoundError, version

    from .version import __version__

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    code = {"superruns": __version__,
            "git_commit": commit.strip() if commit else None,
            "git_dirty": bool(status.strip()) if status is not None else None,
            "python": platform.python_version()}
    for package in _PACKAGES:
        try:
            code[package] = version(package)
        except PackageNotFoundError:
            code[package] = None
    return code


def portable_config(project) -> dict:
    """The project's configuration with its paths relative to the workflow directory, so two
    checkouts of one workflow in different places have the same configuration."""
    base = project.base_dir

    def relative(path: str) -> str:
        try:
            return str(Path(path).resolve().relative_to(base))
        except ValueError:
            return str(path)

    config = {key: value for key, value in project.config.items() if key != "base_dir"}
    for key in ("data_dir", "runs"):
        config[key] = relative(config[key])
    config["superruns"] = [relative(p) for p in config["superruns"]]
    return config


def config_hash(project) -> str:
    from .lineage import deterministic_hash

    return deterministic_hash(portable_config(project))


# -- the data of a file -----------------------------------------------------------------------


def content_hash(data) -> str:
    """A hash of a file's data (dtype, chunk table, frames' sizes and CRC32s), from its
    metadata; ``data`` is a :class:`~superruns.storage.DataFile` or a path."""
    from .storage import DataFile

    if not hasattr(data, "metadata"):
        data = DataFile(data)
    md = data.metadata
    table = {"dtype": md["dtype"],
             "chunks": [[c["start"], c["end"], c["n"], c.get("subruns"), c["frames"]] for c in md["chunks"]],
             "frames": [[f["n"], f["nbytes"], f["csize"], f["crc32"]] for f in md["frames"]]}
    text = json.dumps(table, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _relative_name(project, path) -> str:
    try:
        return str(Path(path).resolve().relative_to(project.data_dir.resolve()))
    except ValueError:
        return str(path)


def record(project, run_id: str, data_type: str, inputs, *, rule: str | None = None) -> dict:
    """The provenance record of the output ``run_id/data_type`` built from ``inputs`` (paths,
    or :class:`~superruns.storage.DataFile` objects the job has open already)."""
    from .storage import DataFile

    described = {}
    for item in inputs:
        data = item if isinstance(item, DataFile) else DataFile(item)
        described[_relative_name(project, data.path)] = {
            "content_hash": content_hash(data), "lineage_hash": data.metadata.get("lineage_hash"),
            "rows": data.n_rows}
    return {
        "config_hash": config_hash(project),
        "lineage_hash": project.lineage_hash(run_id, data_type),
        "code": code_version(),
        "inputs": described,
        "job": {"rule": rule, "run_id": run_id, "data_type": data_type},
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def reproducible_metadata(metadata: dict) -> dict:
    """``metadata`` without the fields that record when and where the file was written."""
    md = {k: v for k, v in metadata.items() if k not in WRITER_TIMES}
    if isinstance(md.get("provenance"), dict):
        md["provenance"] = {k: v for k, v in md["provenance"].items() if k not in WHEN_AND_WHERE}
    return md


# -- verification -----------------------------------------------------------------------------------


def verify_file(path, *, deep: bool = False, max_problems: int = 20) -> dict:
    """Check one data file frame by frame; return ``{"path", "ok", "problems", ...}``.

    Memory stays at about one frame (4 MiB of rows by default), whatever the file's size. Every damaged frame is listed (up to ``max_problems``), not only the first.
    """
    from .storage import DataFile, StorageError, _chunk_sizes

    path = os.fspath(path)
    report = {"path": path, "ok": False, "problems": [], "chunks": None, "frames": None,
              "rows": None, "nbytes": None, "size": None, "content_hash": None,
              "run_id": None, "data_type": None}
    problems = report["problems"]
    try:
        report["size"] = os.path.getsize(path)
        data = DataFile(path, verify=True, nthreads=1)
    except (StorageError, OSError) as error:
        problems.append(str(error))
        return report
    md = data.metadata
    report.update(chunks=len(data.chunks), frames=len(md["frames"]), rows=data.n_rows,
                  nbytes=data.nbytes, run_id=data.run_id, data_type=data.data_type,
                  content_hash=content_hash(data))
    frames = md["frames"]
    if not frames:
        report["ok"] = True
        return report
    buffer = bytearray(max(f["csize"] for f in frames))
    rows_buffer = np.empty(max(f["n"] for f in frames), data.dtype) if deep else None
    fd = os.open(path, os.O_RDONLY)
    try:
        for i, chunk in enumerate(data.chunks):
            a, b = chunk["frames"]
            for k in range(a, b):
                if len(problems) >= max_problems:
                    problems.append(f"{path}: stopped after {max_problems} problems")
                    return report
                record_ = frames[k]
                try:
                    raw = data._frame_bytes(i, k, fd, buffer)      # CRC32 and sizes checked here
                    nbytes, cbytes = _chunk_sizes(raw)
                    if (nbytes, cbytes) != (record_["nbytes"], record_["csize"]):
                        raise StorageError(f"{path}: chunk {i}, frame {k}: its header says {nbytes} "
                                           f"bytes ({cbytes} compressed), the metadata {record_['nbytes']} "
                                           f"({record_['csize']}); the file is damaged")
                    if deep:
                        rows = rows_buffer[:record_["n"]]
                        data._decompress(raw, rows, f"{path}: chunk {i}, frame {k}")
                        problem = _row_problem(rows, record_, chunk)
                        if problem:
                            raise StorageError(f"{path}: chunk {i}, frame {k}: {problem}")
                except StorageError as error:
                    problems.append(str(error))
    finally:
        os.close(fd)
    report["ok"] = not problems
    return report


def _row_problem(rows: np.ndarray, frame: dict, chunk: dict) -> str | None:
    from . import kernels

    if len(rows) == 0:
        return None
    times = rows["time"]
    ends = kernels.endtime(rows)
    bad = kernels.first_unsorted_row(rows)
    if bad >= 0:
        return f"rows are not sorted by time (row {bad})"
    stats = (int(times[0]), int(ends[0]), int(times[-1]), int(ends[-1]), int(ends.max()))
    recorded = (frame["first_time"], frame["first_endtime"], frame["last_time"], frame["last_endtime"],
                frame["max_endtime"])
    if stats != recorded:
        return f"the rows' times {stats} differ from the frame's record {recorded}"
    if stats[0] < chunk["start"] or stats[2] >= chunk["end"] or stats[4] > chunk["end"]:
        return f"rows reach outside the chunk [{chunk['start']}, {chunk['end']})"
    return None


def data_files(directory) -> tuple[list[Path], list[Path]]:
    """``(data files, leftover temporary files)`` under a data directory: files without a
    suffix (logs, summaries and selections have one) outside hidden directories (Snakemake's
    ``.snakemake``); temporary files are the hidden ``.{name}.tmp-{pid}-{random}`` a killed
    writer leaves behind (safe to delete when no job runs)."""
    files, leftovers = [], []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") and ".tmp-" in name:
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
