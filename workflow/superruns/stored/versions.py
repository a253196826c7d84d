"""Processing versions kept side by side: which are stored, and removing old ones.

Every data file is ``{data_dir}/{run}/{data_type}-{lineage_hash}`` (:mod:`superruns.storage.layout`):
building with other options or plugin versions writes new files beside the old ones, and a
configuration switched back finds its files again (as strax keeps one folder per lineage).
Nothing removes a version but the user: ``superruns clean`` (:func:`clean`), which lists what
it would remove with ``--dry-run``. ``superruns migrate`` (:func:`migrate`) gives files of the
layout before versions (``{run}/{data_type}``) the name of their lineage. It removes only files of runs and superruns the
configuration defines (NAMES are checked as names: never a path), never a file of the
configuration's current lineage, and with each file its job logs
(``logs/{rule}/{run}/{file name}.log``). File names only propose: a file is removed or renamed
only when :mod:`superruns.storage.ownership` identifies it as ours (a regular file in a run
folder of its own inside the data directory, whose metadata say it is that run's data type);
the others are listed as left, with the reason. A dry run makes the same plan.
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


def check_names(project: Project, run_ids) -> list[str] | None:
    """``run_ids`` (None: every run and superrun) as names the configuration defines; a path
    (``../../outside``, ``/data``) or an unknown name is refused before any file is looked at."""
    from ..base.names import subrun_problem

    if run_ids is None:
        return None
    bad = [r for r in run_ids if subrun_problem(r) or
           r not in (project.definitions if project.is_superrun(r) else project.runs)]
    if bad:
        raise CleanError(f"{', '.join(map(repr, bad))}: not a run or superrun of this configuration "
                         f"({project.config['runs']} and the superrun definitions); give names such "
                         "as 000001 or _sr1_v0.2, not paths: superruns acts only inside its data "
                         f"directory {project.data_dir}")
    return list(run_ids)


def to_remove(project: Project, *, keep_current: bool = False, lineage: str | None = None,
              run_ids=None) -> list[StoredFile]:
    """The files :func:`clean` removes: with ``keep_current``, every version but the
    configuration's; with ``lineage``, the files of that lineage hash (never a current one).
    From file names: each is identified by its metadata before it is removed (:func:`plan`)."""
    import re

    if keep_current == (lineage is not None):
        raise CleanError("say what to remove: --keep-current (every version but the configuration's) "
                         "or --lineage HASH (one version); --dry-run lists the files first")
    if lineage is not None and not re.fullmatch(LINEAGE_PATTERN, lineage):
        raise CleanError(f"--lineage {lineage!r} is not a lineage hash (lowercase letters and digits, "
                         "such as fq5vyd3ii5: `superruns list` and file names show them)")
    files = [f for f in stored_files(project, check_names(project, run_ids)) if not f.current]
    return files if keep_current else [f for f in files if f.lineage_hash == lineage]


def plan(project: Project, files: list[StoredFile]) -> tuple[list, list[dict]]:
    """``(owned, left)``: the files superruns identified as its own (:mod:`superruns.storage.ownership`)
    and the others, each with the reason it is left."""
    from ..storage.ownership import NotOurs, owned_file

    owned, left = [], []
    for stored in files:
        try:
            owned.append((stored, owned_file(project.data_dir, stored.run_id, stored.path.name)))
        except NotOurs as error:
            left.append({"path": str(stored.path), "reason": str(error)})
        except FileNotFoundError:
            continue
    return owned, left


def clean(project: Project, *, keep_current: bool = False, lineage: str | None = None, run_ids=None,
          dry_run: bool = False) -> dict:
    """Remove stored versions other than the configuration's (see :func:`to_remove`), each only
    when it is ours (:func:`plan`); with ``dry_run``, only say which: the same plan.
    ``{"removed" or "would_remove": [...], "left": [...], "bytes", "dry_run"}``."""
    from ..storage.ownership import NotOurs, remove_owned

    owned, left = plan(project, to_remove(project, keep_current=keep_current, lineage=lineage,
                                          run_ids=run_ids))
    done = []
    for stored, identified in owned:
        if not dry_run:
            try:
                remove_owned(identified)
            except NotOurs as error:
                left.append({"path": str(stored.path), "reason": str(error)})
                continue
            for log in _logs_of(project, stored):
                log.unlink(missing_ok=True)
        done.append(stored)
    key = "would_remove" if dry_run else "removed"
    return {key: [f.as_dict() for f in done], "left": left, "bytes": sum(f.size for f in done),
            "dry_run": dry_run}


def _logs_of(project: Project, stored: StoredFile) -> list[Path]:
    """The job logs of a removed file: regular files at its log paths, reached through no link."""
    from ..storage.ownership import owned_log

    logs = project.data_dir / "logs"
    if not logs.is_dir() or logs.is_symlink():
        return []
    name = f"{stored.path.name}.log"
    found = (owned_log(project.data_dir, rule.name, stored.run_id, name) for rule in logs.iterdir())
    return [log for log in found if log is not None]


def migrate(project: Project, run_ids=None, dry_run: bool = False) -> dict:
    """Rename files of the layout before versions (``{run}/{data_type}``) to the name of the
    lineage their metadata say (``{run}/{data_type}-{lineage_hash}``), so that they are used
    again instead of rebuilt. A file is renamed only when superruns identifies it as its own
    (:mod:`superruns.storage.ownership`: a regular data file of its place's run and data type);
    one whose lineage's file exists already, or that is not ours, is left as it is (listed with
    the reason). ``dry_run`` runs the same checks and renames nothing."""
    from ..storage.ownership import NotOurs, rename_owned

    old = [f for f in stored_files(project, check_names(project, run_ids)) if f.lineage_hash is None]
    owned, left = plan(project, old)
    moved = []
    for stored, identified in owned:
        lineage = _metadata_lineage(identified)
        if lineage is None:
            left.append({"path": str(stored.path), "reason": "its metadata give no lineage hash"})
            continue
        target = project.path(stored.run_id, stored.data_type, lineage)
        try:
            if target.exists() or target.is_symlink():
                raise FileExistsError
            if not dry_run:
                rename_owned(identified, target.name)
        except FileExistsError:
            left.append({"path": str(stored.path), "reason": f"{target} exists already"})
            continue
        except NotOurs as error:
            left.append({"path": str(stored.path), "reason": str(error)})
            continue
        moved.append({"from": str(stored.path), "to": str(target), "current": lineage == _current_or_none(
            project, stored.run_id, stored.data_type)})
    return {"moved" if not dry_run else "would_move": moved, "left": left, "dry_run": dry_run}


def _metadata_lineage(identified) -> str | None:
    import re

    from ..storage import read_metadata

    lineage = read_metadata(identified.path).get("lineage_hash")
    return lineage if isinstance(lineage, str) and re.fullmatch(LINEAGE_PATTERN, lineage) else None


def _current_or_none(project: Project, run_id: str, data_type: str) -> str | None:
    try:
        return project.lineage_hash(run_id, data_type)
    except SuperrunsError:
        return None
