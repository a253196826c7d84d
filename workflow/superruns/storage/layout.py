"""Where each data file lives: one file per (run, data type, lineage), side by side.

A data file is ``{data_dir}/{run_id}/{data_type}-{lineage_hash}``, as strax names its folders
``{run_id}-{data_type}-{lineage_hash}``: files of different processing versions (other
options, other plugin versions) have different names, so building one never replaces
another, and switching the configuration back finds its files again. Run ids and data types
never contain ``-`` (:mod:`superruns.base.names`; plugins' ``provides``), and a lineage hash is
lowercase letters and digits, so a name splits at its last ``-`` without ambiguity.

The short form ``{run_id}/{data_type}`` names the file of the *current* lineage (the one the
configuration gives); :meth:`superruns.project.Project.path` resolves it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["LINEAGE_CHAR", "LINEAGE_PATTERN", "data_file_name", "selection_path", "parse_data_file_name", "place_of", "relative_path",
           "scan_run", "stored_versions", "stored_in_run"]

#: A lineage hash in a file name (strax's: base32, lowercase, 10 characters; any length here).
LINEAGE_CHAR = r"[a-z0-9]"
LINEAGE_PATTERN = LINEAGE_CHAR + "+"
_NAME_RE = re.compile(rf"(?P<data_type>[^./\s-][^/\s-]*)-(?P<lineage>{LINEAGE_PATTERN})")


def data_file_name(data_type: str, lineage_hash: str) -> str:
    """The file name of ``data_type`` of lineage ``lineage_hash`` in its run's folder."""
    return f"{data_type}-{lineage_hash}"


def relative_path(run_id: str, data_type: str, lineage_hash: str) -> str:
    """The file's path relative to ``data_dir`` (as the rules name their outputs)."""
    return f"{run_id}/{data_file_name(data_type, lineage_hash)}"


def parse_data_file_name(name: str) -> tuple[str, str] | None:
    """``(data_type, lineage_hash)`` of a data file's name, None for any other name (hidden
    temporary files, files of the layout before versions: ``{data_type}`` alone)."""
    match = _NAME_RE.fullmatch(name)
    return (match["data_type"], match["lineage"]) if match else None


def place_of(path: str | Path) -> tuple[str, str, str | None]:
    """``(run_id, data_type, lineage_hash)`` that a data file's place names; a name without a
    lineage (the layout before versions) gives its name as data type and None."""
    path = Path(path)
    parsed = parse_data_file_name(path.name)
    return (path.parent.name, *parsed) if parsed else (path.parent.name, path.name, None)


def stored_in_run(data_dir: str | Path, run_id: str, *, as_paths: bool = True) -> dict[tuple[str, str], Path]:
    """``{(data_type, lineage_hash): path}`` of every data file in the run's folder (one
    directory listing; nothing is opened). ``as_paths=False`` gives the paths as strings
    (a third of the time for a campaign's status: a Path per file costs more than the listing)."""
    return scan_run(data_dir, run_id, as_paths=as_paths)[0]


def scan_run(data_dir: str | Path, run_id: str, *, as_paths: bool = True) -> tuple[dict, set[str]]:
    """:func:`stored_in_run`, and the other names in the run's folder (files of the layout
    before versions are named by their data type alone)."""
    found, others = {}, set()
    try:
        entries = os.scandir(os.path.join(data_dir, run_id))
    except (FileNotFoundError, NotADirectoryError):
        return found, others
    with entries:
        for entry in entries:
            match = _NAME_RE.fullmatch(entry.name)
            if match is not None:
                found[match["data_type"], match["lineage"]] = Path(entry.path) if as_paths else entry.path
            else:
                others.add(entry.name)
    return found, others


def stored_versions(data_dir: str | Path, run_id: str, data_type: str) -> dict[str, Path]:
    """``{lineage_hash: path}`` of the stored versions of one run's data type."""
    return {lineage: path for (dt, lineage), path in stored_in_run(data_dir, run_id).items()
            if dt == data_type}


def selection_path(data_dir: str | Path, name: str) -> Path:
    """The events file the workflow writes for configured selection ``name``."""
    return Path(data_dir) / "selections" / f"{name}.npy"
