"""A strax storage frontend serving this workflow's files and run documents (imports strax).

::

    st = my_context()                                  # with the plugins of the data types
    st.storage.append(SuperrunsFrontend("config/config.yaml"))
    st.get_array("_sr1_v0.2", "peaks")                 # our file, no recomputation

A file is served for a strax key only if its lineage hash equals the key's (for a regular run
of a data type with per-run options, the key of :func:`plugin_stubs` names the run's current
file: :meth:`SuperrunsFrontend.stored_lineage_hash`) and, for a superrun, if the file holds the
superrun the Context's run document defines (strax's ``_H`` run-id suffix, a hash of
``sub_run_spec``, is compared with the file's). Combining-mode keys (``combining=True``) are
never served: strax then combines the subruns' files itself; nor are superruns of the data types
in ``exclude_superruns`` (strax then computes them).

The frontend answers only for what it holds: for any other data or run document it raises
``strax.DataNotAvailable``, the one error strax 2.2.3's Context moves on to its next frontend
after (``Context.run_metadata`` does not catch ``RunMetadataNotAvailable``), so frontends
behind it (a ``DataDirectory``, the RunDB) keep answering for their runs and strax's own
``define_run`` superruns.
:func:`plugin_stubs` makes strax plugin classes for this package's own data types; they cannot
compute, and say which ``snakemake`` command builds what is not stored (:class:`NotBuiltError`).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np
import strax

from ..base.errors import SuperrunsError
from ..base.hashing import deterministic_hash
from ..storage import DataFile, StorageError
from ..storage.layout import data_file_name, stored_versions
from .format import (
    STRAX_FORMAT_VERSION,
    run_document_from_metadata,
    strax_chunk_info,
    strax_run_document,
    superrun_suffix,
)
from .registry import StraxDataType

__all__ = ["NotBuiltError", "SuperrunsBackend", "SuperrunsFrontend", "build_hint", "plugin_stubs",
           "strax_metadata"]


class NotBuiltError(SuperrunsError, strax.DataNotAvailable):
    """Data the workflow builds are not stored; the message gives the command that builds them
    (a ``strax.DataNotAvailable`` too, so code that expects strax's error still catches it)."""


def build_hint(project, run_id: str, data_type: str) -> str:
    """What to run to build ``run_id/data_type``: the workflow's short target with snakemake in
    the project's directory, or ``superruns.make`` from Python."""
    where = f" in {project.base_dir}" if project is not None else " in the workflow's directory"
    return (f"{run_id}/{data_type} is not built yet (strax cannot make this package's data types); build "
            f"it with the workflow: `snakemake --cores 2 {run_id}/{data_type}`{where}, or from Python "
            f"superruns.make({run_id!r}, {data_type!r})")


def strax_metadata(md: dict, path) -> dict:
    """Our file's metadata in the form strax's loader reads (``chunks`` as strax chunk infos)."""
    name = os.path.basename(os.fspath(path))
    chunks = []
    for chunk in md["chunks"]:
        info = strax_chunk_info(chunk)
        if chunk["n"]:
            info["filename"] = f"{name}[{chunk['chunk_i']}]"
        chunks.append(info)
    out = {key: md[key] for key in ("run_id", "data_type", "data_kind", "dtype", "lineage", "lineage_hash",
                                    "start", "end", "writing_started", "writing_ended", "sub_run_spec")
           if key in md}
    out.update(compressor="superruns", strax_version=STRAX_FORMAT_VERSION, chunks=chunks,
               chunk_target_size_mb=md.get("chunk_target_size_mb") or strax.DEFAULT_CHUNK_SIZE_MB)
    return out


class SuperrunsBackend(strax.StorageBackend):
    """Reads this package's files for strax (the backend key is the file's path)."""

    def __init__(self, verify: bool = True):
        super().__init__()
        self.verify = verify
        self._files: dict = {}

    def data_file(self, path) -> DataFile:
        path = os.fspath(path)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            raise strax.DataNotAvailable(f"{path} does not exist") from None
        key = (path, stat.st_mtime_ns, stat.st_size)
        if key not in self._files:
            try:
                self._files = {key: DataFile(path, verify=self.verify)}      # keep the latest only
            except StorageError as error:
                raise strax.DataCorrupted(str(error)) from None
        return self._files[key]

    def _get_metadata(self, path, **kwargs) -> dict:
        return strax_metadata(self.data_file(path).metadata, path)

    def _read_chunk(self, path, chunk_info, dtype, compressor):
        try:
            rows = self.data_file(path).read_chunk(chunk_info["chunk_i"])
        except StorageError as error:
            raise strax.DataCorrupted(str(error)) from None
        wanted = np.dtype(dtype)
        # strax builds the dtype with np.dtype(literal_eval(md["dtype"])): padding entries
        # ('', '|V1') become fields there and gaps here; the bytes are the same.
        return rows if rows.dtype == wanted else rows.view(wanted)

    def _saver(self, key, metadata, **kwargs):
        raise strax.DataNotAvailable("the superruns frontend is read only: the workflow writes its files")


class SuperrunsFrontend(strax.StorageFrontend):
    """Serve a superruns workflow's data and run documents to a strax Context (read only).

    ``project`` is a :class:`superruns.project.Project` or the path of its ``config.yaml``;
    without one, give ``data_dir``: run documents then come from the files' metadata. Run
    documents are strax's form of :meth:`Project.run_metadata` (naive UTC datetimes; a
    superrun's ``sub_run_spec`` as defined: direct subruns, time order).
    """

    storage_type = strax.StorageType.LOCAL
    provide_superruns = True
    provide_run_metadata = True
    can_define_runs = False

    def __init__(self, project=None, *, data_dir=None, verify: bool = True, provide_run_metadata=None,
                 take_only=(), exclude=(), exclude_superruns=(), readonly: bool = True, files=None):
        if not readonly:
            raise ValueError("SuperrunsFrontend is read only: the workflow writes its files "
                             "(add a strax.DataDirectory to store what strax computes)")
        super().__init__(readonly=True, provide_run_metadata=provide_run_metadata,
                         take_only=take_only, exclude=exclude)
        if isinstance(project, (str, os.PathLike)):
            from ..project import Project

            project = Project.from_file(project)
        if project is None and data_dir is None:
            raise ValueError("SuperrunsFrontend needs a project (or its config.yaml) or a data_dir")
        self.project = project
        self.path = str(data_dir if data_dir is not None else project.data_dir)
        self.backends = [SuperrunsBackend(verify=verify)]
        # Data types whose superruns strax must compute itself (e.g. an ExhaustPlugin's): our
        # superrun files are the concatenation of the subruns' (docs/strax.md, divergence 7).
        self.exclude_superruns = set(strax.to_str_tuple(exclude_superruns))
        #: ``{(run_id, data_type): path}``: serve exactly these files, nothing else (a
        #: workflow job reads only the inputs Snakemake handed it); None: the data directory.
        self.files = None if files is None else {key: os.fspath(path) for key, path in files.items()}

    # -- data

    @staticmethod
    def _plain_name(value) -> bool:
        return isinstance(value, str) and value not in ("", ".", "..") and "/" not in value and "\\" not in value

    def _file_of(self, key, fuzzy) -> str:
        """The file of ``key``: ``{run}/{data_type}-{lineage_hash}`` (superruns.storage.layout); with
        fuzzy matching, the newest stored version (its lineage is compared after). With
        ``files``, only the file given for the key's run and data type."""
        if self.files is not None:
            path = self.files.get((key.run_id, key.data_type))
            if path is None or not os.path.isfile(path):
                raise strax.DataNotAvailable(f"{key.run_id}/{key.data_type} is not an input of this job")
            return path
        path = os.path.join(self.path, key.run_id, data_file_name(key.data_type, self.stored_lineage_hash(key)))
        if not os.path.isfile(path) and fuzzy:
            versions = stored_versions(self.path, key.run_id, key.data_type).values()
            path = os.fspath(max(versions, key=lambda p: p.stat().st_mtime_ns, default=path))
        if not os.path.isfile(path):
            raise strax.DataNotAvailable(f"no file {path}")
        return path

    def stored_lineage_hash(self, key) -> str:
        """The lineage hash of the file that holds ``key``'s data: the key's own, except for a
        regular run of a data type whose lineage has per-run options. :func:`plugin_stubs` give
        those options the superrun value ``<SUBRUN-DEPENDENT:{hash of the per-run spec}>`` (one
        strax option cannot hold a value per run); for a regular run that value stands for the
        run's own value under that spec, so a key equal to the current superrun lineage names
        the run's current file (whose lineage has the run's value)."""
        project = self.project
        if project is None or key.run_id.startswith("_") or key.run_id not in project.runs:
            return key.lineage_hash
        plugin = project.registry[key.data_type] if key.data_type in project.registry else None
        if plugin is None or not plugin.lineage_is_derived or not project.per_run_options(key.data_type):
            return key.lineage_hash
        from ..model.lineage import lineage_hash, superrun_lineage

        if key.lineage_hash != lineage_hash(superrun_lineage(project.registry, key.data_type, project.options)):
            return key.lineage_hash
        return project.lineage_hash(key.run_id, key.data_type)

    def _find(self, key, write, allow_incomplete, fuzzy_for, fuzzy_for_options):
        if write:
            raise strax.DataNotAvailable(f"{self} is read only")
        if not (self._plain_name(key.run_id) and self._plain_name(key.data_type)):
            raise strax.DataNotAvailable
        path = self._file_of(key, fuzzy_for or fuzzy_for_options)
        md = self.backends[0].data_file(path).metadata
        if md.get("run_id") != key.run_id or md.get("data_type") != key.data_type:
            raise strax.DataNotAvailable(f"{path} holds {md.get('run_id')}/{md.get('data_type')}")
        if fuzzy_for or fuzzy_for_options:
            same = (deterministic_hash(self._filter_lineage(md["lineage"], fuzzy_for, fuzzy_for_options))
                    == deterministic_hash(self._filter_lineage(key.lineage, fuzzy_for, fuzzy_for_options)))
        else:
            same = md.get("lineage_hash") == self.stored_lineage_hash(key)
        if not same:
            raise strax.DataNotAvailable(f"{path} has lineage hash {md.get('lineage_hash')}, "
                                         f"the Context asks for {key.lineage_hash}")
        if key.run_id.startswith("_"):
            if key.data_type in self.exclude_superruns:
                raise strax.DataNotAvailable(f"{self} does not serve superruns of {key.data_type}")
            if key.combining:
                raise strax.DataNotAvailable("combining-mode data are never stored (strax combines the subruns)")
            spec = md.get("sub_run_spec")
            # A file of many ranges summarises its spec and keeps strax's hash of the full one.
            suffix = md.get("sub_run_spec_strax_hash") if md.get("sub_run_spec_summarised") else (
                spec is not None and superrun_suffix(spec))
            if not suffix or suffix != deterministic_hash((key.subruns, False)):
                raise strax.DataNotAvailable(f"{path} holds another definition of {key.run_id} than the "
                                             f"Context's run document ({key._run_id})")
        self._check_current(key, path)
        return self.backends[0].__class__.__name__, path

    def _check_current(self, key, path) -> None:
        """A stale file (another definition, registry span: superruns.storage.freshness) is not
        served; the lineage was compared above (a Context may ask for a version on purpose)."""
        from ..storage.freshness import freshness
        from ..storage.identity import ANY

        if self.project is None or (key.run_id not in self.project.runs and key.run_id not in self.project.definitions):
            return
        state = freshness(self.project, key.run_id, key.data_type, self.backends[0].data_file(path), lineage=ANY)
        if not state.current:
            raise strax.DataNotAvailable(state.message())

    # -- run documents

    def _run_document(self, run_id: str) -> dict:
        if self.project is not None:
            try:
                self.project.check_known(run_id)
            except KeyError:
                pass
            else:
                return strax_run_document(self.project, run_id)
        directory = Path(self.path) / run_id
        if self._plain_name(run_id) and directory.is_dir():
            for path in sorted(directory.iterdir()):
                if not path.is_file() or path.name.startswith("."):
                    continue
                try:
                    md = self.backends[0].data_file(path).metadata
                except (strax.DataNotAvailable, strax.DataCorrupted):
                    continue
                if isinstance(md.get("run_metadata"), dict):
                    return run_document_from_metadata(md["run_metadata"], run_id)
        # DataNotAvailable, not RunMetadataNotAvailable: strax's Context.run_metadata moves on
        # to the next frontend only after the former (strax 2.2.3, context.py).
        raise strax.DataNotAvailable(f"{self} has no run document of {run_id}")

    def run_metadata(self, run_id, projection=None):
        doc = self._run_document(run_id)
        if projection is not None:
            fields = [projection] if isinstance(projection, str) else list(projection)
            doc = {k: v for k, v in doc.items() if k in fields}
        return doc

    def _scan_runs(self, store_fields):
        if self.project is not None:
            names = list(self.project.runs) + list(self.project.definitions.names)
        else:
            names = sorted(p.name for p in Path(self.path).iterdir() if p.is_dir())
        for name in names:
            try:
                doc = self.run_metadata(name, projection=store_fields)
            except strax.DataNotAvailable:
                continue
            except SuperrunsError:
                if self.project is None or not self.project.selections_needed(name):
                    raise
                doc = pending_document(name)       # its events file is not made yet
            yield strax_typed(doc)

    def write_run_metadata(self, run_id, metadata):
        raise strax.DataNotAvailable("define superruns in the workflow's superruns.yaml (superruns.define_run)")


def pending_document(name: str) -> dict:
    """What ``select_runs`` lists for a superrun defined by a selection not made yet: its name
    and the tag ``pending`` (no times: they depend on the events the selection finds)."""
    return {"name": name, "start": None, "end": None, "mode": [], "source": [],
            "tags": [{"name": "pending"}]}


def strax_typed(doc: dict) -> dict:
    """A run document with strax's types for ``select_runs``: a regular run's ``number`` (its
    id as an int when it is all digits, else None: strax would call ``int()`` on any name) and
    ``livetime`` as a timedelta, as strax gives regular runs (superruns' float seconds strax
    converts itself), so the column sums."""
    name = doc.get("name", "")
    if not name.startswith("_"):
        doc.setdefault("number", int(name) if name.isdigit() else None)
        if isinstance(doc.get("livetime"), (int, float)):
            doc["livetime"] = datetime.timedelta(seconds=doc["livetime"])
    return doc


def _stub_types(project) -> list[str]:
    """The data types ``plugin_stubs(project)`` makes by default: every data type of this
    package's plugins (those computed from strax data types are left out: register the strax
    plugins instead)."""
    registry = project.registry
    return [dt for dt in registry
            if not any(isinstance(registry[dep], StraxDataType) for dep in registry.dependencies(dt))]


def plugin_stubs(project, data_types=None) -> list[type]:
    """strax plugin classes that *load* this project's own data types through the frontend.

    Each has the class name, version, data kind, dtype, dependencies and tracked options (with
    the configured values) of our plugin, so its strax lineage and hash equal our file's; it
    cannot compute anything: when strax would compute it (nothing stored for the key), its
    ``setup`` (or, when asked to save, its ``metadata``) raises :class:`NotBuiltError` with the
    ``snakemake`` command that builds it. They save ``EXPLICIT``ly, so ``available_for_run``
    lists them. Superrun loading needs strax's ``allow_superrun``, which strax forbids for
    data types without dependencies (sources): those load for regular runs only. An option with
    per-run defaults gets the value of our superrun lineage (``<SUBRUN-DEPENDENT:{hash}>``); the
    frontend serves a regular run's current file for such a key
    (:meth:`SuperrunsFrontend.stored_lineage_hash`).
    """
    registry = project.registry
    wanted = _stub_types(project) if data_types is None else list(data_types)
    needed = []
    for data_type in wanted:
        for dep in registry.dependencies(data_type):
            if dep not in needed:
                needed.append(dep)
    return [_stub_class(project, data_type) for data_type in needed]


def _stub_options(project, ours) -> list:
    """strax options of the stub of our plugin ``ours``: its tracked options, configured values;
    a per-run option takes the value our superrun lineage gives it."""
    from ..model.lineage import subrun_dependent_value
    from ..model.options import per_run_spec

    options = []
    for option in ours.options:
        if not option.track:
            continue
        spec = per_run_spec(option, project.options)
        value = (subrun_dependent_value(spec) if spec is not None
                 else project.options.get(option.name, option.default))
        options.append(strax.Option(option.name, default=value, track=True, help=option.help))
    return options


def _stub_class(project, data_type: str) -> type:
    ours = project.registry[data_type]
    if isinstance(ours, StraxDataType):
        raise ValueError(f"{data_type} comes from strax: register its strax plugin instead of a stub")

    def not_built(self, run_id=None):
        run_id = run_id if run_id is not None else (getattr(self, "_run_id", None) or self.run_id)
        return NotBuiltError(build_hint(project, run_id, self.provides[0]))

    def setup(self):              # strax sets up only the plugins it is about to compute
        raise not_built(self)

    def metadata(self, run_id, data_type):    # strax asks this before it makes a saver
        raise not_built(self, run_id)

    def compute(self, **kwargs):
        raise not_built(self)

    attributes = {"provides": data_type, "depends_on": tuple(ours.depends_on), "data_kind": ours.data_kind,
                  "dtype": ours.dtype, "__version__": str(ours.version), "compute": compute, "setup": setup,
                  "metadata": metadata, "allow_superrun": bool(ours.depends_on),
                  "save_when": strax.SaveWhen.EXPLICIT, "superruns_stub": True, "__module__": __name__}
    cls = type(ours.name, (strax.Plugin,), attributes)
    options = _stub_options(project, ours)
    return strax.takes_config(*options)(cls) if options else cls
