"""Plugin declarations: what each data type is, what it needs, and how it is computed.

A plugin declares one data type: its name (``provides``), the data types it is computed
from (``depends_on``), its data kind, its dtype, its version and its options.  A plugin says
its own lineage (:meth:`Plugin.lineage`); by default it is derived from these declarations
by :mod:`superruns.model.lineage` (strax's ``{data_type: [ClassName, version, {option: value}]}``).
The per-run processing in :mod:`superruns.build.processing` calls :meth:`Plugin.compute` (or
:meth:`SourcePlugin.generate`) chunk by chunk.

Where plugins come from
    The config's ``plugins:`` lists references, each either a module (``"pkg.module"``,
    whose ``PLUGINS`` sequence lists plugin classes) or a provider function
    (``"pkg.module:function"``, called with the project, returning plugins or plugin
    classes). :meth:`Registry.from_references` collects them in order. The strax bridge is
    such a provider (``superruns.straxio:plugins``): this module knows nothing of it.

The ``project`` handed to plugins and providers is a :class:`superruns.project.Project`
(passed in, never imported: the project sits above this module).
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import numpy as np

from ..base.errors import SuperrunsError
from ..base.names import did_you_mean
from .lineage import lineage as derived_lineage, superrun_lineage

# Option is declared in superruns.model.options; plugins import it from here.
from .options import Option, per_run_spec, resolve_option

if TYPE_CHECKING:
    from .seam import ProjectView

__all__ = ["ChunkSpan", "Option", "Plugin", "PluginError", "PluginFailed", "PluginReferenceError", "Registry",
           "SourcePlugin", "UnknownDataTypeError", "plugin_code", "plugins_of"]


class PluginReferenceError(SuperrunsError, ImportError):
    """A ``plugins:`` reference names no importable module or provider function."""


class PluginError(SuperrunsError, ValueError):
    """The plugins of a registry do not fit together (a data type twice, a bad dependency)."""


class UnknownDataTypeError(SuperrunsError, KeyError):
    """No plugin of the registry provides the data type."""


class PluginFailed(SuperrunsError, RuntimeError):
    """Code of a plugin (or a provider function) raised: the message names the plugin, the run
    and what it raised; the original exception is its ``__cause__`` (its traceback goes to the
    job's log)."""


def _what_it_raised(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    return f"raised {type(error).__name__}" + (f": {error}" if str(error) else "")


@contextmanager
def plugin_code(who: str, run_id: str | None = None):
    """Run code of a plugin or provider (``who`` names it) so that nothing it raises escapes
    as anything but :class:`PluginFailed`: not ``SystemExit`` or ``KeyboardInterrupt``, which
    in a thread of Snakemake's process would hang its scheduler, nor a bare ``MemoryError``.
    Deliberate errors (:class:`SuperrunsError`) pass as they are; so does a real Ctrl-C
    (:func:`~superruns.base.processes.is_users_interrupt`). Never wrap a ``yield`` in it: a generator
    closed there would be taken for the plugin's ``GeneratorExit``."""
    from ..base.processes import is_users_interrupt

    try:
        yield
    except SuperrunsError:
        raise
    except BaseException as error:
        if is_users_interrupt(error):
            raise
        where = f" for run {run_id}" if run_id is not None else ""
        raise PluginFailed(f"{who}{where} {_what_it_raised(error)}; the job's log has its traceback. "
                           "Fix the plugin (or its options), then run again") from error


@dataclass(frozen=True)
class ChunkSpan:
    """The ``[start, end)`` interval (ns) of one chunk of one run."""

    run_id: str
    start: int
    end: int


class Plugin:
    """Computes one data type from the same chunk of its dependencies.

    Subclasses set the class attributes and implement :meth:`compute`.  Every input chunk
    of one call covers the same ``[start, end)``, so outputs of one run share chunk
    boundaries with their inputs (and all data types of one kind share boundaries).
    """

    provides: str = ""
    depends_on: tuple[str, ...] = ()
    data_kind: str = ""
    version: str = "0.0.0"
    dtype: np.dtype = np.dtype([])
    options: tuple[Option, ...] = ()
    chunk_target_size_mb: int = 200
    #: True when the lineage is derived from the declarations (:meth:`lineage` not
    #: overridden): such a plugin can only depend on data types whose lineage is derived too.
    lineage_is_derived: bool = True
    #: False for a data type whose runs' data come from outside the workflow (imported, or
    #: read in place): no rule makes (or, with --forcerun, deletes) a run's file of it.
    made_by_workflow: bool = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not cls.data_kind and cls.provides:      # as in strax: by default its own data type
            cls.data_kind = cls.provides

    @property
    def name(self) -> str:
        """The plugin name recorded in the lineage (strax uses the class name)."""
        return type(self).__name__

    def compute(self, inputs: dict[str, np.ndarray], config: dict, span: ChunkSpan) -> np.ndarray:
        raise NotImplementedError

    def source_path(self, project: ProjectView, run_id: str):
        """Where a regular run's data of this type are read in place, outside ``data_dir``
        (an absolute path: a superrun's inputs name it), or None: the run's file under
        ``data_dir``. The strax bridge reads strax folders this way."""
        return None

    def open_in_place(self, path):
        """The data at ``path`` (a :meth:`source_path`) opened for reading like a
        :class:`~superruns.storage.DataFile`, or None when ``path`` is a file of ours."""
        return None

    def lineage(self, project: ProjectView, run_id: str) -> dict:
        """strax's lineage of this data type for ``run_id`` (a run or a superrun), derived
        from the declarations of this plugin and its dependencies in ``project.registry``."""
        if project.is_superrun(run_id):
            return superrun_lineage(project.registry, self.provides, project.options)
        return derived_lineage(project.registry, self.provides, run_id, project.options)

    def lineage_key(self, project: ProjectView, run_id: str) -> tuple:
        """What distinguishes this data type's lineage between runs: runs with equal keys
        have equal lineages, so the project hashes each distinct lineage once (Snakemake asks
        for the hash of every job, and runs differ only in per-run-default values)."""
        if project.is_superrun(run_id):
            return ("superrun",)
        values = project.__dict__.setdefault("_per_run_option_values", {})
        key = []
        for option in self._per_run_lineage_options(project):
            if (option.name, run_id) not in values:     # shared by the data types downstream
                values[option.name, run_id] = repr(resolve_option(option, run_id, project.options))
            key.append(values[option.name, run_id])
        return tuple(key)

    def _per_run_lineage_options(self, project: ProjectView) -> list:
        """The per-run-default options in this data type's lineage, found once per project
        (a campaign's plan asks for the key of every run: 70,000 times for 10,000 runs)."""
        cache = project.__dict__.setdefault("_per_run_lineage_options", {})
        if self.provides not in cache:
            registry, overrides = project.registry, project.options
            cache[self.provides] = [option for dependency in registry.dependencies(self.provides)
                                    for option in registry[dependency].options
                                    if per_run_spec(option, overrides) is not None]
        return cache[self.provides]

    def __repr__(self) -> str:
        return f"<{self.name} provides={self.provides!r} v{self.version}>"


class SourcePlugin(Plugin):
    """A plugin without dependencies: it produces a run's data from the run itself."""

    def generate(self, run, config: dict) -> Iterator[tuple[ChunkSpan, np.ndarray]]:
        """Yield ``(span, rows)`` per chunk, in time order, for a :class:`~superruns.model.runs.Run`."""
        raise NotImplementedError


@dataclass
class Registry:
    """The data types a workflow knows, by name."""

    plugins: dict[str, Plugin] = field(default_factory=dict)

    def register(self, plugin: Plugin) -> None:
        if plugin.provides in self.plugins:
            raise PluginError(f"Data type {plugin.provides!r} is provided twice: "
                             f"{self.plugins[plugin.provides]!r} and {plugin!r}")
        self.plugins[plugin.provides] = plugin

    def __getitem__(self, data_type: str) -> Plugin:
        try:
            return self.plugins[data_type]
        except KeyError:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise UnknownDataTypeError(f"Unknown data type {data_type!r}; the registry knows: {known}."
                                       + did_you_mean(data_type, self.plugins)) from None

    def __contains__(self, data_type: str) -> bool:
        return data_type in self.plugins

    def __iter__(self):
        return iter(self.plugins)

    def data_types_of_kind(self, data_kind: str) -> list[str]:
        return [name for name, p in self.plugins.items() if p.data_kind == data_kind]

    def dependencies(self, data_type: str) -> list[str]:
        """All data types ``data_type`` is computed from, itself included, each once."""
        seen: dict[str, None] = {}
        stack = [data_type]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen[current] = None
            stack.extend(self[current].depends_on)
        return list(seen)

    def check_derived_lineages(self) -> None:
        """Refuse a plugin whose lineage is derived but depends on a data type that keeps a
        lineage of its own (e.g. one from strax): the derived lineage would lack it."""
        own = {name for name, plugin in self.plugins.items() if not plugin.lineage_is_derived}
        for name, plugin in self.plugins.items():
            bad = own & set(plugin.depends_on) if plugin.lineage_is_derived else set()
            if bad:
                raise PluginError(
                    f"Plugin {plugin.name} ({name}) depends on {', '.join(sorted(bad))}, which keep a "
                    "lineage of their own (e.g. they come from strax): a plugin of this package cannot "
                    "depend on them (its lineage would lack theirs); make it a strax plugin instead.")

    @classmethod
    def from_references(cls, references: list[str], project: ProjectView | None = None) -> "Registry":
        """Collect the plugins of every reference (module or ``module:function``), in order."""
        registry, source = cls(), {}
        for reference in references:
            for plugin in plugins_of(reference, project):
                check_declaration(plugin, reference, getattr(project, "source", None))
                if plugin.provides in source:
                    raise PluginError(f"Data type {plugin.provides!r} is provided twice: by {source[plugin.provides]} "
                                      f"and by {reference}; keep one (e.g. `plugins: []` in the config when "
                                      "every data type comes from its strax: section)")
                source[plugin.provides] = reference
                registry.register(plugin)
        registry.check_derived_lineages()
        return registry

    @classmethod
    def from_modules(cls, module_names: list[str]) -> "Registry":
        """Collect every plugin listed in each module's ``PLUGINS`` sequence."""
        return cls.from_references(module_names)


def load_reference(reference: str):
    """The module (``module``) or function (``module:function``) a reference names."""
    module_name, _, function_name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise PluginReferenceError(f"{reference!r} cannot be imported ({error})") from None
    if not function_name:
        return module
    provider = getattr(module, function_name, None)
    if not callable(provider):
        raise PluginReferenceError(f"{reference!r}: module {module_name} has no function {function_name!r}")
    return provider


def check_declaration(plugin, reference: str, source: str | None = None) -> None:
    """Refuse a plugin whose ``provides`` or ``depends_on`` are not data type names: they name
    files and wildcards, so a job (or Snakemake) would trip over them. ``source``: the
    configuration that lists ``reference`` under ``plugins:``."""
    from ..base.names import data_type_problem

    where = f"{source}: plugins: " if source else ""
    for name in (plugin.provides, *getattr(plugin, "depends_on", ())):
        problem = data_type_problem(name)
        if problem:
            raise PluginError(f"{where}{reference}: plugin {type(plugin).__name__}: {problem}; fix the "
                              "plugin's provides / depends_on")


def plugins_of(reference: str, project: ProjectView | None = None) -> list[Plugin]:
    """The plugins a ``plugins:`` reference names: a module's ``PLUGINS`` (classes,
    instantiated here), or what the provider function ``module:function`` returns for
    ``project`` (plugins or plugin classes)."""
    module_name, _, function_name = reference.partition(":")
    loaded = load_reference(reference)
    if function_name:
        with plugin_code(f"plugin provider {reference}"):
            found = loaded(project)
    else:
        found = getattr(loaded, "PLUGINS", None)
        if found is None:
            raise PluginReferenceError(f"{reference!r}: module {module_name} has no PLUGINS list")
    return [item() if isinstance(item, type) else item for item in found]
