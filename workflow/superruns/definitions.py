"""Superrun definitions: YAML files, validation, flattening to leaf segments, run metadata.

Definitions live in ``config/superruns.yaml`` and every ``*.yaml`` in ``config/superruns.d/``
(sorted by name; names starting with ``.`` are skipped). Each file maps superrun names to
definitions:

```yaml
_background_january:
  description: background, January
  runs: ["000001", "000002", _other_superrun]  # whole runs and/or superruns, nested freely
_minbias:
  ranges:                                     # int ns since the epoch, half-open [start, end)
    "000001": [[1546509600000000000, 1546509601000000000]]
    _background_january: [[...]]             # ranges of a superrun cut its leaf segments
  runs: ["000003"]                            # mixable with whole runs
  selection: contained                        # or touching; default contained
_dm_candidates:
  events: selections/candidates.npy           # .npy record array or .csv (header row)
  from_run: "000001"                          # when the file has no run_id column
  pad_ns: 1000                                # widen each event window on both sides
```

Semantics (the choices made here, beyond strax):

* A superrun holds *segments*: ``[start, end)`` pieces of leaf (regular) runs. A whole run is
  one segment ``[run.start, run.end)``; each range of a run is one segment; a superrun named in
  ``runs:`` contributes all its segments; ranges of a superrun contribute its segments
  intersected with the ranges. Segments of one superrun must not overlap in time (so a leaf
  run reached twice through two nested superruns is an error) and are kept in time order.
  Adjacent segments are not merged: they stay as defined.
* A range of a regular run must lie inside ``[run.start, run.end)``. A range of a superrun must
  lie inside the superrun's span ``[first segment start, last segment end)`` and overlap at
  least one of its segments (a range that holds nothing is a mistake); it may cover gaps.
* Events: each event ``[time, endtime)`` (or ``time + length * dt``) must lie inside its run;
  its window is widened by ``pad_ns`` on both sides, clipped to the run, and overlapping or
  touching windows of one run are merged. Event run ids are regular runs (never superruns).
  ``from_run`` gives the run when the file has no ``run_id`` column; when it has one, every
  row must name ``from_run``. Events files are read lazily (only when that superrun is
  flattened), relative to ``base_dir`` (the working directory), because the workflow itself
  may produce them.
* ``selection`` says which rows are kept where a segment cuts a run: ``contained`` (default)
  or ``touching``. A superrun holding a superrun that cuts runs (or cutting it with ranges)
  must use the same selection: otherwise building it from the inner superrun's file and
  from the leaf runs would keep different rows.
* Subruns are ordered by the start of what they hold, never by their id string (strax's
  ``"10" < "8"`` bug).
* ``mode``, ``source`` and ``tags`` in :meth:`Definitions.run_metadata` are sorted unique
  non-empty values over the leaf runs (strax leaves set order and adds ``""``).
* Superrun names must start with ``_`` (strax silently prepends one; we refuse).

Every problem raises :class:`DefinitionError` naming the file, the superrun, the entry and
the fix. Flattened results are cached; everything is linear in the number of segments.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SuperrunsError
from .runs import RunRegistry, is_superrun_id, run_id_problem, superrun_name_problem
from .schemas import schema_error_fix, schema_validator, witness_list, witness_map
from .times import INT64_MAX, format_ns
from .yamlio import yaml_load

__all__ = [
    "DEFINE_RUN_MARKER",
    "SELECTIONS",
    "DefinitionError",
    "Definitions",
    "Segment",
    "Superrun",
    "UnknownSuperrunError",
    "define_run",
    "events_to_windows",
]

SELECTIONS = ("contained", "touching")
DEFAULT_SELECTION = "contained"
EVENTS_SUFFIXES = (".npy", ".csv")
#: First line of every file written by :func:`define_run`; without it, define_run refuses
#: to overwrite a file (it was written or taken over by hand).
DEFINE_RUN_MARKER = "# written by superruns define_run"
_KEYS = ("description", "runs", "ranges", "events", "from_run", "pad_ns", "selection")


class DefinitionError(SuperrunsError, ValueError):
    """A bad superrun definition; the message names the file, the superrun, the entry and the fix."""

    def __init__(self, message: str, *, file: Any = None, superrun: str | None = None,
                 entry: str | None = None):
        super().__init__(message)
        self.file = file
        self.superrun = superrun
        self.entry = entry


class UnknownSuperrunError(DefinitionError, KeyError):
    """A name that is not a defined superrun (a ``KeyError`` too)."""


def _error(file: Any, name: str | None, entry: str | None, problem: str, fix: str) -> DefinitionError:
    where = f"{file}"
    if name is not None:
        where += f": superrun {name!r}"
    if entry:
        where += f", {entry}"
    return DefinitionError(f"{where}: {problem}; fix: {fix}", file=file, superrun=name, entry=entry)


@dataclass(frozen=True, slots=True)
class Segment:
    """``[start, end)`` (int ns) of leaf run ``run_id`` held by a superrun."""

    run_id: str
    start: int
    end: int

    @property
    def duration_ns(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Superrun:
    """One definition as written (normalised: ranges as tuples of ``(start, end)``)."""

    name: str
    description: str = ""
    runs: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict, hash=False)
    events: Path | None = None
    from_run: str | None = None
    pad_ns: int = 0
    selection: str = DEFAULT_SELECTION
    source_file: Path | None = None

    def named_subruns(self) -> list[str]:
        """Subruns named in the definition itself (runs, range keys, from_run), file order."""
        out = list(self.runs) + [k for k in self.ranges if k not in self.runs]
        if self.from_run is not None and self.from_run not in out:
            out.append(self.from_run)
        return out


@dataclass(frozen=True)
class _Flat:
    sourced: tuple[tuple[str, Segment], ...]  # (direct subrun, leaf segment), time order
    segments: tuple[Segment, ...]
    direct: tuple[str, ...]                   # direct subruns, time order
    cuts: bool                                # some segment is not a whole run
    windows: Mapping[str, list[tuple[int, int]]]  # event windows per run (events only)


# --------------------------------------------------------------------------------------
# parsing one definition


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _subrun_problem(sub: Any) -> str | None:
    if isinstance(sub, str) and sub.startswith("_"):
        return superrun_name_problem(sub)
    return run_id_problem(sub)


def _normalise_ranges(value: Any, file, name: str, sub: str, *, sort: bool = False
                      ) -> tuple[tuple[int, int], ...]:
    """``[s, e]`` or ``[[s, e], ...]`` → tuple of ``(s, e)``, checked."""
    entry = f"ranges[{sub!r}]"
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_int(x) for x in value):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise _error(file, name, entry, f"{value!r} is not a list of [start, end] ranges",
                     'give [[start_ns, end_ns], ...] (int ns since the epoch); put whole runs '
                     'in runs: instead of "all"')
    pairs = []
    for i, pair in enumerate(value):
        if isinstance(pair, np.ndarray):
            pair = pair.tolist()
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(_is_int(x) for x in pair)):
            raise _error(file, name, f"{entry}[{i}]", f"{pair!r} is not an [start, end] pair of ints",
                         "give two int ns since the epoch, e.g. [1546509600000000000, "
                         "1546509601000000000] (no floats, no timestamps)")
        s, e = int(pair[0]), int(pair[1])
        if not 0 <= s < e <= INT64_MAX:
            raise _error(file, name, f"{entry}[{i}]", f"[{s}, {e}] is not a range with "
                         f"0 <= start < end <= 2**63-1", "make start smaller than end (end is exclusive)")
        pairs.append((s, e))
    if sort:
        pairs.sort()
    for i in range(1, len(pairs)):
        (ps, pe), (s, e) = pairs[i - 1], pairs[i]
        if s < ps:
            raise _error(file, name, f"{entry}[{i}]", f"range [{s}, {e}) starts before the previous "
                         f"one [{ps}, {pe})", "sort the ranges by start")
        if s < pe:
            raise _error(file, name, f"{entry}[{i}]", f"range [{s}, {e}) overlaps the previous one "
                         f"[{ps}, {pe})", "merge or separate the two ranges")
    return tuple(pairs)


def _check_id_types(name: str, body: Mapping, file) -> None:
    """Before the schema: a clear message for an unquoted (numeric) run id."""
    runs = body.get("runs")
    if isinstance(runs, list):
        for i, sub in enumerate(runs):
            if not isinstance(sub, str):
                raise _error(file, name, f"runs[{i}]", run_id_problem(sub) or "not a string",
                             'quote the run id, e.g. "000001"')
    ranges = body.get("ranges")
    if isinstance(ranges, Mapping):
        for sub in ranges:
            if not isinstance(sub, str):
                raise _error(file, name, f"ranges key {sub!r}", run_id_problem(sub) or "not a string",
                             'quote the run id, e.g. "000001"')
    from_run = body.get("from_run")
    if from_run is not None and not isinstance(from_run, str):
        raise _error(file, name, "from_run", run_id_problem(from_run) or "not a string",
                     'quote the run id, e.g. "000001"')


def _schema_check(doc: Mapping, file) -> None:
    """The JSON schema, on one list item / map entry per distinct shape (see runs.shape)."""
    witness = {}
    for name, body in doc.items():
        if isinstance(body, Mapping):
            body = dict(body)
            if isinstance(body.get("runs"), list):
                body["runs"] = witness_list(body["runs"])
            if isinstance(body.get("ranges"), Mapping):
                body["ranges"] = witness_map({
                    k: (witness_list(v) if isinstance(v, list) and v and all(isinstance(x, list) for x in v)
                        else v)
                    for k, v in body["ranges"].items()})
        witness[name] = body
    validator = schema_validator("superruns.schema.json")
    errors = sorted(validator.iter_errors(witness), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    error = errors[0]
    path = list(error.absolute_path)
    name = str(path[0]) if path else None
    entry = None
    if len(path) > 1:
        entry = str(path[1]) + "".join(f"[{p}]" if isinstance(p, int) else f"[{p!r}]" for p in path[2:])
    if error.validator == "anyOf" and len(path) == 1:
        raise _error(file, name, None, "holds no subruns",
                     "add runs: [...], ranges: {...} or events: <file>")
    problem, fix = error.message, schema_error_fix(error)
    if error.validator == "pattern" and isinstance(error.instance, str):
        problem = _subrun_problem(error.instance) or problem
        fix = "fix the id"
    raise _error(file, name, entry, problem, fix)


def _parse_file(doc: Any, file: Path) -> dict[str, Superrun]:
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise _error(file, None, None, f"the top level is a {type(doc).__name__}",
                     "make it a mapping of superrun name (starting with '_') to definition")
    for name, body in doc.items():
        problem = superrun_name_problem(name)
        if problem:
            raise _error(file, str(name), None, problem, "rename it so it starts with '_'"
                         if isinstance(name, str) and not name.startswith("_")
                         else "use '_' then letters, digits, '_' and '.'")
        if body is None or not isinstance(body, Mapping):
            raise _error(file, name, None, f"the definition is {body!r}, not a mapping",
                         "give it runs: [...], ranges: {...} or events: <file>")
        _check_id_types(name, body, file)
    _schema_check(doc, file)
    return {name: _parse_definition(name, body, file) for name, body in doc.items()}


def _parse_definition(name: str, body: Mapping, file: Path | None, *, sort_ranges: bool = False
                      ) -> Superrun:
    """Hand checks of one definition (everything that needs neither runs nor other superruns)."""
    unknown = [k for k in body if k not in _KEYS]
    if unknown:
        raise _error(file, name, f"key {unknown[0]!r}", "unknown key",
                     f"remove it or fix the spelling; allowed keys: {', '.join(_KEYS)}")
    runs = body.get("runs") or []
    if not isinstance(runs, (list, tuple)):
        raise _error(file, name, "runs", f"{runs!r} is not a list", 'give a list, e.g. ["000001"]')
    seen: dict[str, int] = {}
    for i, sub in enumerate(runs):
        problem = _subrun_problem(sub)
        if problem:
            raise _error(file, name, f"runs[{i}]", problem, "fix the id")
        if sub == name:
            raise _error(file, name, f"runs[{i}]", "the superrun contains itself",
                         "remove it from its own runs:")
        if sub in seen:
            raise _error(file, name, f"runs[{i}]", f"{sub!r} is listed twice (also runs[{seen[sub]}])",
                         "list each subrun once")
        seen[sub] = i

    ranges_in = body.get("ranges") or {}
    if not isinstance(ranges_in, Mapping):
        raise _error(file, name, "ranges", f"{ranges_in!r} is not a mapping",
                     "give {subrun: [[start_ns, end_ns], ...]}")
    ranges: dict[str, tuple[tuple[int, int], ...]] = {}
    for sub, value in ranges_in.items():
        problem = _subrun_problem(sub)
        if problem:
            raise _error(file, name, f"ranges key {sub!r}", problem, "fix the id")
        if sub == name:
            raise _error(file, name, f"ranges[{sub!r}]", "the superrun contains itself",
                         "remove it from its own ranges:")
        if sub in seen:
            raise _error(file, name, f"ranges[{sub!r}]", f"{sub!r} is both in runs: (whole) and "
                         "in ranges:", "keep it in one of them")
        ranges[sub] = _normalise_ranges(value, file, name, sub, sort=sort_ranges)

    events = body.get("events")
    if events is not None:
        if not isinstance(events, (str, os.PathLike)) or not str(events):
            raise _error(file, name, "events", f"{events!r} is not a file path",
                         "give the path of a .npy or .csv events file")
        events = Path(events)
        if events.suffix.lower() not in EVENTS_SUFFIXES:
            raise _error(file, name, "events", f"{str(events)!r} is neither .npy nor .csv",
                         "give a .npy record array or a .csv file with a header row")
    from_run = body.get("from_run")
    pad_ns = body.get("pad_ns", 0)
    if events is None:
        for key in ("from_run", "pad_ns"):
            if key in body:
                raise _error(file, name, key, f"{key} applies only to events:",
                             f"remove {key}, or add events: <file>")
    if from_run is not None:
        problem = run_id_problem(from_run)
        if problem:
            raise _error(file, name, "from_run", problem, "give a regular run id (events belong "
                         "to regular runs, not superruns)")
    if not _is_int(pad_ns) or pad_ns < 0:
        raise _error(file, name, "pad_ns", f"{pad_ns!r} is not an int >= 0", "give int ns, e.g. 1000")
    selection = body.get("selection", DEFAULT_SELECTION)
    if selection not in SELECTIONS:
        raise _error(file, name, "selection", f"{selection!r} is not a selection mode",
                     f"use one of {', '.join(SELECTIONS)}")
    description = body.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise _error(file, name, "description", f"{description!r} is not a string", "quote it")
    if not runs and not ranges and events is None:
        raise _error(file, name, None, "holds no subruns",
                     "add runs: [...], ranges: {...} or events: <file>")
    return Superrun(name=name, description=description, runs=tuple(runs), ranges=ranges,
                    events=events, from_run=from_run, pad_ns=int(pad_ns), selection=selection,
                    source_file=file)


# --------------------------------------------------------------------------------------
# events


def _event_columns(arr: np.ndarray, where: str):
    names = arr.dtype.names or ()
    if "time" not in names:
        raise ValueError(f"{where}: no 'time' column (columns: {', '.join(names) or 'none'})")
    time = np.asarray(arr["time"])
    if time.dtype.kind not in "iu":
        raise ValueError(f"{where}: column 'time' holds {time.dtype}, not int ns")
    time = time.astype(np.int64)
    if "endtime" in names:
        end = np.asarray(arr["endtime"])
        if end.dtype.kind not in "iu":
            raise ValueError(f"{where}: column 'endtime' holds {end.dtype}, not int ns")
        end = end.astype(np.int64)
    elif "length" in names and "dt" in names:
        end = time + arr["length"].astype(np.int64) * arr["dt"].astype(np.int64)
    else:
        raise ValueError(f"{where}: neither an 'endtime' column nor 'length' and 'dt' columns "
                         f"(columns: {', '.join(names)})")
    run_ids = None
    if "run_id" in names:
        col = np.asarray(arr["run_id"])
        if col.dtype.kind == "S":
            run_ids = np.char.decode(col, "ascii")
        elif col.dtype.kind == "U":
            run_ids = col
        else:
            raise ValueError(f"{where}: column 'run_id' holds {col.dtype}, not strings; store the "
                             f"run ids as strings exactly as in runs.yaml (e.g. '000001')")
    return time, end, run_ids


def events_to_windows(events: np.ndarray, runs: RunRegistry, *, from_run: str | None = None,
                      pad_ns: int = 0, where: str = "events") -> dict[str, list[tuple[int, int]]]:
    """Merged, padded event windows per run: ``{run_id: [(start, end), ...]}``, time order.

    ``events`` is a record array with ``time`` and ``endtime`` (or ``length`` and ``dt``) and
    ``run_id`` (unless ``from_run``). Each event must lie inside its run; its window
    ``[time - pad_ns, end + pad_ns)`` is clipped to the run, and overlapping or touching
    windows are merged. Raises ``ValueError`` with the reason (callers add the context).
    """
    if not isinstance(events, np.ndarray) or events.dtype.names is None:
        raise ValueError(f"{where}: not a record array with named columns")
    time, end, run_ids = _event_columns(events, where)
    if len(events) == 0:
        raise ValueError(f"{where}: holds no events")
    if from_run is not None:
        if run_ids is not None:
            bad = np.flatnonzero(run_ids != from_run)
            if len(bad):
                raise ValueError(f"{where}: row {bad[0]} has run_id {run_ids[bad[0]]!r} but "
                                 f"from_run is {from_run!r}")
        run_ids = np.full(len(time), from_run, dtype=object)
    elif run_ids is None:
        raise ValueError(f"{where}: no 'run_id' column and no from_run")
    bad = np.flatnonzero(end < time)
    if len(bad):
        raise ValueError(f"{where}: row {bad[0]} ends ({end[bad[0]]}) before it starts ({time[bad[0]]})")
    out: dict[str, list[tuple[int, int]]] = {}
    uniq, inverse = np.unique(run_ids.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(uniq) + 1))
    for k, run_id in enumerate(uniq.tolist()):
        rows = order[bounds[k]:bounds[k + 1]]
        if is_superrun_id(run_id):
            raise ValueError(f"{where}: row {rows[0]} names superrun {run_id!r}; events belong to "
                             f"regular runs")
        if run_id not in runs:
            raise ValueError(f"{where}: row {rows[0]} names run {run_id!r}, which is not in the "
                             f"run registry ({runs.source})")
        run = runs[run_id]
        t, e = time[rows], end[rows]
        outside = np.flatnonzero((t < run.start) | (e > run.end))
        if len(outside):
            i = rows[outside[0]]
            raise ValueError(f"{where}: row {i} [{time[i]}, {end[i]}) is outside its run {run_id!r} "
                             f"[{run.start}, {run.end}) = [{format_ns(run.start)}, "
                             f"{format_ns(run.end)})")
        s = np.maximum(t - pad_ns, run.start)
        e = np.minimum(e + pad_ns, run.end)
        empty = np.flatnonzero(e <= s)
        if len(empty):
            raise ValueError(f"{where}: row {rows[empty[0]]} has zero duration and pad_ns is 0, so "
                             f"its window holds nothing; set pad_ns > 0")
        by_start = np.argsort(s, kind="stable")
        s, e = s[by_start], e[by_start]
        reach = np.maximum.accumulate(e)
        new = np.ones(len(s), dtype=bool)
        new[1:] = s[1:] > reach[:-1]
        starts = np.flatnonzero(new)
        ends = np.append(starts[1:], len(s)) - 1
        out[run_id] = list(zip(s[starts].tolist(), reach[ends].tolist()))
    return dict(sorted(out.items(), key=lambda kv: kv[1][0][0]))


def _read_events(path: Path) -> np.ndarray:
    """A .npy record array, or a .csv file with a header row, as a record array."""
    if path.suffix.lower() == ".npy":
        arr = np.load(path, allow_pickle=False)
        if arr.dtype.names is None:
            raise ValueError(f"{path}: holds a plain {arr.dtype} array, not a record array with "
                             f"columns time, endtime (or length, dt) and run_id")
        return arr
    with open(path, newline="") as stream:
        lines = (line for line in stream if line.strip() and not line.lstrip().startswith("#"))
        reader = csv.reader(lines)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty; it needs a header row (time,endtime,run_id)")
        header = [h.strip() for h in header]
        cols = {h: [] for h in header}
        for lineno, row in enumerate(reader, start=2):
            if len(row) != len(header):
                raise ValueError(f"{path}: data row {lineno - 1} has {len(row)} fields, the header "
                                 f"{len(header)}")
            for h, v in zip(header, row):
                cols[h].append(v.strip())
    fields, data = [], []
    for h, values in cols.items():
        if h == "run_id":
            arr = np.array(values, dtype=str)
        elif h in ("time", "endtime", "length", "dt"):
            try:
                arr = np.array([int(v) for v in values], dtype=np.int64)
            except ValueError:
                bad = next(i for i, v in enumerate(values) if not v.lstrip("+-").isdigit())
                raise ValueError(f"{path}: data row {bad + 1}, column {h!r}: {values[bad]!r} is "
                                 f"not an integer (ns)") from None
        else:
            continue
        fields.append((h, arr.dtype))
        data.append(arr)
    out = np.empty(len(data[0]) if data else 0, dtype=fields)
    for (h, _), arr in zip(fields, data):
        out[h] = arr
    return out


# --------------------------------------------------------------------------------------
# Definitions


def _entry(d: Superrun, sub: str) -> str:
    """Where ``sub`` is named in ``d`` (for messages)."""
    if sub in d.ranges:
        return f"ranges[{sub!r}]"
    if sub in d.runs:
        return f"runs[{d.runs.index(sub)}] {sub!r}"
    return "from_run"


class Definitions:
    """All superrun definitions, validated against a run registry, with cached flattening."""

    def __init__(self, superruns: Mapping[str, Superrun], runs: RunRegistry, *,
                 base_dir: str | Path = Path("."), files: Iterable[Path] = ()):
        self._defs: dict[str, Superrun] = dict(superruns)
        self.runs = runs
        self.base_dir = Path(base_dir)
        self.files = tuple(files)
        self._flat: dict[str, _Flat] = {}
        self._check_references()
        self._order = self._topological_order()
        needs_events: dict[str, bool] = {}
        for name in self._order:  # inner superruns first
            d = self._defs[name]
            needs_events[name] = d.events is not None or any(
                needs_events.get(sub, False) for sub in d.named_subruns())
            if not needs_events[name]:
                self._flatten(name)

    # -- loading ---------------------------------------------------------------------

    @classmethod
    def load(cls, paths: Iterable[str | Path] | str | Path, runs: RunRegistry, *,
             base_dir: str | Path = Path(".")) -> "Definitions":
        """Read definition files and directories (a directory contributes its ``*.yaml``).

        A missing directory (a path without a .yaml/.yml suffix) contributes nothing; a
        missing file is an error. A superrun defined in two files is an error naming both.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        files: list[Path] = []
        for p in map(Path, paths):
            if p.is_dir():
                files.extend(sorted((f for f in p.glob("*.yaml")
                                     if f.is_file() and not f.name.startswith(".")),
                                    key=lambda f: f.name))
            elif p.exists() or p.suffix.lower() in (".yaml", ".yml"):
                files.append(p)
        unique: dict[Path, Path] = {}
        for f in files:
            unique.setdefault(f.resolve(), f)
        defs: dict[str, Superrun] = {}
        for f in unique.values():
            for name, sr in _parse_file(yaml_load(f, DefinitionError), f).items():
                if name in defs:
                    raise _error(f, name, None, f"it is also defined in {defs[name].source_file}",
                                 "keep one definition (rename or delete the other)")
                defs[name] = sr
        return cls(defs, runs, base_dir=base_dir, files=unique.values())

    # -- static validation -------------------------------------------------------------

    def _check_references(self) -> None:
        for name, d in self._defs.items():
            for sub in d.named_subruns():
                if is_superrun_id(sub):
                    if sub not in self._defs:
                        raise _error(d.source_file, name, _entry(d, sub), f"no superrun {sub!r} is "
                                     f"defined (in {self._files_text()})", "define it in "
                                     "superruns.yaml or superruns.d/, or fix the name")
                    continue
                if sub not in self.runs:
                    raise _error(d.source_file, name, _entry(d, sub), f"run {sub!r} is not in the "
                                 f"run registry {self.runs.source}", f"add it to {self.runs.source} "
                                 f"or fix the id")
                if sub in d.ranges:
                    run = self.runs[sub]
                    for i, (s, e) in enumerate(d.ranges[sub]):
                        if s < run.start or e > run.end:
                            raise _error(d.source_file, name, f"{_entry(d, sub)}[{i}]",
                                         f"range [{s}, {e}) = [{format_ns(s)}, {format_ns(e)}) is "
                                         f"not inside run {sub!r} [{run.start}, {run.end}) = "
                                         f"[{format_ns(run.start)}, {format_ns(run.end)})",
                                         "keep ranges inside the run's [start, end)")

    def _files_text(self) -> str:
        return ", ".join(str(f) for f in self.files) or "the loaded definitions"

    def _topological_order(self) -> list[str]:
        """Superruns with every inner superrun before the ones holding it; refuses cycles."""
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        order: list[str] = []
        for root in self._defs:
            if root in state:
                continue
            stack = [(root, iter(self._inner(root)))]
            state[root] = 1
            while stack:
                node, children = stack[-1]
                for child in children:
                    st = state.get(child)
                    if st == 1:
                        path = [n for n, _ in stack]
                        cycle = path[path.index(child):] + [child]
                        d = self._defs[cycle[0]]
                        raise _error(d.source_file, cycle[0], None,
                                     f"superruns contain each other: {' -> '.join(cycle)}"
                                     f" (defined in {', '.join(sorted({str(self._defs[n].source_file) for n in cycle[:-1]}))})",
                                     "remove one of these references to break the cycle")
                    if st is None:
                        state[child] = 1
                        stack.append((child, iter(self._inner(child))))
                        break
                else:
                    state[node] = 2
                    order.append(node)
                    stack.pop()
        return order

    def _inner(self, name: str) -> list[str]:
        return [s for s in self._defs[name].named_subruns() if is_superrun_id(s)]

    # -- flattening ------------------------------------------------------------------

    def _flatten(self, name: str) -> _Flat:
        flat = self._flat.get(name)
        if flat is not None:
            return flat
        d = self.get(name)
        file = d.source_file
        parts: list[tuple[str, list[Segment]]] = []
        runs = self.runs
        for sub in d.runs:
            if is_superrun_id(sub):
                parts.append((sub, self._inner_segments(d, sub, None)))
            else:
                run = runs[sub]
                parts.append((sub, [Segment(sub, run.start, run.end)]))
        for sub, ranges in d.ranges.items():
            if is_superrun_id(sub):
                parts.append((sub, self._inner_segments(d, sub, ranges)))
            else:
                parts.append((sub, [Segment(sub, s, e) for s, e in ranges]))
        windows: dict[str, list[tuple[int, int]]] = {}
        if d.events is not None:
            windows = self._event_windows(d)
            for run_id, wins in windows.items():
                if run_id in d.runs or run_id in d.ranges:
                    raise _error(file, name, "events", f"events of run {run_id!r}, which is also "
                                 f"in {'runs:' if run_id in d.runs else 'ranges:'}",
                                 "hold each run in one place")
                parts.append((run_id, [Segment(run_id, s, e) for s, e in wins]))

        sourced = [(sub, seg) for sub, segs in parts for seg in segs]
        sourced.sort(key=lambda item: (item[1].start, item[1].end))
        prev_sub, prev_seg = None, None
        for sub, seg in sourced:
            if prev_seg is not None and seg.start < prev_seg.end:
                a = f"run {prev_seg.run_id!r} [{prev_seg.start}, {prev_seg.end})" + (
                    f" via {prev_sub!r}" if prev_sub != prev_seg.run_id else "")
                b = f"run {seg.run_id!r} [{seg.start}, {seg.end})" + (
                    f" via {sub!r}" if sub != seg.run_id else "")
                what = ("holds the same data twice" if seg.run_id == prev_seg.run_id
                        else "holds overlapping runs")
                raise _error(file, name, f"subruns {prev_sub!r} and {sub!r}",
                             f"{what}: {a} overlaps {b}",
                             "hold each stretch of time once (remove one subrun or cut it with ranges:)")
            if prev_seg is None or seg.end > prev_seg.end:
                prev_sub, prev_seg = sub, seg
        first_start: dict[str, int] = {}
        for sub, seg in sourced:
            first_start.setdefault(sub, seg.start)
        direct = tuple(sorted(first_start, key=lambda s: (first_start[s], s)))
        segments = tuple(seg for _, seg in sourced)
        cuts = any(seg.start != runs[seg.run_id].start or seg.end != runs[seg.run_id].end
                   for seg in segments)
        flat = _Flat(tuple(sourced), segments, direct, cuts, windows)
        self._flat[name] = flat
        return flat

    def _inner_segments(self, d: Superrun, sub: str, ranges) -> list[Segment]:
        inner = self._flatten(sub)
        inner_def = self._defs[sub]
        entry = _entry(d, sub)
        if inner_def.selection != d.selection and (inner.cuts or ranges is not None):
            raise _error(d.source_file, d.name, entry,
                         f"selection {d.selection!r} differs from {sub!r}'s {inner_def.selection!r}, "
                         f"and time ranges cut runs, so the rows kept at the cuts would depend on "
                         f"whether it is built from {sub!r} or from the leaf runs",
                         f"give both the same selection:")
        segs = inner.segments
        if ranges is None:
            return list(segs)
        span = (segs[0].start, segs[-1].end)
        out: list[Segment] = []
        i, n = 0, len(segs)
        for k, (s, e) in enumerate(ranges):
            if s < span[0] or e > span[1]:
                raise _error(d.source_file, d.name, f"{entry}[{k}]",
                             f"range [{s}, {e}) is not inside superrun {sub!r}'s span "
                             f"[{span[0]}, {span[1]}) = [{format_ns(span[0])}, {format_ns(span[1])})",
                             f"keep ranges of {sub!r} inside its span")
            while i < n and segs[i].end <= s:
                i += 1
            j, hit = i, False
            while j < n and segs[j].start < e:
                a, b = max(s, segs[j].start), min(e, segs[j].end)
                if a < b:
                    out.append(Segment(segs[j].run_id, a, b))
                    hit = True
                j += 1
            if not hit:
                raise _error(d.source_file, d.name, f"{entry}[{k}]",
                             f"range [{s}, {e}) = [{format_ns(s)}, {format_ns(e)}) falls in a gap "
                             f"between {sub!r}'s segments and holds nothing",
                             "remove the range or move it onto data of the superrun")
        return out

    def _event_windows(self, d: Superrun) -> dict[str, list[tuple[int, int]]]:
        path = self.events_file(d.name)
        if not path.exists():
            raise _error(d.source_file, d.name, "events", f"events file {path} does not exist",
                         "create it (or let the workflow make it) first, or fix the path (relative "
                         f"to the working directory {self.base_dir.resolve()})")
        try:
            arr = _read_events(path)
            return events_to_windows(arr, self.runs, from_run=d.from_run, pad_ns=d.pad_ns,
                                     where=str(path))
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
        try:
            return name in self._defs
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self._defs)

    def __repr__(self) -> str:
        return f"Definitions({len(self)} superruns from {self._files_text()})"

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
        return list(self._flatten(name).segments)

    def sourced_segments(self, name: str) -> list[tuple[str, Segment]]:
        """``(direct subrun, leaf segment)`` in time order: which subrun's file holds each segment."""
        return list(self._flatten(name).sourced)

    def direct_subruns(self, name: str) -> list[str]:
        """Subruns named by the definition (runs, range keys, event runs), in time order."""
        return list(self._flatten(name).direct)

    def leaf_runs(self, name: str) -> list[str]:
        """Regular runs ``name`` holds (part of), in time order."""
        return list(dict.fromkeys(seg.run_id for seg in self._flatten(name).segments))

    def sub_run_spec(self, name: str) -> dict[str, Any]:
        """``{subrun: "all" | [[s, e], ...]}`` as defined, keys in time order."""
        d = self.get(name)
        flat = self._flatten(name)
        spec: dict[str, Any] = {}
        for sub in flat.direct:
            if sub in d.ranges:
                spec[sub] = [[s, e] for s, e in d.ranges[sub]]
            elif sub in flat.windows:
                spec[sub] = [[s, e] for s, e in flat.windows[sub]]
            else:
                spec[sub] = "all"
        return spec

    def flat_sub_run_spec(self, name: str) -> dict[str, Any]:
        """``{leaf_run: "all" | [[s, e], ...]}`` in time order; "all" for a run held whole."""
        per_run: dict[str, list[list[int]]] = {}
        for seg in self._flatten(name).segments:
            per_run.setdefault(seg.run_id, []).append([seg.start, seg.end])
        out: dict[str, Any] = {}
        for run_id, pieces in per_run.items():
            run = self.runs[run_id]
            whole = len(pieces) == 1 and pieces[0] == [run.start, run.end]
            out[run_id] = "all" if whole else pieces
        return out

    def run_metadata(self, name: str) -> dict[str, Any]:
        """The superrun's run document (times int ns, livetime float s of what it holds)."""
        from .lineage import deterministic_hash  # lazily: lineage is heavier, and optional here

        d = self.get(name)
        segs = self._flatten(name).segments
        leaf = [self.runs[r] for r in dict.fromkeys(s.run_id for s in segs)]
        flat_spec = self.flat_sub_run_spec(name)

        def values(attr: str) -> list[str]:
            found: set[str] = set()
            for run in leaf:
                value = getattr(run, attr)
                found.update((value,) if isinstance(value, str) else value)
            found.discard("")
            return sorted(found)
        return {
            "name": name,
            "start": segs[0].start,
            "end": max(s.end for s in segs),
            "livetime": sum(s.end - s.start for s in segs) / 1e9,
            "mode": values("mode"),
            "source": values("source"),
            "tags": values("tags"),
            "description": d.description,
            "selection": d.selection,
            "n_leaf_runs": len(leaf),
            "sub_run_spec": self.sub_run_spec(name),
            "sub_run_spec_flat": flat_spec,
            "sub_run_spec_hash": deterministic_hash((flat_spec, d.selection)),
        }

    def dependents(self, name: str) -> list[str]:
        """Superruns that hold ``name`` (a run or a superrun), directly or through others; sorted.

        For a regular run this reads the events files of superruns defined by events without
        ``from_run``.
        """
        holders: dict[str, set[str]] = {}
        for sr, d in self._defs.items():
            subs = set(d.named_subruns())
            if d.events is not None and d.from_run is None and not is_superrun_id(name):
                subs.update(self._flatten(sr).windows)
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


# --------------------------------------------------------------------------------------
# define_run


def _ids_from(data: Iterable, where: Path, name: str) -> list[str]:
    out = []
    for i, sub in enumerate(data):
        if isinstance(sub, np.str_):
            sub = str(sub)
        if not isinstance(sub, str):
            raise _error(where, name, f"data[{i}]", f"{sub!r} is a {type(sub).__name__}, not a run id",
                         'pass run ids as strings, e.g. "000001"')
        out.append(sub)
    return out


def define_run(name: str, data: Any, *, directory: str | Path = "config/superruns.d",
               runs: RunRegistry | None = None, definitions: Definitions | None = None,
               from_run: str | None = None, pad_ns: int = 0, description: str | None = None,
               selection: str | None = None, overwrite: bool = False) -> Path:
    """Write the definition of superrun ``name`` to ``{directory}/{name}.yaml``.

    ``data``: a list of run/superrun ids; a dict ``{subrun: "all" | [[s, e], ...] | [s, e]}``;
    or a record array (or anything with ``to_records``) of events with ``time`` and
    ``endtime`` (or ``length``, ``dt``) and ``run_id`` (or ``from_run``), which becomes
    ``ranges:`` of the merged windows widened by ``pad_ns``. The definition is validated
    against ``runs`` (or ``definitions.runs``) and the existing ``definitions`` before an
    atomic write. Refuses a name without ``_``, a file not written by define_run, and an
    existing define_run file unless ``overwrite``. Returns the path written.
    """
    directory = Path(directory)
    target = directory / f"{name}.yaml" if isinstance(name, str) else directory / "?"
    problem = superrun_name_problem(name)
    if problem:
        raise _error(target, str(name), None, problem, "pass a name starting with '_' (nothing "
                     "is prepended for you)")
    if runs is None and definitions is not None:
        runs = definitions.runs
    if runs is None:
        raise _error(target, name, None, "no run registry to validate against",
                     "pass runs=RunRegistry.load('config/runs.yaml') (or definitions=...)")

    # -- the definition's body from data
    body: dict[str, Any] = {}
    if hasattr(data, "to_records") and not isinstance(data, np.ndarray):
        data = data.to_records(index=False)
    if isinstance(data, np.ndarray):
        if data.dtype.names is None:
            raise _error(target, name, "data", f"a plain {data.dtype} array, not a record array of "
                         "events", "pass a list of ids, a dict {subrun: ranges}, or a record array "
                         "with time, endtime (or length, dt) and run_id")
        if from_run is not None:
            problem = run_id_problem(from_run)
            if problem:
                raise _error(target, name, "from_run", problem, "give the regular run of the events")
        if not _is_int(pad_ns) or pad_ns < 0:
            raise _error(target, name, "pad_ns", f"{pad_ns!r} is not an int >= 0", "give int ns")
        try:
            windows = events_to_windows(data, runs, from_run=from_run, pad_ns=int(pad_ns),
                                        where="data")
        except ValueError as exc:
            raise _error(target, name, "data", str(exc), "fix the events (each inside its run, "
                         "run_id as strings matching runs.yaml) or pass from_run") from None
        body["ranges"] = {r: [list(w) for w in ws] for r, ws in windows.items()}
        if description is None:
            description = (f"{len(data)} events" + (f" of run {from_run}" if from_run else "")
                           + (f", windows widened by {pad_ns} ns" if pad_ns else ""))
    else:
        for key, value in (("from_run", from_run), ("pad_ns", pad_ns or None)):
            if value is not None:
                raise _error(target, name, key, f"{key} applies only to an array of events",
                             f"drop {key}= or pass events")
        if isinstance(data, (str, bytes)):
            raise _error(target, name, "data", f"a bare string {data!r}",
                         f"pass a list, e.g. [{data!r}]")
        if isinstance(data, Mapping):
            ids = _ids_from(data.keys(), target, name)
            whole, ranges = [], {}
            for sub, value in zip(ids, data.values()):
                if isinstance(value, str):
                    if value != "all":
                        raise _error(target, name, f"data[{sub!r}]", f"{value!r} is neither 'all' "
                                     "nor a list of ranges", 'use "all" or [[start, end], ...]')
                    whole.append(sub)
                else:
                    ranges[sub] = value
            if whole:
                body["runs"] = whole
            if ranges:
                body["ranges"] = ranges
        elif isinstance(data, (list, tuple)):
            body["runs"] = _ids_from(data, target, name)
        else:
            raise _error(target, name, "data", f"cannot define a superrun from {type(data).__name__}",
                         "pass a list of ids, a dict {subrun: 'all' | ranges} or a record array "
                         "of events")
        if not body:
            raise _error(target, name, "data", "holds no subruns", "name at least one subrun")
    if description:
        body["description"] = description
    if selection is not None:
        body["selection"] = selection

    sr = _parse_definition(name, body, target, sort_ranges=True)

    # -- the target file
    if target.exists():
        with open(target, encoding="utf-8", errors="replace") as stream:
            first = stream.readline()
        if not first.startswith(DEFINE_RUN_MARKER):
            raise _error(target, name, None, "the file exists and was not written by define_run "
                         "(its first line is not the define_run marker), so it may hold hand edits",
                         "edit that file by hand, or delete it first")
        if not overwrite:
            raise _error(target, name, None, "the file exists (written by define_run)",
                         "pass overwrite=True to replace it")

    # -- validate with the existing definitions
    existing: dict[str, Superrun] = {}
    if definitions is not None:
        existing = definitions.superruns()
        old = existing.pop(name, None)
        if old is not None and (old.source_file is None
                                or Path(old.source_file).resolve() != target.resolve()):
            raise _error(target, name, None, f"it is already defined in {old.source_file}",
                         "choose another name, or change it there")
    existing[name] = sr
    files = list(definitions.files) if definitions is not None else []
    check = Definitions(existing, runs, base_dir=definitions.base_dir if definitions else Path("."),
                        files=files + [target])
    flat = check._flatten(name)

    # -- write, time-ordered
    ordered: dict[str, Any] = {}
    if sr.description:
        ordered["description"] = sr.description
    whole = [s for s in flat.direct if s in sr.runs]
    if whole:
        ordered["runs"] = whole
    if sr.ranges:
        ordered["ranges"] = {s: [list(p) for p in sr.ranges[s]] for s in flat.direct if s in sr.ranges}
    if sr.selection != DEFAULT_SELECTION:
        ordered["selection"] = sr.selection
    import yaml

    text = (f"{DEFINE_RUN_MARKER}; delete this line to take the file over by hand\n"
            + yaml.safe_dump({name: ordered}, sort_keys=False, default_flow_style=None, width=100))
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.yaml.tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target
