"""Whether a file is ours to remove or rename: the one test every command that removes or
renames a file asks (``superruns clean``, ``superruns migrate``).

A name and a path prove nothing: ``notes-2024`` looks like a data file name, ``../../x`` like a
run id, and ``data/000001`` may be a link to another project's run folder. So a file is ours
only when

- it lies directly in a run's folder of the data directory, ``{data_dir}/{run_id}/{name}``,
  ``run_id`` a run id or superrun name (:mod:`superruns.base.names`), the folder a directory
  of its own (not a symbolic link) whose resolved path is the resolved data directory's child;
- it is a regular file (not a symbolic link, FIFO, device or directory);
- its own metadata say it is a data file of that run and data type (and of the lineage its
  name gives): it is what the workflow rebuilds under that name.

:func:`owned_file` decides it, with the reason when it is not ours; :func:`remove_owned` and
:func:`rename_owned` act on what it decided through a handle on the run folder that refuses a
link, and only while the file is still the one checked (same device and inode). A file
replaced between the two is left alone.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import SuperrunsError
from ..base.files import kind_of
from ..base.names import subrun_problem
from .layout import parse_data_file_name

__all__ = ["NotOurs", "OwnedFile", "owned_file", "owned_log", "remove_owned", "rename_owned"]


class NotOurs(SuperrunsError, ValueError):
    """A file that superruns has not identified as its own, rebuildable data file: it is
    neither removed nor renamed. The message says why."""


@dataclass(frozen=True)
class OwnedFile:
    """A file :func:`owned_file` identified: ``run_id/data_type`` of ``lineage_hash`` (None for
    a file of the layout before versions), in its run folder, with its size and inode."""

    run_id: str
    data_type: str
    lineage_hash: str | None
    path: Path
    size: int
    inode: tuple[int, int]

    @property
    def folder(self) -> Path:
        return self.path.parent


def run_folder(data_dir, run_id: str) -> Path:
    """The run folder of ``run_id``, refused (:class:`NotOurs`) unless it is a directory of its
    own directly in the data directory: a name, not a path; no symbolic link."""
    problem = subrun_problem(run_id)
    if problem:
        raise NotOurs(f"{run_id!r} is not a run id or superrun name: {problem}")
    root = os.path.realpath(data_dir)
    folder = os.path.join(os.fspath(data_dir), run_id)
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        raise NotOurs(f"{folder} is a symbolic link (to {os.readlink(folder)}), not a run folder of "
                      "this data directory: superruns acts on nothing through a linked folder")
    if not stat.S_ISDIR(st.st_mode) or os.path.realpath(folder) != os.path.join(root, run_id):
        raise NotOurs(f"{folder} is not a run folder inside the data directory {root}")
    return Path(folder)


def _regular(path: str) -> os.stat_result:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise NotOurs(f"{path} is a symbolic link (to {os.readlink(path)}), not a data file of its own")
    if not stat.S_ISREG(st.st_mode):
        raise NotOurs(f"{path} is {kind_of(st.st_mode)}, not a superruns data file")
    return st


def owned_file(data_dir, run_id: str, name: str) -> OwnedFile:
    """The file ``{data_dir}/{run_id}/{name}`` if it is ours (see the module doc), else
    :class:`NotOurs` naming why; a missing file is ``FileNotFoundError``."""
    from .reader import read_metadata

    if name in ("", ".", "..") or "/" in name:
        raise NotOurs(f"{name!r} is not a file name")
    path = os.path.join(run_folder(data_dir, run_id), name)
    before = _regular(path)
    parsed = parse_data_file_name(name)
    data_type, lineage = parsed if parsed else (name, None)
    try:
        md = read_metadata(path)
    except (SuperrunsError, OSError) as error:
        raise NotOurs(f"{path} is not a superruns data file that can be read ({error}), so superruns "
                      "did not identify it as its own") from None
    after = os.lstat(path)
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        raise NotOurs(f"{path} was replaced while it was being checked")
    said = (md.get("run_id"), md.get("data_type"))
    if said != (run_id, data_type) or (lineage is not None and md.get("lineage_hash") != lineage):
        raise NotOurs(f"{path}: its metadata say it holds {said[0]}/{said[1]} of lineage "
                      f"{md.get('lineage_hash')}, not {run_id}/{data_type}"
                      + (f" of lineage {lineage}" if lineage else "") + " as its name says")
    return OwnedFile(run_id, data_type, lineage, Path(path), before.st_size, (before.st_dev, before.st_ino))


def owned_log(data_dir, rule: str, run_id: str, name: str) -> Path | None:
    """``{data_dir}/logs/{rule}/{run_id}/{name}`` when it is a regular file reached through
    directories of their own (no symbolic link) inside the data directory, else None."""
    root = os.path.realpath(data_dir)
    path = os.path.join(os.fspath(data_dir), "logs", rule, run_id, name)
    if subrun_problem(run_id) or "/" in rule or rule in ("", ".", ".."):
        return None
    if os.path.realpath(path) != os.path.join(root, "logs", rule, run_id, name):
        return None                                   # some part of it is a link
    try:
        return Path(path) if stat.S_ISREG(os.lstat(path).st_mode) else None
    except FileNotFoundError:
        return None


def _folder_handle(folder: Path) -> int:
    return os.open(folder, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0))


def _still_the_same(owned: OwnedFile, fd: int) -> None:
    st = os.stat(owned.path.name, dir_fd=fd, follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != owned.inode:
        raise NotOurs(f"{owned.path} was replaced since it was identified; it is left as it is")


def remove_owned(owned: OwnedFile) -> None:
    """Remove the file :func:`owned_file` identified, if it is still that file."""
    fd = _folder_handle(owned.folder)
    try:
        _still_the_same(owned, fd)
        os.unlink(owned.path.name, dir_fd=fd)
    finally:
        os.close(fd)


def rename_owned(owned: OwnedFile, new_name: str) -> Path:
    """Give the file :func:`owned_file` identified the name ``new_name`` in its folder, never
    over an existing file (``FileExistsError``): a hard link, then the old name removed (a
    crash in between leaves both names on the same bytes)."""
    fd = _folder_handle(owned.folder)
    try:
        _still_the_same(owned, fd)
        try:
            os.link(owned.path.name, new_name, src_dir_fd=fd, dst_dir_fd=fd, follow_symlinks=False)
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            _rename_without_links(fd, owned.path.name, new_name)  # a file system without hard links
            return owned.folder / new_name
        os.unlink(owned.path.name, dir_fd=fd)
    finally:
        os.close(fd)
    return owned.folder / new_name


def _rename_without_links(fd: int, old: str, new: str) -> None:
    try:
        os.stat(new, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        os.rename(old, new, src_dir_fd=fd, dst_dir_fd=fd)
        return
    raise FileExistsError(errno.EEXIST, "exists already", new)
