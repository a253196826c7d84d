"""Data types that come from strax in a project's registry (strax-free)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..plugins import Plugin
from ..storage import dtype_from_metadata, read_metadata

__all__ = ["StraxDataType", "extend_registry", "produced_data_types"]


class StraxDataType(Plugin):
    """A data type whose rows and lineage come from strax, not from a plugin of this package.

    ``origin`` is ``"context"`` (made per run by the strax Context of ``strax.context``; the
    lineage is the Context's, fixed) or ``"imported"`` (imported from a DataDirectory; the
    lineage is the one stored in the run's file). A superrun's lineage equals its subruns', as
    in strax; the superrun rule checks that all subruns agree.
    """

    def __init__(self, provides: str, *, depends_on=(), data_kind: str, dtype, origin: str,
                 lineage: dict, chunk_target_size_mb: float = 200, plugin_name: str = "",
                 version=None):
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

    def lineage_for(self, project, run_id: str) -> dict:
        """strax's lineage of this data type for ``run_id`` (a superrun's is its subruns')."""
        if self.origin == "context":
            return json.loads(json.dumps(self.reference_lineage))
        if project.is_superrun(run_id):
            leaves = project.definitions.leaf_runs(run_id)
            run_id = leaves[0] if leaves else run_id
        found = self._file_lineage(project.path(run_id, self.provides))
        return json.loads(json.dumps(found if found is not None else self.reference_lineage))

    def compute(self, inputs, config, span):
        how = ("the strax Context of the config's strax: section (rule strax_produce)" if self.origin == "context"
               else "an import: python -m superruns.straxio import STRAX_DIR --runs RUN")
        raise RuntimeError(f"{self.provides} of run {span.run_id} comes from strax: make it by {how}")

    def __repr__(self) -> str:
        return f"<StraxDataType {self.provides!r} ({self.origin}) kind={self.data_kind!r}>"


def _imported_data_type(project, data_type: str) -> StraxDataType:
    """Declare an imported data type from the first regular run's file that holds it."""
    for run_id in project.runs:
        path = project.path(run_id, data_type)
        if path.exists():
            md = read_metadata(path)
            return StraxDataType(data_type, data_kind=md["data_kind"], dtype=dtype_from_metadata(md),
                                 origin="imported", lineage=md["lineage"],
                                 chunk_target_size_mb=md.get("chunk_target_size_mb") or 200)
    raise ValueError(f"strax.imported lists {data_type!r}, but no run of {project.config['runs']} has a "
                     f"{data_type} file in {project.data_dir}. Import it first (python -m "
                     "superruns.straxio import STRAX_DIR --config CONFIG), or remove it from strax.imported.")


def extend_registry(project, registry) -> None:
    """Add the data types of ``project.config["strax"]`` to ``registry``: the imported ones
    (``imported: [...]``, declared from their files) and those a strax Context makes
    (``context: module:function`` and ``data_types: [...]``; needs the strax extra)."""
    spec = project.config.get("strax") or {}
    native = set(registry)
    for data_type in spec.get("imported", []):
        registry.register(_imported_data_type(project, data_type))
    if spec.get("data_types"):
        if not spec.get("context"):
            raise ValueError("strax.data_types needs strax.context: 'module:function' returning the "
                             "strax.Context that makes them")
        from .producer import strax_data_types     # imports strax: only when configured

        for data_type in strax_data_types(project, spec, known=set(spec.get("imported", []))):
            registry.register(data_type)
    strax_types = set(registry) - native
    for name in native:
        bad = strax_types & set(registry[name].depends_on)
        if bad:
            raise ValueError(f"Plugin {registry[name].name} ({name}) depends on {', '.join(sorted(bad))}, "
                             "which come from strax: a plugin of this package cannot depend on strax data "
                             "types (its lineage would lack strax's); make it a strax plugin instead.")


def produced_data_types(project) -> list[str]:
    """The data types the rule ``strax_produce`` makes (those of the strax Context)."""
    registry = project.registry
    return [dt for dt in registry if getattr(registry[dt], "origin", None) == "context"]
