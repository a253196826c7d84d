"""Atomic file creation: the one way the package puts a file where a reader may look.

A file is written under a hidden temporary name ``.{name}.tmp-{pid}-{random}`` in the target's
directory, flushed to disk, then renamed over the target (``os.replace`` is atomic within a
file system) and the directory is flushed too. On any error the temporary file is removed, so
a reader or Snakemake never takes a half-written file for data. The pid in the name lets
``superruns verify`` tell a live writer's file from one a killed job left behind.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["TEMP_INFIX", "atomic_path", "atomic_open", "write_atomic", "is_temp_name",
           "temp_owner_pid", "fsync_directory"]

TEMP_INFIX = ".tmp-"


def temp_path_for(target: Path) -> Path:
    """A fresh hidden temporary path beside ``target``."""
    return target.with_name(f".{target.name}{TEMP_INFIX}{os.getpid()}-{secrets.token_hex(4)}")


def is_temp_name(name: str) -> bool:
    """True for the name of a temporary file made by :func:`atomic_path`."""
    return name.startswith(".") and TEMP_INFIX in name


def temp_owner_pid(name: str) -> int | None:
    """The pid of the process that made temporary file ``name`` (None if it does not say)."""
    tail = name.rsplit(TEMP_INFIX, 1)[-1]
    pid = tail.split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def fsync_directory(directory: Path) -> None:
    """Flush a directory entry (a rename) to disk; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: str | Path, *, exclusive: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes ``target`` atomically.

    For writers that need a path rather than a file object (blosc2, numpy). The caller must
    have closed the file before the ``with`` block ends. ``exclusive``: create-if-absent,
    the complete file is hard-linked to ``target``, so when ``target`` exists (or another
    writer makes it first) nothing is replaced and ``FileExistsError`` is raised.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temp_path_for(target)
    try:
        yield temporary
        _fsync_file(temporary)
        if exclusive:
            os.link(temporary, target)
            temporary.unlink()
        else:
            os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


@contextmanager
def atomic_open(target: str | Path, mode: str = "w", *, exclusive: bool = False, **kwargs):
    """``open()`` for writing that makes ``target`` appear only complete (see module doc);
    ``exclusive``: only if it does not exist yet (see :func:`atomic_path`)."""
    with atomic_path(target, exclusive=exclusive) as temporary:
        with open(temporary, mode, **kwargs) as stream:
            yield stream


def write_atomic(target: str | Path, data: str | bytes) -> None:
    """Write ``data`` (text or bytes) to ``target`` atomically."""
    with atomic_open(target, "wb" if isinstance(data, bytes) else "w") as stream:
        stream.write(data)
