"""Opening files for reading, and wording what the operating system says about files.

Only regular files are read: :func:`open_regular` opens without blocking and checks with
``fstat`` that it holds a regular file, so a FIFO, a device or a directory at a data path is
refused at once instead of hanging the reader (``open()`` of a FIFO waits for a writer).
:func:`os_error_message` turns an ``OSError`` into one line that names the file and says what
to do (disk full, permissions, read-only file systems), never a bare errno.
"""

from __future__ import annotations

import errno
import os
import stat
from contextlib import contextmanager

from .errors import SuperrunsError

__all__ = ["NotARegularFile", "FileAccessError", "open_regular", "opened_regular", "check_regular",
           "read_regular", "kind_of", "os_error_message", "disk_error", "writable_problem"]


class NotARegularFile(SuperrunsError, OSError):
    """A FIFO, device, socket or directory where a file was expected."""


class FileAccessError(SuperrunsError, OSError):
    """The operating system refused a read or write; the message names the file and the fix."""


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))


def kind_of(mode: int) -> str:
    """How messages name what ``st_mode`` says a path is."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refusal(path, mode: int, what: str) -> NotARegularFile:
    return NotARegularFile(f"{path} is {kind_of(mode)}, not {what}: only regular files are read, and "
                           "superruns did not make it. Find out what did, and move it away from there "
                           "if it does not belong.")


def open_regular(path, what: str = "a regular file") -> int:
    """A read-only file descriptor on the regular file at ``path`` (symlinks followed); anything
    else is refused at once (opening a FIFO does not wait for a writer)."""
    path = os.fspath(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise _refusal(path, stat.S_IFDIR, what) from None
    except OSError as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise FileAccessError(os_error_message(error, path)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _refusal(path, mode, what)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def opened_regular(path, mode: str = "rb", what: str = "a regular file", **kwargs):
    """``open(path, mode)`` for reading, refused unless ``path`` is a regular file."""
    fd = open_regular(path, what)
    with os.fdopen(fd, mode, **kwargs) as stream:
        yield stream


def check_regular(path, what: str = "a regular file") -> os.stat_result:
    """The ``stat`` of the regular file at ``path``; anything else is refused (without opening)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise _refusal(os.fspath(path), st.st_mode, what)
    return st


def read_regular(path, what: str = "a regular file") -> bytes:
    """The bytes of the regular file at ``path``."""
    with opened_regular(path, "rb", what) as stream:
        return stream.read()


# -- messages -------------------------------------------------------------------------------------------

_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some space (or move data_dir to a larger "
                  "disk), then run again",
    errno.EDQUOT: "the disk quota is exceeded: free some space, then run again",
    errno.EACCES: "permission denied: give your user access to it (chmod/chown) or set data_dir "
                  "to a directory you can write, then run again",
    errno.EPERM: "operation not permitted: give your user access to it or use another directory",
    errno.EROFS: "the file system is read-only: set data_dir to a writable directory (or remount "
                 "it read-write), then run again",
    errno.ENAMETOOLONG: "the file name is too long for the file system: use a shorter name",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) and run again",
    errno.EIO: "input/output error: the disk may be failing; check it",
}


def os_error_message(error: OSError, path=None) -> str:
    """One line for ``error``: the file it concerns and what to do, never a bare errno."""
    path = path if path is not None else (error.filename if error.filename is not None else None)
    where = f"{os.fspath(path)}: " if path is not None else ""
    if error.errno in _ADVICE:
        return f"{where}{_ADVICE[error.errno]}"
    reason = error.strerror or (os.strerror(error.errno) if error.errno else str(error)) or type(error).__name__
    return f"{where}{reason}"


def disk_error(path, error: BaseException, needed: int = 0) -> FileAccessError:
    """The error to raise when a library (blosc2) fails to write ``path`` without saying why:
    a full disk is named as such (free space checked), else the library's words and the
    usual causes."""
    path = os.fspath(path)
    if isinstance(error, OSError) and error.errno is not None:
        return FileAccessError(os_error_message(error, path))
    try:
        fs = os.statvfs(os.path.dirname(path) or ".")
        free = fs.f_bavail * fs.f_frsize
    except OSError:
        free = None
    if free is not None and free <= max(needed, 1) + (1 << 20):
        return FileAccessError(f"{path}: cannot be written: {_ADVICE[errno.ENOSPC]} ({free} bytes free)")
    return FileAccessError(f"{path}: cannot be written ({error}); check that the disk is not full "
                           "or over quota and that the directory is writable, then run again")


def writable_problem(directory) -> str | None:
    """Why files cannot be created in ``directory`` (or, if it does not exist yet, in its
    nearest existing parent), or None when they can."""
    path = os.path.abspath(os.fspath(directory))
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    if not os.path.isdir(path):
        return f"{path} is not a directory"
    if os.access(path, os.W_OK | os.X_OK):
        return None
    try:
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    error = errno.EROFS if read_only else errno.EACCES
    return os_error_message(OSError(error, os.strerror(error)), path)
