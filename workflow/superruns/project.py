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

from .errors import SuperrunsError
from .names import is_superrun_id
from .schemas import first_error, load_schema, schema_validator

SCHEMA_DIR = Path(__file__).parent / "schemas"
DEFAULT_CONFIG = Path("config") / "config.yaml"
PATH_KEYS = ("data_dir", "runs", "dq_dir", "lock")
# Where the config of a Snakemake run comes from, for error messages.
SNAKEMAKE_CONFIG = f"{DEFAULT_CONFIG} (with any --configfile/--config given to snakemake)"
MODULE_CONFIG = "the config: given to the host workflow's `module` statement for superruns"

__all__ = ["ConfigError", "Project", "check_config_files", "load_schema", "resolve_paths",
           "set_default_project", "validate_config"]


class ConfigError(SuperrunsError, ValueError):
    """The workflow configuration is invalid; the message names the file and the key."""


def validate_config(config: dict, source: str = "the configuration") -> dict:
    """Check ``config`` against the schema and return a copy with defaults filled in."""
    schema = load_schema("config.schema.json")
    error = first_error(schema_validator("config.schema.json"), config)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ConfigError(f"{source}: invalid value at '{where}': {error.message}. "
                          f"Fix it following {SCHEMA_DIR / 'config.schema.json'}.")
    filled = dict(config)
    for key, spec in schema["properties"].items():
        if key not in filled and "default" in spec:
            filled[key] = spec["default"]
    storage_spec = schema["properties"]["storage"]["properties"]
    filled["storage"] = {key: spec["default"] for key, spec in storage_spec.items()} | dict(
        filled.get("storage") or {})
    return filled


def resolve_paths(config: dict, base_dir: Path) -> dict:
    """Make every path in ``config`` absolute, relative to ``base_dir`` (Snakemake's working
    directory), so that the Project does not depend on the current directory later on."""
    resolved = dict(config)
    for key in PATH_KEYS:
        resolved[key] = str((base_dir / config[key]).resolve())
    resolved["superruns"] = [str((base_dir / p).resolve()) for p in config["superruns"]]
    return resolved


def check_options(registry, options: dict, source: str) -> None:
    """Refuse option overrides that no plugin declares (a typo would silently change nothing)."""
    import difflib

    from .options import unknown_options

    unknown = unknown_options(registry, options)
    if unknown:
        known = sorted({option.name for dt in registry for option in registry[dt].options})
        hints = [f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name)
                 for name in unknown for close in [difflib.get_close_matches(name, known, n=1)]]
        raise ConfigError(f"{source}: options: unknown option {', '.join(hints)}: no plugin declares "
                          f"it; fix the spelling or remove it (known options: {', '.join(known)})")


class OtherLineageError(SuperrunsError, ValueError):
    """A file of another lineage than the configuration's was asked to be built."""


class UnknownRunIdError(SuperrunsError, KeyError):
    """A target names a run or superrun the project does not define."""


def _schema_default(section: str, key: str):
    return load_schema("config.schema.json")["properties"][section]["properties"][key]["default"]


def check_config_files(paths) -> None:
    """Read Snakemake's config files again with the package's YAML loader: Snakemake's keeps
    the last of two equal keys without a word, ours refuses them (naming file and line)."""
    from .yamlio import yaml_load

    for path in paths:
        yaml_load(path, ConfigError)   # refuses a FIFO or other non-regular file itself


def check_yaml_files(paths) -> None:
    """Refuse at once configuration files that exist but are not regular files (a FIFO would
    make the YAML reader wait forever)."""
    from .files import NotARegularFile, check_regular

    for path in map(Path, paths):
        if path.exists():
            try:
                check_regular(path, "a YAML file")
            except NotARegularFile as error:
                raise ConfigError(str(error)) from None


def check_data_dir_writable(data_dir) -> None:
    """Stop the workflow with one line if ``data_dir`` cannot be written (read-only file
    system, permissions): the Snakefile's ``onstart:`` calls it before any job runs."""
    import sys

    from .files import writable_problem

    problem = writable_problem(data_dir)
    if problem:
        print(f"superruns: the data directory cannot be written: {problem}", file=sys.stderr)
        raise SystemExit(1)


# The process's default Project (see set_default_project); a list, so nothing rebinds a global.
_DEFAULT_PROJECT: list["Project"] = []


def set_default_project(project: "Project | None") -> None:
    """Make ``project`` what :func:`superruns.load` and friends use without ``project=`` in this
    process (None: back to the config file). The Snakefile registers its own, so the rules of a
    host workflow that includes ours as a module find the module's data."""
    _DEFAULT_PROJECT[:] = [project] if project is not None else []


class Project:
    """Configuration, plugin registry, run registry and superrun definitions of one workflow."""

    def __init__(self, config: dict, base_dir: str | Path | None = None, *, source: str | None = None):
        # Paths in the config are relative to Snakemake's working directory: the current one
        # in the Snakefile and in its jobs.
        self.base_dir = Path(base_dir or Path.cwd()).resolve()
        self.source = source or SNAKEMAKE_CONFIG
        self.config = resolve_paths(validate_config(config, self.source), self.base_dir)
        self.data_dir = Path(self.config["data_dir"])

    @classmethod
    def from_file(cls, path: str | Path = DEFAULT_CONFIG, base_dir: str | Path | None = None) -> "Project":
        """The Project of a config file; its paths are relative to ``base_dir``, by default
        the workflow directory of ``<dir>/config/config.yaml`` (``<dir>``, where snakemake
        runs), else the file's own directory."""
        from .yamlio import yaml_load

        path = Path(path)
        check_yaml_files([path])
        if not path.is_file():
            raise ConfigError(f"No configuration file at {path.resolve()}: run from the workflow's "
                              "directory, or set SUPERRUNS_CONFIG to the config.yaml to use.")
        config = yaml_load(path, ConfigError) or {}
        if base_dir is None:
            base_dir = path.resolve().parent.parent if path.parent.name == "config" else path.parent
        return cls(config, base_dir, source=str(path))

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
        from .plugins import PluginReferenceError, Registry

        references = self.plugin_references()
        try:
            registry = Registry.from_references(references, self)
        except PluginReferenceError as error:
            raise ConfigError(f"{self.source}: plugins: {error}; fix: give importable modules that list "
                              "their plugins in PLUGINS, or 'module:function' providers returning them "
                              f"(now {references})") from None
        if not self.config.get("strax"):        # strax Contexts take options of their own
            check_options(registry, self.config.get("options") or {}, self.source)
        return registry

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
        from .runs import RunRegistry

        return RunRegistry.load(self.config["runs"])

    @cached_property
    def definitions(self):
        from .definitions import Definitions

        # Definitions.load checks its files and folders itself (FIFOs, subfolders, symlinks).
        return Definitions.load(self.config["superruns"], self.runs, base_dir=self.base_dir,
                                dq_dir=self.config["dq_dir"], lock=self.config["lock"])

    def live_definitions(self):
        """The definitions with query and sample superruns resolved from the registry as it
        is now, the lock only read (what ``superruns lock`` and ``diff`` compare)."""
        from .definitions import Definitions

        return Definitions.load(self.config["superruns"], self.runs, base_dir=self.base_dir,
                                dq_dir=self.config["dq_dir"], lock=self.config["lock"],
                                lock_mode="live")

    @cached_property
    def options(self) -> dict:
        """The config's option overrides, values given as text typed by the options' defaults
        (``--config`` hands nested values over as text: :func:`superruns.options.typed_overrides`)."""
        from .options import typed_overrides

        return typed_overrides(self.registry, self.config.get("options"))

    @property
    def storage(self) -> dict:
        return self.config["storage"]

    # -- names and paths ---------------------------------------------------------------------

    is_superrun = staticmethod(is_superrun_id)

    def path(self, run_id: str, data_type: str, lineage_hash: str | None = None) -> Path:
        """The data file of ``run_id``'s ``data_type`` of lineage ``lineage_hash`` (default:
        the current one, the configuration's): ``{data_dir}/{run_id}/{data_type}-{hash}``
        (:mod:`superruns.layout`)."""
        return self.data_dir / self.relative_path(run_id, data_type, lineage_hash)

    def relative_path(self, run_id: str, data_type: str, lineage_hash: str | None = None) -> str:
        """:meth:`path` relative to ``data_dir``, as the rules name their inputs and outputs."""
        from .layout import relative_path

        return relative_path(run_id, data_type, lineage_hash or self.lineage_hash(run_id, data_type))

    def stored_versions(self, run_id: str, data_type: str) -> dict[str, Path]:
        """``{lineage_hash: path}`` of every stored version of ``run_id``'s ``data_type``."""
        from .layout import stored_versions

        return stored_versions(self.data_dir, run_id, data_type)

    def check_known(self, run_id: str) -> None:
        known = self.definitions if self.is_superrun(run_id) else self.runs
        if run_id not in known:
            what = "superrun" if self.is_superrun(run_id) else "run"
            raise UnknownRunIdError(f"Unknown {what} {run_id!r}: define it in "
                                    f"{'the superrun definitions' if what == 'superrun' else self.config['runs']}.")

    # -- lineage -----------------------------------------------------------------------------

    def lineage(self, run_id: str, data_type: str) -> dict:
        """strax's lineage of ``data_type`` for a run or superrun, as its plugin says it."""
        return self.registry[data_type].lineage(self, run_id)

    def lineage_hash(self, run_id: str, data_type: str) -> str:
        """The lineage hash of (run, data type); computed once per distinct lineage (see
        :meth:`superruns.plugins.Plugin.lineage_key`)."""
        from .lineage import lineage_hash

        key = (data_type, self.registry[data_type].lineage_key(self, run_id))
        cache = self.__dict__.setdefault("_lineage_hashes", {})
        if key not in cache:
            cache[key] = lineage_hash(self.lineage(run_id, data_type))
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
        from .options import per_run_options

        return per_run_options(self.registry, data_type, self.options)

    def resolved_options(self, run_id: str, data_type: str) -> dict:
        from .options import resolve_options

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

    # -- what a superrun is built from -------------------------------------------------------

    def superrun_sources(self, superrun: str) -> list[tuple[str, "Segment", bool]]:  # noqa: F821
        """``(direct subrun, segment, whole)`` per leaf segment, in time order.

        Each segment is read from the file of the direct subrun that holds it. ``whole`` is
        true when that subrun is named whole in ``runs:``: then every row of the segment is
        taken as stored; otherwise the superrun's selection rule applies.
        """
        whole_subruns = set(self.definitions.resolved(superrun).runs)
        return [(subrun, segment, subrun in whole_subruns)
                for subrun, segment in self.definitions.sourced_segments(superrun)]

    def selections_needed(self, superrun: str) -> list[str]:
        """The configured selections whose events files ``superrun`` (or a superrun it holds)
        is defined by."""
        from .selections import selection_path

        produced = {selection_path(self, name).resolve(): name for name in self.config["selections"]}
        needed, stack, seen = [], [superrun], set()
        while stack:
            name = stack.pop()
            if name in seen or not self.is_superrun(name):
                continue
            seen.add(name)
            definition = self.definitions.get(name)
            events = self.definitions.events_file(name)
            if events is not None and events.resolve() in produced:
                needed.append(produced[events.resolve()])
            stack.extend(definition.runs)
            stack.extend(definition.ranges)
            stack.extend(definition.operands)   # union/intersection/difference
        return needed
