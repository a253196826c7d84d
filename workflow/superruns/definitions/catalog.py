"""``Definitions``: every superrun definition loaded, checked against the run registry, and
queried (segments, subruns, run metadata), with each superrun flattened once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..names import is_superrun_id
from ..runs import RunRegistry
from .errors import UnknownSuperrunError, definition_error as _error
from .events import events_to_window_arrays, read_events
from .graph import Flat, Windows, check_depth, check_references, flatten, topological_order
from .metadata import flat_sub_run_spec, run_metadata, sub_run_spec
from .parsing import definition_files, read_definitions
from .records import Segment, Superrun

__all__ = ["Definitions"]


class Definitions:
    """All superrun definitions, validated against a run registry, with cached flattening."""

    def __init__(self, superruns: Mapping[str, Superrun], runs: RunRegistry, *,
                 base_dir: str | Path = Path("."), files: Iterable[Path] = (),
                 paths: Iterable[Path] | None = None):
        self._defs: dict[str, Superrun] = dict(superruns)
        self.runs = runs
        self.base_dir = Path(base_dir)
        self.files = tuple(files)
        #: The files and directories the definitions were read from (None: not from files).
        self.paths = None if paths is None else tuple(Path(p) for p in paths)
        self._flat: dict[str, Flat] = {}
        check_references(self._defs, runs, self._files_text())
        self._order = topological_order(self._defs)
        check_depth(self._defs, self._order)
        # Flatten now what needs no events file: events files are read lazily, as the
        # workflow itself may produce them.
        needs_events: dict[str, bool] = {}
        for name in self._order:  # inner superruns first
            d = self._defs[name]
            needs_events[name] = d.events is not None or any(
                needs_events.get(sub, False) for sub in d.named_subruns())
            if not needs_events[name]:
                self.flat(name)

    @classmethod
    def load(cls, paths: Iterable[str | Path] | str | Path, runs: RunRegistry, *,
             base_dir: str | Path = Path(".")) -> "Definitions":
        """Read definition files and directories (a directory contributes its ``*.yaml`` and
        ``*.yml``).

        A missing path, or anything else in a directory, is an error (see
        :func:`.parsing.definition_files`). A superrun defined in two files is an error
        naming both.
        """
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        files = definition_files(paths)
        return cls(read_definitions(files), runs, base_dir=base_dir, files=files, paths=paths)

    def _files_text(self) -> str:
        return ", ".join(str(f) for f in self.files) or "the loaded definitions"

    def __repr__(self) -> str:
        return f"Definitions({len(self)} superruns from {self._files_text()})"

    # -- flattening ------------------------------------------------------------------

    def flat(self, name: str) -> Flat:
        """The flattened form of superrun ``name`` (computed once)."""
        flat = self._flat.get(name)
        if flat is None:
            flat = flatten(self.get(name), self._defs, self.runs, self.flat,
                           self._event_windows)
            self._flat[name] = flat
        return flat

    def _event_windows(self, d: Superrun) -> Windows:
        path = self.events_file(d.name)
        if not path.exists():
            raise _error(d.source_file, d.name, "events", f"events file {path} does not exist",
                         "create it (or let the workflow make it) first, or fix the path (relative "
                         f"to the working directory {self.base_dir.resolve()})")
        if not path.is_file():
            raise _error(d.source_file, d.name, "events", f"{path} is not a regular file",
                         "name a .npy or .csv file")
        try:
            return events_to_window_arrays(read_events(path), self.runs, from_run=d.from_run,
                                           pad_ns=d.pad_ns, where=str(path))
        except (ValueError, OSError) as exc:
            raise _error(d.source_file, d.name, "events", str(exc),
                         "fix the events file (columns time, endtime or length+dt, run_id as "
                         "strings, each event inside its run) or from_run/pad_ns") from None

    # -- queries ---------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """All superrun names, sorted."""
        return sorted(self._defs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._defs  # names are str; no TypeError

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self._defs)

    def get(self, name: str) -> Superrun:
        """The definition of ``name`` (an :class:`UnknownSuperrunError` when undefined)."""
        try:
            return self._defs[name]
        except (KeyError, TypeError):
            pass
        known = ", ".join(self.names[:10]) + (" ..." if len(self) > 10 else "")
        hint = (f"{name!r} is a regular run, not a superrun" if name in self.runs
                else f"no superrun {name!r} is defined in {self._files_text()}")
        raise UnknownSuperrunError(f"{hint}; fix: define it in superruns.yaml or superruns.d/, or "
                                   f"use a defined name ({known or 'none defined'})",
                                   superrun=name)

    def superruns(self) -> dict[str, Superrun]:
        """All definitions by name (a copy)."""
        return dict(self._defs)

    def events_file(self, name: str) -> Path | None:
        """The events file of ``name`` (resolved against ``base_dir``), or None."""
        d = self.get(name)
        return None if d.events is None else self.base_dir / d.events

    def selection(self, name: str) -> str:
        return self.get(name).selection

    def segments(self, name: str) -> list[Segment]:
        """Leaf segments of ``name``, in time order, non-overlapping."""
        return list(self.flat(name).segments)

    def sourced_segments(self, name: str) -> list[tuple[str, Segment]]:
        """``(direct subrun, leaf segment)`` in time order: which subrun's file holds each segment."""
        return list(self.flat(name).sourced)

    def direct_subruns(self, name: str) -> list[str]:
        """Subruns named by the definition (runs, range keys, event runs), in time order."""
        return list(self.flat(name).direct)

    def leaf_runs(self, name: str) -> list[str]:
        """Regular runs ``name`` holds (part of), in time order."""
        return list(dict.fromkeys(seg.run_id for seg in self.flat(name).segments))

    def sub_run_spec(self, name: str) -> dict[str, Any]:
        """``{subrun: "all" | [[s, e], ...]}`` as defined, keys in time order."""
        d = self.get(name)
        return sub_run_spec(d, self.flat(name))

    def flat_sub_run_spec(self, name: str) -> dict[str, Any]:
        """``{leaf_run: "all" | [[s, e], ...]}`` in time order; "all" for a run held whole."""
        return flat_sub_run_spec(self.flat(name), self.runs)

    def run_metadata(self, name: str) -> dict[str, Any]:
        """The superrun's run document (times int ns, livetime float s of what it holds);
        computed once (a copy each time: the specs inside are shared, do not change them)."""
        cache = self.__dict__.setdefault("_run_metadata", {})
        if name not in cache:
            cache[name] = run_metadata(self.get(name), self.flat(name), self.runs)
        return dict(cache[name])

    def dependents(self, name: str) -> list[str]:
        """Superruns that hold ``name`` (a run or a superrun), directly or through others; sorted.

        For a regular run this reads the events files of superruns defined by events without
        ``from_run``.
        """
        holders: dict[str, set[str]] = {}
        for sr, d in self._defs.items():
            subs = set(d.named_subruns())
            if d.events is not None and d.from_run is None and not is_superrun_id(name):
                subs.update(self.flat(sr).windows)
            for sub in subs:
                holders.setdefault(sub, set()).add(sr)
        out: set[str] = set()
        todo = [name]
        while todo:
            for sr in holders.get(todo.pop(), ()):
                if sr not in out:
                    out.add(sr)
                    todo.append(sr)
        return sorted(out)
