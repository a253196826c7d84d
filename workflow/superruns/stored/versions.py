"""Processing versions kept side by side: which are stored, and removing old ones.

Every data file is ``{data_dir}/{run}/{data_type}-{lineage_hash}`` (:mod:`superruns.storage.layout`):
building with other options or plugin versions writes new files beside the old ones, and a
configuration switched back finds its files again (as strax keeps one folder per lineage).
Nothing removes a version but the user: ``superruns clean`` (:func:`clean`), which lists what
it would remove with ``--dry-run``. ``superruns migrate`` (:func:`migrate`) gives files of the
layout before versions (``{run}/{data_type}``) the name of their lineage. It removes only files of runs and superruns the
configuration defines, never a file of the configuration's current lineage, and with each
file its job logs (``logs/{rule}/{run}/{file name}.log``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..base.errors import SuperrunsError
from ..project.lineages import current_lineages
from ..storage.layout import LINEAGE_PATTERN, scan_run

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["CleanError", "StoredFile", "clean", "migrate", "stored_files"]


class CleanError(SuperrunsError, ValueError):
    """``superruns clean`` was asked for something it does not do; the message says what does."""


@dataclass(frozen=True)
class StoredFile:
    """One stored data file: its run, data type, lineage (None: a file of the layout before
    versions, ``{run}/{data_type}``), size, and whether it is the configuration's version."""

    run_id: str
    data_type: str
    lineage_hash: str | None
    path: Path
    size: int
    current: bool

    def as_dict(self) -> dict:
        return dict(asdict(self), path=str(self.path))


def stored_files(project: Project, run_ids=None) -> list[StoredFile]:
    """Every data file of ``run_ids`` (default: every run and superrun the configuration
    defines), each marked current or not; from file names and sizes only. Files of the
    layout before versions are those named by a registry data type alone."""
    if run_ids is None:
        run_ids = list(project.runs) + list(project.definitions.names)
    found, lineage_of = [], current_lineages(project, run_ids, list(project.registry))
    data_dir = str(project.data_dir)
    for run_id in run_ids:
        stored, others = scan_run(data_dir, run_id, as_paths=False)
        for (data_type, lineage), path in sorted(stored.items()):
            found.append(StoredFile(run_id, data_type, lineage, Path(path), _size(path),
                                    _is_current(lineage_of, run_id, data_type, lineage, project)))
        for data_type in sorted(others & set(project.registry)):
            path = os.path.join(data_dir, run_id, data_type)
            if os.path.isfile(path):
                found.append(StoredFile(run_id, data_type, None, Path(path), _size(path), False))
    return found


def _is_current(lineage_of, run_id, data_type, lineage, project: Project) -> bool:
    """Whether the file is the configuration's version; when its current lineage cannot be
    told (the configuration refuses that data type for this run), it is kept as if it were."""
    if data_type not in project.registry:
        return False                      # a data type no plugin provides any more
    try:
        return lineage == lineage_of(run_id, data_type)
    except SuperrunsError:
        return True



def _size(path) -> int:
    try:
        return os.lstat(path).st_size
    except FileNotFoundError:
        return 0


def to_remove(project: Project, *, keep_current: bool = False, lineage: str | None = None,
              run_ids=None) -> list[StoredFile]:
    """The files :func:`clean` removes: with ``keep_current``, every version but the
    configuration's; with ``lineage``, the files of that lineage hash (never a current one)."""
    import re

    if keep_current == (lineage is not None):
        raise CleanError("say what to remove: --keep-current (every version but the configuration's) "
                         "or --lineage HASH (one version); --dry-run lists the files first")
    if lineage is not None and not re.fullmatch(LINEAGE_PATTERN, lineage):
        raise CleanError(f"--lineage {lineage!r} is not a lineage hash (lowercase letters and digits, "
                         "such as fq5vyd3ii5: `superruns list` and file names show them)")
    files = [f for f in stored_files(project, run_ids) if not f.current]
    return files if keep_current else [f for f in files if f.lineage_hash == lineage]


def clean(project: Project, *, keep_current: bool = False, lineage: str | None = None, run_ids=None,
          dry_run: bool = False) -> dict:
    """Remove stored versions other than the configuration's (see :func:`to_remove`); with
    ``dry_run``, only say which. ``{"removed" or "would_remove": [...], "bytes", "dry_run"}``."""
    files = to_remove(project, keep_current=keep_current, lineage=lineage, run_ids=run_ids)
    if not dry_run:
        for stored in files:
            stored.path.unlink(missing_ok=True)
            for log in _logs_of(project, stored):
                log.unlink(missing_ok=True)
    key = "would_remove" if dry_run else "removed"
    return {key: [f.as_dict() for f in files], "bytes": sum(f.size for f in files),
            "dry_run": dry_run}


def _logs_of(project: Project, stored: StoredFile) -> list[Path]:
    logs = project.data_dir / "logs"
    if not logs.is_dir():
        return []
    name = f"{stored.path.name}.log"
    return [rule / stored.run_id / name for rule in logs.iterdir()
            if (rule / stored.run_id / name).is_file()]


def migrate(project: Project, run_ids=None, dry_run: bool = False) -> dict:
    """Rename files of the layout before versions (``{run}/{data_type}``) to the name of the
    lineage their metadata say (``{run}/{data_type}-{lineage_hash}``), so that they are used
    again instead of rebuilt. A file is renamed only when it says it holds its place's run and
    data type; one whose lineage's file exists already, or that cannot be read, is left as is
    (listed with the reason). A rename in one directory is atomic."""
    import re

    from ..storage import read_metadata

    moved, left = [], []
    for stored in stored_files(project, run_ids):
        if stored.lineage_hash is not None:
            continue
        try:
            md = read_metadata(stored.path)
        except (SuperrunsError, OSError) as error:
            left.append({"path": str(stored.path), "reason": f"cannot be read: {error}"})
            continue
        lineage = md.get("lineage_hash")
        if (md.get("run_id"), md.get("data_type")) != (stored.run_id, stored.data_type) or \
                not isinstance(lineage, str) or not re.fullmatch(LINEAGE_PATTERN, lineage):
            left.append({"path": str(stored.path), "reason": f"it says it holds {md.get('run_id')}/"
                         f"{md.get('data_type')} of lineage {lineage}, not what its place says"})
            continue
        target = project.path(stored.run_id, stored.data_type, lineage)
        if target.exists():
            left.append({"path": str(stored.path), "reason": f"{target} exists already"})
            continue
        if not dry_run:
            os.rename(stored.path, target)
        moved.append({"from": str(stored.path), "to": str(target), "current": lineage == _current_or_none(
            project, stored.run_id, stored.data_type)})
    return {"moved" if not dry_run else "would_move": moved, "left": left, "dry_run": dry_run}


def _current_or_none(project: Project, run_id: str, data_type: str) -> str | None:
    try:
        return project.lineage_hash(run_id, data_type)
    except SuperrunsError:
        return None
