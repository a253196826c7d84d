"""Data types that come from strax, as entries of a project's registry (strax-free).

:class:`StraxDataType` is a :class:`~superruns.model.plugins.Plugin` that keeps strax's lineage
(it overrides :meth:`~superruns.model.plugins.Plugin.lineage`); :mod:`superruns.straxio.provider`
gives the registry these entries through the same interface as any plugin module.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..base.errors import SuperrunsError
from ..base.hashing import deterministic_hash
from ..model.plugins import Plugin
from ..storage import dtype_from_metadata, read_metadata

__all__ = ["StraxBridgeError", "StraxDataType", "StraxOnlyError", "imported_data_type", "in_place_data_type",
           "produced_data_types"]


class StraxBridgeError(SuperrunsError, ValueError):
    """The config's ``strax:`` section, or what it names, cannot be used; the message says why."""


class StraxOnlyError(SuperrunsError, RuntimeError):
    """A strax data type was asked of this package's processing, which cannot make it."""


class StraxDataType(Plugin):
    """A data type whose rows and lineage come from strax, not from a plugin of this package.

    ``origin`` is ``"context"`` (made per run by the strax Context of ``strax.context``; the
    lineage is the Context's, fixed), ``"imported"`` (imported from a DataDirectory; the
    lineage is the one stored in the run's file) or ``"in_place"`` (read in place from the run's
    strax folder in ``strax.directories``, :mod:`superruns.straxio.inplace`; the lineage is the
    folder's). A superrun's lineage equals its subruns', as in strax; the superrun rule checks
    that all subruns agree. Only the Context's types are made by the workflow.
    """

    def __init__(self, provides: str, *, depends_on=(), data_kind: str, dtype, origin: str,
                 lineage: dict, chunk_target_size_mb: float = 200, plugin_name: str = "",
                 version=None, index=None):
        self.provides = provides
        self.depends_on = tuple(depends_on)
        self.data_kind = data_kind
        self.dtype = np.dtype(dtype)
        self.origin = origin
        self.reference_lineage = lineage
        self.chunk_target_size_mb = chunk_target_size_mb
        entry = lineage.get(provides) or ["?", "0.0.0"]      # multi-output plugins: under provides[-1]
        self.plugin_name = plugin_name or str(entry[0])
        self.version = entry[1] if version is None else version
        self.index = index                  # the in-place folders (origin "in_place")
        self.made_by_workflow = origin == "context"
        self._cache: dict = {}

    @property
    def name(self) -> str:
        return self.plugin_name

    def _file_lineage(self, path: Path) -> dict | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._cache:
            self._cache[key] = read_metadata(path).get("lineage")
        return self._cache[key]

    lineage_is_derived = False

    def lineage(self, project, run_id: str) -> dict:
        """strax's lineage of this data type for ``run_id`` (a superrun's is its subruns')."""
        if self.origin == "context":
            return json.loads(json.dumps(self.reference_lineage))
        if project.is_superrun(run_id):
            leaves = project.definitions.leaf_runs(run_id)
            run_id = leaves[0] if leaves else run_id
        if self.origin == "in_place":
            folder = self.index.folder(run_id, self.provides)
            found = self.index.metadata(folder)["lineage"] if folder is not None else None
        else:
            found = self._file_lineage(self.imported_file(project, run_id))
        return json.loads(json.dumps(found if found is not None else self.reference_lineage))

    def source_path(self, project, run_id: str):
        """A regular run's strax folder (origin ``in_place``): read in place, never copied. A
        run without one names the folder expected in the first directory (Snakemake then says
        it is missing)."""
        if self.origin != "in_place":
            return None
        folder = self.index.folder(run_id, self.provides)
        if folder is not None:
            return folder.path.absolute()
        lineage_hash = deterministic_hash(self.reference_lineage)
        return (self.index.directories[0] / f"{run_id}-{self.provides}-{lineage_hash}").absolute()

    def open_in_place(self, path):
        """A strax folder as a :class:`~superruns.straxio.folders.StraxFolderFile` (None for a
        file of ours)."""
        if self.origin == "in_place" and Path(path).is_dir():
            from .folders import StraxFolderFile

            return StraxFolderFile(path)
        return None

    def imported_file(self, project, run_id: str) -> Path:
        """The run's imported file of this data type (its lineage is the file's: there is one
        version, the imported one; several are refused, naming them)."""
        versions = project.stored_versions(run_id, self.provides)
        if len(versions) > 1:
            raise StraxBridgeError(f"{run_id} has {len(versions)} imported versions of {self.provides} "
                                   f"({', '.join(str(p) for p in versions.values())}); keep one: "
                                   "superruns clean --lineage HASH removes the others")
        return next(iter(versions.values()), project.data_dir / run_id / self.provides)

    def lineage_key(self, project, run_id: str) -> tuple:
        """strax's lineage is read per run (from the run's file), so each run is its own key."""
        return ("run", run_id)

    def compute(self, inputs, config, span):
        how = {"context": "the strax Context of the config's strax: section (rule strax_produce)",
               "imported": "an import: superruns import STRAX_DIR --runs RUN",
               "in_place": "strax, in a folder of strax.directories (read in place)"}[self.origin]
        raise StraxOnlyError(f"{self.provides} of run {span.run_id} comes from strax: make it by {how}")

    def __repr__(self) -> str:
        return f"<StraxDataType {self.provides!r} ({self.origin}) kind={self.data_kind!r}>"


def imported_data_type(project, data_type: str) -> StraxDataType:
    """Declare an imported data type from the first regular run's file that holds it."""
    for run_id in project.runs:
        for path in project.stored_versions(run_id, data_type).values():
            md = read_metadata(path)
            return StraxDataType(data_type, data_kind=md["data_kind"], dtype=dtype_from_metadata(md),
                                 origin="imported", lineage=md["lineage"],
                                 chunk_target_size_mb=md.get("chunk_target_size_mb") or 200)
    raise StraxBridgeError(f"strax.imported lists {data_type!r}, but no run of {project.config['runs']} has a "
                     f"{data_type} file in {project.data_dir}. Import it first (superruns "
                     "--config CONFIG import STRAX_DIR), or remove it from strax.imported.")


def in_place_data_type(project, data_type: str, index) -> StraxDataType:
    """Declare a data type read in place from its strax folders: from the first regular run's
    folder, else from any folder of it in the directories."""
    folders = [f for run_id in project.runs if (f := index.folder(run_id, data_type)) is not None][:1]
    folders = folders or index.of_type(data_type)[:1]
    if not folders:
        raise StraxBridgeError(f"strax.in_place lists {data_type!r}, but no folder {{run}}-{data_type}-{{hash}} is in "
                               f"strax.directories ({', '.join(map(str, index.directories)) or 'none'}); add the "
                               "DataDirectory that holds it, or remove it from strax.in_place.")
    md = index.metadata(folders[0])
    return StraxDataType(data_type, data_kind=md["data_kind"], dtype=dtype_from_metadata(md), origin="in_place",
                         lineage=md["lineage"], chunk_target_size_mb=md.get("chunk_target_size_mb") or 200,
                         index=index)


def produced_data_types(project) -> list[str]:
    """The data types the rule ``strax_produce`` makes (those of the strax Context)."""
    registry = project.registry
    return [dt for dt in registry
            if isinstance(registry[dt], StraxDataType) and registry[dt].origin == "context"]
