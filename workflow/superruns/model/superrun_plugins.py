"""Superrun-level plugins: data types computed over a whole superrun as one run.

strax's ``allow_superrun = True`` makes a plugin see the subruns of a superrun as one run
(the former "hyperrun"), and its ``ExhaustPlugin`` fetches every chunk and computes once.
:class:`SuperrunPlugin` declares the same here:

- ``exhaust = False`` (streaming): :meth:`SuperrunPlugin.compute_chunk` is called chunk by chunk, in time
  order, over the superrun's own stored inputs (concatenations, or other superrun-level
  types), exactly as per-run processing does over a run's chunks.
- ``exhaust = True``: :meth:`SuperrunPlugin.compute_superrun` is called once with every row
  of every input; :meth:`SuperrunPlugin.memory_estimate_mb` says what that needs, the rule
  asks the scheduler for it, and a job over ``superrun_plugins.max_memory_mb`` is refused
  before reading a row.

A regular run is a superrun of one: the same plugin computes over the run's own files.

Lineage
    The lineage is the usual one (plugin, version, tracked options, and the lineages of
    the inputs: a superrun's inputs carry ``<SUBRUN-DEPENDENT:...>`` for per-run options), with
    one difference: the options of superrun-level plugins must have ONE value over the
    superrun, so a per-run-default option is resolved for every leaf subrun and refused
    (:class:`SuperrunPluginError`, naming the option and the subruns) when the values differ
    (straxen PR #1546 guards axidence the same way); otherwise that value is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..base.errors import SuperrunsError
from ..base.hashing import to_jsonable
from .lineage import lineage as derived_lineage, superrun_lineage
from .options import per_run_spec, plugin_options, resolve_option
from .plugins import Plugin, PluginError, plugin_code

if TYPE_CHECKING:
    from .seam import ProjectView

__all__ = ["SuperrunPlugin", "SuperrunPluginError", "SuperrunSpan", "is_superrun_level", "leaf_runs",
           "memory_estimate_mb", "superrun_level_types", "uniform_options"]

MB = 1_000_000


class SuperrunPluginError(SuperrunsError, ValueError):
    """A superrun-level plugin cannot compute over this superrun; the message names the
    plugin, the superrun and the fix."""


@dataclass(frozen=True)
class SuperrunSpan:
    """What an exhaust plugin is told about the (super)run it computes over: its id, its
    ``[start, end)``, and the ``(run_id, start, end)`` of each leaf segment in time order."""

    run_id: str
    start: int
    end: int
    segments: tuple[tuple[str, int, int], ...]


class SuperrunPlugin(Plugin):
    """A plugin that computes over a whole superrun (or run) as one run.

    Streaming plugins implement :meth:`compute_chunk` (one call per chunk, in time order);
    exhaust ones set ``exhaust = True`` and implement :meth:`compute_superrun`.
    """

    superrun_level = True
    #: True: compute once over every row of the inputs (strax's ExhaustPlugin).
    exhaust = False
    #: Memory estimate: fixed overhead plus this many bytes per byte of input rows held
    #: (all input rows for an exhaust plugin, the largest input chunk for a streaming one).
    memory_overhead_mb = 300
    memory_per_input_byte = 2.0

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.provides and not cls.depends_on:       # strax refuses it too (Plugin.__init__)
            raise PluginError(f"Plugin {cls.__name__} ({cls.provides}) is superrun-level but depends on "
                              "nothing: it computes over the superrun's stored inputs, so give it depends_on "
                              "(a source plugin generates per run: make it a SourcePlugin).")

    def compute_chunk(self, inputs: dict[str, np.ndarray], config: dict, chunk, span: SuperrunSpan) -> np.ndarray:
        """A streaming plugin's rows for one chunk (a :class:`~superruns.model.plugins.ChunkSpan`
        of the superrun), in time order; ``span`` tells the whole superrun."""
        raise NotImplementedError

    def compute(self, inputs: dict[str, np.ndarray], config: dict, span) -> np.ndarray:
        """The plugin over one chunk taken as a whole run (what a caller of the plain
        :class:`Plugin` interface gets): its superrun is that one chunk."""
        whole = SuperrunSpan(span.run_id, span.start, span.end, ((span.run_id, span.start, span.end),))
        if self.exhaust:
            return self.compute_superrun(inputs, config, whole)
        return self.compute_chunk(inputs, config, span, whole)

    def compute_superrun(self, inputs: dict[str, np.ndarray], config: dict, span: SuperrunSpan) -> np.ndarray:
        raise NotImplementedError

    def memory_estimate_mb(self, input_nbytes: int, largest_chunk_nbytes: int) -> int:
        """MB of memory one job needs, from the uncompressed bytes of its inputs."""
        held = input_nbytes if self.exhaust else largest_chunk_nbytes
        return int(np.ceil(self.memory_overhead_mb + self.memory_per_input_byte * held / MB))

    def lineage(self, project: ProjectView, run_id: str) -> dict:
        registry = project.registry
        if project.is_superrun(run_id):
            result = superrun_lineage(registry, self.provides, project.options)
        else:
            result = derived_lineage(registry, self.provides, run_id, project.options)
        for dt in registry.dependencies(self.provides):
            if is_superrun_level(registry[dt]):
                tracked = {o.name for o in plugin_options(registry, dt) if o.track}
                values = uniform_options(project, run_id, dt)
                result[dt][2] = {name: to_jsonable(values[name], f"{dt}: option {name!r}")
                                 for name in sorted(tracked)}
        return result

    def lineage_key(self, project: ProjectView, run_id: str) -> tuple:
        base = super().lineage_key(project, run_id)
        return base + tuple(repr(sorted(uniform_options(project, run_id, dt).items()))
                            for dt in project.registry.dependencies(self.provides)
                            if is_superrun_level(project.registry[dt]))


def is_superrun_level(plugin) -> bool:
    """True for a plugin that computes over a whole superrun."""
    return bool(getattr(plugin, "superrun_level", False))


def superrun_level_types(registry) -> list[str]:
    """The registry's superrun-level data types, by name."""
    return [name for name in registry if is_superrun_level(registry[name])]


def leaf_runs(project: ProjectView, run_id: str) -> list[str]:
    """The leaf runs a superrun holds (each once, in time order); a run is its own."""
    if not project.is_superrun(run_id):
        return [run_id]
    return list(dict.fromkeys(segment.run_id for segment in project.definitions.segments(run_id)))


def uniform_options(project: ProjectView, run_id: str, data_type: str) -> dict:
    """The options of ``data_type``'s plugin resolved over ``run_id``: each must have one
    value over all of its leaf subruns, else :class:`SuperrunPluginError` names the option,
    the subruns with each value and the fix."""
    registry, overrides = project.registry, project.options
    plugin = registry[data_type]
    runs = leaf_runs(project, run_id)
    values = {}
    for option in plugin_options(registry, data_type):
        if per_run_spec(option, overrides) is None or not runs:
            values[option.name] = resolve_option(option, runs[0] if runs else None, overrides)
            continue
        by_value: dict[str, list[str]] = {}
        resolved = {}
        for run in runs:
            value = resolve_option(option, run, overrides)
            by_value.setdefault(repr(value), []).append(run)
            resolved[repr(value)] = value
        if len(by_value) > 1:
            groups = "; ".join(f"{', '.join(group)}: {key}" for key, group in by_value.items())
            raise SuperrunPluginError(
                f"Plugin {plugin.name} ({data_type}) computes over superrun {run_id} as one run, but its "
                f"option {option.name!r} has a per-run default that differs across the subruns ({groups}). "
                f"Fix: give {option.name!r} one value in options: of the config, or compute {data_type} "
                "on superruns whose subruns share one value.")
        values[option.name] = next(iter(resolved.values()))
    return values


def memory_estimate_mb(plugin: SuperrunPlugin, files) -> int:
    """The plugin's estimate for inputs ``files`` (open :class:`~superruns.storage.DataFile`s)."""
    total = sum(chunk.nbytes for f in files for chunk in f.chunks)
    largest = sum(max((chunk.nbytes for chunk in f.chunks), default=0) for f in files)
    with plugin_code(f"plugin {plugin.name} ({plugin.provides}): its memory estimate"):
        return plugin.memory_estimate_mb(total, largest)
