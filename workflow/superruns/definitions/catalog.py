"""``Definitions``: every superrun definition loaded, checked against the run registry, and
queried (segments, subruns, run metadata), with each superrun flattened once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..base.names import did_you_mean, is_superrun_id
from ..model.runs import RunRegistry
from .derive import Context, Resolution, operand_spans, resolve, spans_of_segments
from .dq import DataQuality, DQError, load_dq
from .errors import UnknownSuperrunError, definition_error as _error
from .events import events_to_window_arrays, read_events
from .graph import Flat, Windows, check_depth, check_references, flatten, topological_order
from .lock import Lock
from .metadata import flat_sub_run_spec, run_metadata, sub_run_spec
from .parsing import definition_files, read_definitions
from .records import Segment, Superrun

#: Where data-quality versions and the lock live, relative to ``base_dir``, by default.
DEFAULT_DQ_DIR = Path("config") / "dq"
DEFAULT_LOCK = Path("config") / "superruns.lock.yaml"

__all__ = ["Definitions"]


class Definitions:
    """All superrun definitions, validated against a run registry, with cached flattening."""

    def __init__(self, superruns: Mapping[str, Superrun], runs: RunRegistry, *,
                 base_dir: str | Path = Path("."), files: Iterable[Path] = (),
                 paths: Iterable[Path] | None = None, dq_dir: str | Path | None = None,
                 lock: str | Path | None = None, lock_mode: str = "check"):
        """``lock``: the lock file (None: query superruns resolve live, nothing is locked);
        ``lock_mode``: ``check`` (the workflow: locked runs, refuse differences, lock on
        first use) or ``live`` (resolve from the registry; :attr:`live_runs` says what)."""
        self._defs: dict[str, Superrun] = dict(superruns)
        self.runs = runs
        self.base_dir = Path(base_dir)
        self.files = tuple(files)
        #: The files and directories the definitions were read from (None: not from files).
        self.paths = None if paths is None else tuple(Path(p) for p in paths)
        self._flat: dict[str, Flat] = {}
        self._ready = False
        self.dq_dir = Path(dq_dir) if dq_dir is not None else self.base_dir / DEFAULT_DQ_DIR
        self.lock = None if lock is None else Lock.load(lock, strict=lock_mode == "check")
        self.lock_mode = lock_mode
        self._resolutions: dict[str, Resolution] = {}
        self._dq: dict[str, DataQuality] = {}
        #: What each query/sample superrun resolves to in the live registry (as resolved).
        self.live_runs: dict[str, list[str]] = {}
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
        self._ready = True
        if self.lock is not None:
            self.lock.flush()

    @classmethod
    def load(cls, paths: Iterable[str | Path] | str | Path, runs: RunRegistry, *,
             base_dir: str | Path = Path("."), **options) -> "Definitions":
        """Read definition files and directories (a directory contributes its ``*.yaml`` and
        ``*.yml``).

        A missing path, or anything else in a directory, is an error (see
        :func:`.parsing.definition_files`). A superrun defined in two files is an error
        naming both.
        """
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        files = definition_files(paths)
        return cls(read_definitions(files), runs, base_dir=base_dir, files=files, paths=paths,
                   **options)

    def _files_text(self) -> str:
        return ", ".join(str(f) for f in self.files) or "the loaded definitions"

    def __repr__(self) -> str:
        return f"Definitions({len(self)} superruns from {self._files_text()})"

    # -- flattening ------------------------------------------------------------------

    def flat(self, name: str) -> Flat:
        """The flattened form of superrun ``name`` (computed once)."""
        flat = self._flat.get(name)
        if flat is None:
            d = self.get(name)
            if d.derived:
                resolution = resolve(d, self._context())
                self._resolutions[name] = resolution
                d = resolution.plain
            flat = flatten(d, self._defs, self.runs, self.flat, self._event_windows)
            if self._ready and self.lock is not None:
                self.lock.flush()   # a difference from the lock raises here, before caching
            self._flat[name] = flat
        return flat

    # -- derived superruns (docs/datasets.md) --------------------------------------------

    def _context(self) -> Context:
        return Context(
            runs=self.runs,
            spans_of=self._operand_spans,
            plain_spans=lambda d: spans_of_segments(flatten(
                d, self._defs, self.runs, self.flat, self._event_windows).segments),
            dq_of=self._dq_of, locked=self._locked, base_dir=self.base_dir)

    def _operand_spans(self, name: str):
        """The run spans of a set operand (a run or a superrun), computed once."""
        cache = self.__dict__.setdefault("_spans", {})
        if name not in cache:
            cache[name] = operand_spans(name, self.runs, lambda n: self.flat(n).segments)
        return cache[name]

    def _dq_of(self, d: Superrun) -> DataQuality | None:
        if d.query is None or "dq" not in d.query:
            return None
        version, require = d.query["dq"]["version"], d.query["dq"]["require"]
        if version not in self._dq:
            try:
                self._dq[version] = load_dq(self.dq_dir, version)
            except DQError as exc:
                raise _error(d.source_file, d.name, "query.dq", str(exc), "fix the DQ version "
                             f"or its file in {self.dq_dir}") from None
        dq = self._dq[version]
        unknown = dq.check_require(require)
        if unknown:
            raise _error(d.source_file, d.name, "query.dq.require", f"DQ version {version!r} "
                         f"({dq.path}) has no subsystem {unknown!r} (it has: "
                         f"{', '.join(dq.subsystems)})", "require subsystems the version judges")
        return dq

    def dq_versions(self) -> list[DataQuality]:
        """The data-quality versions the definitions used so far, by version."""
        return [self._dq[version] for version in sorted(self._dq)]

    def _locked(self, d: Superrun, ids: list[str]) -> list[str]:
        self.live_runs[d.name] = list(ids)
        if self.lock is None or self.lock_mode != "check":
            return ids
        return self.lock.check(d, ids, self.runs)

    def locked_superruns(self) -> dict[str, tuple[Superrun, list[str]]]:
        """Every query or sample superrun and the runs it resolves to now (resolving each)."""
        out = {}
        for name in self.names:
            d = self._defs[name]
            if d.query is not None or d.sample is not None:
                self.flat(name)
                out[name] = (d, self.live_runs[name])
        return out

    def resolution(self, name: str) -> Resolution | None:
        """How derived superrun ``name`` was resolved (None for a plain one)."""
        self.flat(name)
        return self._resolutions.get(name)

    def resolved(self, name: str) -> Superrun:
        """The plain definition ``name`` stands for: itself, or a derived one resolved to
        leaf runs (whole in ``runs``, cut in ``ranges``)."""
        resolution = self.resolution(name)
        return self.get(name) if resolution is None else resolution.plain

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
                                   f"use a defined name ({known or 'none defined'})."
                                   + did_you_mean(name, self.names), superrun=name)

    def superruns(self) -> dict[str, Superrun]:
        """All definitions by name (a copy)."""
        return dict(self._defs)

    def events_file(self, name: str) -> Path | None:
        """The events file of ``name`` (resolved against ``base_dir``), or None."""
        d = self.get(name)
        return None if d.events is None else self.base_dir / d.events

    def events_files(self, name: str) -> list[Path]:
        """The events files that ``name`` and every superrun it names (transitively) are
        defined by: what must exist before they can be flattened."""
        files, stack, seen = [], [name], set()
        while stack:
            current = stack.pop()
            if current in seen or not is_superrun_id(current):
                continue
            seen.add(current)
            events = self.events_file(current)
            if events is not None:
                files.append(events)
            stack.extend(self.get(current).named_subruns())
        return files

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
        return sub_run_spec(self.resolved(name), self.flat(name))

    def flat_sub_run_spec(self, name: str) -> dict[str, Any]:
        """``{leaf_run: "all" | [[s, e], ...]}`` in time order; "all" for a run held whole."""
        return flat_sub_run_spec(self.flat(name), self.runs)

    def run_metadata(self, name: str) -> dict[str, Any]:
        """The superrun's run document (times int ns, livetime float s of what it holds);
        computed once (a copy each time: the specs inside are shared, do not change them)."""
        cache = self.__dict__.setdefault("_run_metadata", {})
        if name not in cache:
            cache[name] = run_metadata(self.get(name), self.flat(name), self.runs, self.resolution(name))
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
            if d.derived and not is_superrun_id(name):
                subs.update(self.flat(sr).direct)
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
