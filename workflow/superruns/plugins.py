"""Plugin declarations: what each data type is, what it needs, and how it is computed.

A plugin declares one data type: its name (``provides``), the data types it is computed
from (``depends_on``), its data kind, its dtype, its version and its options.  The lineage
(strax's ``{data_type: [ClassName, version, {option: value}]}``) is derived from these
declarations by :mod:`superruns.lineage`; the per-run processing in
:mod:`superruns.processing` calls :meth:`Plugin.compute` (or :meth:`SourcePlugin.generate`)
chunk by chunk.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np


@dataclass(frozen=True)
class Option:
    """A tracked (lineage-relevant) setting of a plugin.

    ``default_per_run`` is ``[[first_run, value], ...]``: a run takes the value of the last
    entry whose ``first_run`` is not after it (run ids compared as integers, as in strax).
    """

    name: str
    default: Any = None
    default_per_run: list | None = None
    track: bool = True
    help: str = ""


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

    @property
    def name(self) -> str:
        """The plugin name recorded in the lineage (strax uses the class name)."""
        return type(self).__name__

    def compute(self, inputs: dict[str, np.ndarray], config: dict, span: ChunkSpan) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.name} provides={self.provides!r} v{self.version}>"


class SourcePlugin(Plugin):
    """A plugin without dependencies: it produces a run's data from the run itself."""

    def generate(self, run, config: dict) -> Iterator[tuple[ChunkSpan, np.ndarray]]:
        """Yield ``(span, rows)`` per chunk, in time order, for a :class:`~superruns.runs.Run`."""
        raise NotImplementedError


@dataclass
class Registry:
    """The data types a workflow knows, by name."""

    plugins: dict[str, Plugin] = field(default_factory=dict)

    def register(self, plugin: Plugin) -> None:
        if plugin.provides in self.plugins:
            raise ValueError(f"Data type {plugin.provides!r} is provided twice: "
                             f"{self.plugins[plugin.provides]!r} and {plugin!r}")
        self.plugins[plugin.provides] = plugin

    def __getitem__(self, data_type: str) -> Plugin:
        try:
            return self.plugins[data_type]
        except KeyError:
            known = ", ".join(sorted(self.plugins)) or "none"
            raise KeyError(f"Unknown data type {data_type!r}; the registry knows: {known}") from None

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

    @classmethod
    def from_modules(cls, module_names: list[str]) -> "Registry":
        """Collect every plugin listed in each module's ``PLUGINS`` sequence."""
        registry = cls()
        for module_name in module_names:
            module = importlib.import_module(module_name)
            for plugin_class in module.PLUGINS:
                registry.register(plugin_class())
        return registry
