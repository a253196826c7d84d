"""A Project ties one configuration to its registry, runs, superrun definitions and data.

The Snakefile builds one Project at parse time and makes it this process's default; the
scripts build one per job from the config it hands them; users get the default one
(``config/config.yaml`` in the working directory, or ``$SUPERRUNS_CONFIG``) through
:func:`superruns.load` and friends.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from ..base.errors import SuperrunsError
from ..base.names import did_you_mean, is_superrun_id
from .config import (
    DEFAULT_CONFIG,
    PARSED_KEY,
    SNAKEMAKE_CONFIG,
    ConfigError,
    _schema_default,
    check_option_values,
    check_options,
    check_yaml_files,
    resolve_paths,
    validate_config,
)

__all__ = ["OtherLineageError", "Project", "UnknownRunIdError", "set_default_project"]


class OtherLineageError(SuperrunsError, ValueError):
    """A file of another lineage than the configuration's was asked to be built."""


class UnknownRunIdError(SuperrunsError, KeyError):
    """A target names a run or superrun the project does not define."""


_DEFAULT_PROJECT: list["Project"] = []


def set_default_project(project: "Project | None") -> None:
    """Make ``project`` what :func:`superruns.load` and friends use without ``project=`` in this
    process (None: back to the config file). The Snakefile registers its own, so the rules of a
    host workflow that includes ours as a module find the module's data."""
    _DEFAULT_PROJECT[:] = [project] if project is not None else []


def read_config_file(path: str | os.PathLike, base_dir: str | Path | None = None) -> tuple[dict, Path, str]:
    """``(config, base_dir, source)`` of a config file: its paths are relative to ``base_dir``,
    by default the workflow directory of ``<dir>/config/config.yaml`` (``<dir>``, where
    snakemake runs), else the file's own directory."""
    from ..base.yamlio import yaml_load

    path = Path(path)
    check_yaml_files([path])
    if not path.is_file():
        raise ConfigError(f"No configuration file at {path.resolve()}: run from the workflow's "
                          "directory, or set SUPERRUNS_CONFIG to the config.yaml to use.")
    config = yaml_load(path, ConfigError) or {}
    if base_dir is None:
        base_dir = path.resolve().parent.parent if path.parent.name == "config" else path.parent
    return config, Path(base_dir), str(path)


class Project:
    """Configuration, plugin registry, run registry and superrun definitions of one workflow."""

    def __init__(self, config: dict | str | os.PathLike, base_dir: str | Path | None = None, *,
                 source: str | None = None):
        """``config``: the configuration as a dict (what Snakemake hands the Snakefile), or the
        path of its file (``Project("config/config.yaml")``, as :meth:`from_file`)."""
        if isinstance(config, (str, os.PathLike)):
            config, base_dir, source = read_config_file(config, base_dir)
        # Paths in the config are relative to Snakemake's working directory: the current one
        # in the Snakefile and in its jobs.
        self.base_dir = Path(base_dir or Path.cwd()).resolve()
        self.source = source or SNAKEMAKE_CONFIG
        config = dict(config)
        #: What the workflow read when Snakemake parsed it (:meth:`inputs_fingerprint`), handed
        #: to script jobs in their config; None outside a job.
        self.parsed = config.pop(PARSED_KEY, None)
        self.config = resolve_paths(validate_config(config, self.source), self.base_dir)
        self.data_dir = Path(self.config["data_dir"])

    @classmethod
    def from_file(cls, path: str | Path = DEFAULT_CONFIG, base_dir: str | Path | None = None) -> "Project":
        """The Project of a config file; its paths are relative to ``base_dir``, by default
        the workflow directory of ``<dir>/config/config.yaml`` (``<dir>``, where snakemake
        runs), else the file's own directory."""
        return cls(Path(path), base_dir)

    @classmethod
    def default(cls) -> "Project":
        """The Project registered for this process (by the Snakefile of a workflow, also one
        included as a module), else the one of ``$SUPERRUNS_CONFIG`` or ``config/config.yaml``."""
        if _DEFAULT_PROJECT:
            return _DEFAULT_PROJECT[-1]
        return cls.from_file(os.environ.get("SUPERRUNS_CONFIG", DEFAULT_CONFIG))

    # -- what the project knows, loaded on first use ---------------------------------------

    @cached_property
    def registry(self):
        from ..model.options import typed_overrides
        from ..model.plugins import PluginReferenceError, Registry

        references = self.plugin_references()
        try:
            registry = Registry.from_references(references, self)
        except PluginReferenceError as error:
            raise ConfigError(f"{self.source}: plugins: {error}; fix: give importable modules that list "
                              "their plugins in PLUGINS, or 'module:function' providers returning them "
                              f"(now {references})") from None
        if not self.config.get("strax"):        # strax Contexts take options of their own
            check_options(registry, self.config.get("options") or {}, self.source)
            check_option_values(registry, typed_overrides(registry, self.config.get("options")), self.source)
        return registry

    def check(self) -> None:
        """Everything a job would trip over, refused before any job (the Snakefile asks when it
        is parsed): the config and its plugins (:attr:`registry`), runs that per-run options
        cannot place, the definitions (and the lock), selections, run folders that are links."""
        from .config import check_per_run_ids, check_selections

        self.registry
        self.definitions
        check_per_run_ids(self.registry, self.options, self.runs, self.source)
        check_selections(self.config["selections"], self, self.source)
        self.check_run_folders()

    def plugin_references(self) -> list[str]:
        """Where the registry's plugins come from: the config's ``plugins:``, then, when the
        config has a ``strax:`` section, its ``provider``. The provider's default is in the
        config schema (``superruns.straxio:plugins``): the core names no bridge itself."""
        references = list(self.config["plugins"])
        strax = self.config.get("strax")
        if strax:
            references.append(strax.get("provider") or _schema_default("strax", "provider"))
        return references

    @cached_property
    def runs(self):
        """The run registry: the ``runs:`` file, or what the provider of the config's
        ``run_registry`` section returns (default ``superruns.straxio:context_runs``: a strax
        Context's run documents; the core names no bridge itself)."""
        from ..model.runs import RunRegistry

        spec = self.config.get("run_registry")
        if not spec:
            return RunRegistry.load(self.config["runs"])
        from ..model.plugins import load_reference

        return load_reference(spec.get("provider") or _schema_default("run_registry", "provider"))(self)

    @cached_property
    def definitions(self):
        from ..definitions import Definitions

        if self.remote is not None:       # the workflow's selections, written to remote storage
            for name in self.config["selections"]:
                self.fetch_selection(name)
        # Definitions.load checks its files and folders itself (FIFOs, subfolders, symlinks).
        return Definitions.load(self.config["superruns"], self.runs, base_dir=self.base_dir,
                                dq_dir=self.config["dq_dir"], lock=self.config["lock"])

    def inputs_fingerprint(self) -> dict[str, str]:
        """A hash of each file this Project read besides its config: the run registry, every
        definition file, each DQ version used and the lock's entries (what they decide, those
        locked on first use included). The Snakefile hands it to script jobs, which compare it
        with what they read (:meth:`check_parsed`)."""
        from ..base.hashing import file_digest
        from ..definitions.lock import entries_hash

        definitions = self.definitions
        found = {f"runs {self.runs.source}": self._registry_digest()}
        found.update({f"definitions {path}": file_digest(path) for path in definitions.files})
        found.update({f"data quality {dq.path}": dq.hash for dq in definitions.dq_versions()})
        if definitions.lock is not None:
            found[f"lock {definitions.lock.path}"] = entries_hash(definitions.lock)
        return found

    def _registry_digest(self) -> str:
        """The run registry's file hash (runs.yaml, or a provider's cache), else a hash of its
        entries (a provider that keeps no file)."""
        from ..base.hashing import deterministic_hash, file_digest

        source = Path(str(self.runs.source))
        if source.is_file():
            return file_digest(source)
        return deterministic_hash([[r.run_id, r.start, r.end, r.mode, r.source, list(r.tags)]
                                   for r in self.runs.values()])

    def check_parsed(self) -> None:
        """Refuse to go on when the files differ from what Snakemake parsed (a script job reads
        them again): the job would make files from one configuration in a workflow planned from
        another, whose metadata and rows could disagree."""
        if self.parsed is None:
            return
        now = self.inputs_fingerprint()
        changed = sorted(key for key in set(now) | set(self.parsed) if now.get(key) != self.parsed.get(key))
        if changed:
            raise ConfigError(f"the configuration changed since Snakemake parsed the workflow (changed: "
                              f"{'; '.join(changed)}): this job would make its file from the new files in a "
                              "workflow planned from the old ones. Fix: run snakemake again, which plans "
                              "from the files as they are now.")

    def write_lock(self) -> None:
        """Write the lock entries of query and sample superruns locked on first use: what a
        run of the workflow does before its first job (reading never writes the lock)."""
        lock = self.definitions.lock
        if lock is not None:
            lock.write_pending()

    def live_definitions(self):
        """The definitions with query and sample superruns resolved from the registry as it
        is now, the lock only read (what ``superruns lock`` and ``diff`` compare)."""
        from ..definitions import Definitions

        return Definitions.load(self.config["superruns"], self.runs, base_dir=self.base_dir,
                                dq_dir=self.config["dq_dir"], lock=self.config["lock"],
                                lock_mode="live")

    @cached_property
    def options(self) -> dict:
        """The config's option overrides, values given as text typed by the options' defaults
        (``--config`` hands nested values over as text: :func:`superruns.model.options.typed_overrides`)."""
        from ..model.options import typed_overrides

        return typed_overrides(self.registry, self.config.get("options"))

    @property
    def storage(self) -> dict:
        return self.config["storage"]

    # -- names and paths ---------------------------------------------------------------------

    is_superrun = staticmethod(is_superrun_id)

    def path(self, run_id: str, data_type: str, lineage_hash: str | None = None) -> Path:
        """The data file of ``run_id``'s ``data_type`` of lineage ``lineage_hash`` (default:
        the current one, the configuration's): ``{data_dir}/{run_id}/{data_type}-{hash}``
        (:mod:`superruns.storage.layout`)."""
        return self.data_dir / self.relative_path(run_id, data_type, lineage_hash)

    def relative_path(self, run_id: str, data_type: str, lineage_hash: str | None = None) -> str:
        """:meth:`path` relative to ``data_dir``, as the rules name their inputs and outputs; an
        absolute path for a regular run whose data are read in place (the plugin's
        :meth:`~superruns.model.plugins.Plugin.source_path`, e.g. a strax folder)."""
        from ..storage.layout import relative_path

        if lineage_hash is None and not self.is_superrun(run_id):
            source = self.registry[data_type].source_path(self, run_id)
            if source is not None:
                return str(source)
        return relative_path(run_id, data_type, lineage_hash or self.lineage_hash(run_id, data_type))

    def stored_versions(self, run_id: str, data_type: str) -> dict[str, Path]:
        """``{lineage_hash: path}`` of every stored version of ``run_id``'s ``data_type`` (on
        remote storage when the config has a ``remote:`` section: paths as the rules name them)."""
        from ..storage.layout import stored_versions

        if self.remote is None:
            return stored_versions(self.data_dir, run_id, data_type)
        return {lineage: Path(path) for (dt, lineage), path in self.scan_run(run_id)[0].items()
                if dt == data_type}

    # -- where the data lie: data_dir, or remote storage (config remote:, docs/remote.md) ---

    @cached_property
    def remote(self):
        """The :class:`~superruns.storage.remote.RemoteStore` of the config's ``remote:``
        section, or None (the data are in ``data_dir``)."""
        section = self.config.get("remote")
        if not section:
            return None
        from ..storage.remote import RemoteSettings, RemoteStore

        if self.base_dir not in self.data_dir.parents:
            raise ConfigError(f"{self.source}: remote: needs data_dir inside the workflow's directory "
                              f"({self.base_dir}), as Snakemake's storage prefix maps paths relative to it; "
                              f"data_dir is {self.data_dir}")
        return RemoteStore(RemoteSettings.from_config(section), self.base_dir)

    def open_data(self, path, **options):
        """The data file at ``path`` (as :meth:`path` names it) where it lies: a
        :class:`~superruns.storage.DataFile`, or a remote one read by byte ranges."""
        if self.remote is not None:
            from ..storage.remote_file import RemoteDataFile

            return RemoteDataFile(self.remote.source(path), **options)
        from ..storage import DataFile

        return DataFile(path, **options)

    def fetch_selection(self, name: str) -> bool:
        """With ``remote:`` storage, copy the events file the workflow wrote for selection
        ``name`` from there to its path in ``data_dir``, where the definitions of superruns
        defined by ``events:`` read it (Snakemake's storage does not fill that path). Whether
        there was one to copy."""
        from ..base.atomic import write_atomic
        from ..storage.format import DataFileMissing
        from ..storage.layout import selection_path

        if self.remote is None:
            return False
        path = selection_path(self.data_dir, name)
        try:
            source = self.remote.source(path)
        except DataFileMissing:           # not selected yet (the checkpoint will write it)
            return False
        try:
            data = source.read(0, source.size)
        finally:
            source.close()
        if not path.is_file() or path.read_bytes() != data:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
        return True

    def data_exists(self, path) -> bool:
        return self.remote.exists(path) if self.remote is not None else Path(path).exists()

    def scan_run(self, run_id: str) -> tuple[dict, set[str]]:
        """``({(data_type, lineage_hash): path}, other names)`` of the run's folder, where
        the data lie (:func:`superruns.storage.layout.scan_run`)."""
        return self.run_listing([run_id])(run_id)

    def run_listing(self, run_ids):
        """A function ``run_id -> scan_run(run_id)`` for many runs: one directory listing per
        run in ``data_dir``; on remote storage one listing of the whole data directory
        (a recursive XRootD dirlist, or S3 list pages of 1,000 keys), taken now."""
        from ..storage.layout import parse_data_file_name, scan_run

        if self.remote is None:
            data_dir = str(self.data_dir)
            return lambda run_id: scan_run(data_dir, run_id, as_paths=False)
        names = self.remote.tree(self.data_dir) if len(run_ids) > 1 else \
            {run_ids[0]: self.remote.names_in(self.data_dir / run_ids[0])} if run_ids else {}

        def listing(run_id: str):
            found, others = {}, set()
            for name in names.get(run_id, ()):
                parsed = parse_data_file_name(name)
                if parsed:
                    found[parsed] = str(self.data_dir / run_id / name)
                else:
                    others.add(name)
            return found, others

        return listing

    def check_known(self, run_id: str) -> None:
        known = self.definitions if self.is_superrun(run_id) else self.runs
        if run_id not in known:
            what = "superrun" if self.is_superrun(run_id) else "run"
            raise UnknownRunIdError(f"Unknown {what} {run_id!r}: define it in "
                                    f"{'the superrun definitions' if what == 'superrun' else self.config['runs']}."
                                    + did_you_mean(run_id, known))

    def check_run_folders(self) -> None:
        """Refuse run folders of the data directory that are symbolic links (the Snakefile asks
        before any job): jobs write into a run's folder, and Snakemake removes a job's old
        outputs there before it runs, so through a link to another project's folder both would
        change that project's files. One listing of the data directory."""
        try:
            entries = list(os.scandir(self.data_dir))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.is_symlink() and (entry.name in self.runs or entry.name in self.definitions):
                raise ConfigError(
                    f"{entry.path} is a symbolic link (to {os.readlink(entry.path)}), not a run folder of "
                    f"this data directory ({self.data_dir}): jobs write there and Snakemake removes old "
                    "outputs there, which would change the files the link points to. Fix: make it a "
                    "folder of its own (copy in the files this project should share), then run again.")

    # -- lineage -----------------------------------------------------------------------------

    def lineage(self, run_id: str, data_type: str) -> dict:
        """strax's lineage of ``data_type`` for a run or superrun, as its plugin says it."""
        return self.registry[data_type].lineage(self, run_id)

    def lineage_hash(self, run_id: str, data_type: str) -> str:
        """The lineage hash of (run, data type); computed once per distinct lineage (see
        :meth:`superruns.model.plugins.Plugin.lineage_key`)."""
        from ..model.lineage import lineage_hash

        known = self.__dict__.setdefault("_run_lineage_hashes", {})    # a plan asks per job
        if (run_id, data_type) in known:
            return known[run_id, data_type]
        key = (data_type, self.registry[data_type].lineage_key(self, run_id))
        cache = self.__dict__.setdefault("_lineage_hashes", {})
        if key not in cache:
            cache[key] = lineage_hash(self.lineage(run_id, data_type))
        known[run_id, data_type] = cache[key]
        return cache[key]

    def current_lineage_hash(self, run_id: str, data_type: str, asked: str) -> str:
        """The lineage hash of ``run_id/data_type``, refusing an ``asked`` other one: the
        configuration makes only its own version (other versions stay as they were built)."""
        wanted = self.lineage_hash(run_id, data_type)
        if asked != wanted:
            raise OtherLineageError(
                f"{run_id}/{data_type}-{asked}: the configuration makes lineage {wanted} of "
                f"{run_id}/{data_type}, not {asked}; ask for {run_id}/{data_type} (the current version), "
                "or switch the configuration back to the one of that lineage to build it.")
        return wanted

    def per_run_options(self, data_type: str) -> set[str]:
        from ..model.options import per_run_options

        return per_run_options(self.registry, data_type, self.options)

    def resolved_options(self, run_id: str, data_type: str) -> dict:
        from ..model.options import resolve_options

        return resolve_options(self.registry, data_type, run_id, self.options)

    # -- run metadata ------------------------------------------------------------------------

    def run_metadata(self, run_id: str) -> dict:
        """The run document: start/end (int ns), livetime (s), mode, source, tags, and for a
        superrun its sub_run_spec (as defined and flattened) and hash."""
        self.check_known(run_id)
        if self.is_superrun(run_id):
            return self.definitions.run_metadata(run_id)
        run = self.runs[run_id]
        return {"name": run.run_id, "start": run.start, "end": run.end,
                "livetime": (run.end - run.start) / 1e9, "mode": [run.mode] if run.mode else [],
                "source": [run.source] if run.source else [], "tags": sorted(run.tags)}

    # -- what a superrun needs built first ----------------------------------------------

    def selections_needed(self, superrun: str) -> list[str]:
        """The configured selections whose events files ``superrun`` (or a superrun it holds)
        is defined by."""
        from ..storage.layout import selection_path

        produced = {selection_path(self.data_dir, name).resolve(): name for name in self.config["selections"]}
        return [produced[path.resolve()] for path in self.definitions.events_files(superrun)
                if path.resolve() in produced]
