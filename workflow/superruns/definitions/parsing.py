"""Definition files to :class:`Superrun` records: the JSON schema first, then by hand.

What is checked here needs neither the run registry nor the other superruns: names, keys,
id forms, range shapes and order, the events keys. References, cycles and overlaps are
checked once everything is loaded (:mod:`.graph`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import brief
from ..base.files import kind_of
from ..base.names import case_collisions, run_id_problem, subrun_problem, superrun_name_problem
from ..base.schemas import first_error, schema_error_fix, schema_validator, witness_list, witness_map
from ..base.times import INT64_MAX
from ..base.yamlio import yaml_load
from .errors import DefinitionError, definition_error as _error
from .records import DEFAULT_SELECTION, DEFINITION_SUFFIXES, EVENTS_SUFFIXES, KEYS, SELECTIONS, Superrun
from .setalgebra import parse_dataset_keys

__all__ = ["definition_files", "is_int", "parse_definition", "parse_document",
           "read_definitions"]

#: Notes a definitions directory may hold beside its definitions (skipped, e.g. a README).
NOTE_SUFFIXES = (".md", ".txt", ".rst")
_QUOTE_IT = 'quote the run id, e.g. "000001"'
_HOLDS_NOTHING = ("holds no subruns", "add runs: [...], ranges: {...}, events: <file>, query: "
                  "{...} or union:/intersection:/difference: [...]")


def is_int(x: Any) -> bool:
    """An int (Python or numpy), not a bool."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


# --------------------------------------------------------------------------------------
# files


def definition_files(paths: Iterable[str | Path] | str | Path) -> list[Path]:
    """The definition files of ``paths``, each once (a directory contributes its ``*.yaml``
    and ``*.yml`` files, sorted by name; hidden files (``.`` first) and notes (``*.md``,
    ``*.txt``, ``*.rst``) are skipped).

    Nothing is skipped silently: a path that does not exist, a dangling symbolic link or
    anything but a regular file in a directory, and any other file in a directory are
    :class:`DefinitionError` naming the path and the fix.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(_directory_files(p))
        elif p.exists() or p.suffix.lower() in DEFINITION_SUFFIXES:
            files.append(p)
        else:
            raise _error(p, None, None, "this definitions path does not exist (a file or "
                         "a directory)", "create it (mkdir for a directory of definitions) "
                         "or fix the path in the configuration's superruns: list")
    unique: dict[Path, Path] = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def _directory_files(directory: Path) -> list[Path]:
    """The definition files of one directory, each checked to be a regular file."""
    files = []
    for f in sorted(directory.iterdir(), key=lambda f: f.name):
        if f.name.startswith(".") or f.suffix.lower() in NOTE_SUFFIXES:
            continue
        if f.is_symlink() and not f.exists():
            raise _error(f, None, None, f"a dangling symbolic link (to {os.readlink(f)})",
                         "fix the link, or move it out of the definitions directory")
        if f.is_dir():
            raise _error(f, None, None, f"a subdirectory of the definitions directory "
                         f"{directory}; subdirectories are not read", "move its definitions up, "
                         "or list it in the configuration's superruns: list")
        if f.suffix.lower() not in DEFINITION_SUFFIXES:
            raise _error(f, None, None, f"a file in the definitions directory {directory} "
                         f"that is not a definition file (*.yaml or *.yml), so it would be "
                         f"ignored", "rename it to *.yaml, move it elsewhere, or hide it with "
                         "a leading '.' (notes: *.md, *.txt, *.rst are skipped)")
        if not f.is_file():
            raise _error(f, None, None, f"is {kind_of(f.stat().st_mode)}, not a regular file",
                         "replace it with a definition "
                         "file or move it out of the directory")
        files.append(f)
    return files


def read_definitions(files: Iterable[Path]) -> dict[str, Superrun]:
    """Every definition of ``files``; a superrun defined in two files is an error naming both."""
    defs: dict[str, Superrun] = {}
    for f in files:
        for name, sr in parse_document(yaml_load(f, DefinitionError), f).items():
            if name in defs:
                raise _error(f, name, None, f"it is also defined in {defs[name].source_file}",
                             "keep one definition (rename one superrun, or move one file out of the configured folders)")
            defs[name] = sr
    clash = case_collisions(defs)
    if clash:
        raise _error(defs[clash[1]].source_file, clash[1], None, f"it differs from {clash[0]!r} "
                     f"(in {defs[clash[0]].source_file}) only in case, so the two would share "
                     f"one folder on a case-insensitive file system (macOS, Windows)",
                     "rename one of them")
    return defs


def parse_document(doc: Any, file: Path) -> dict[str, Superrun]:
    """A parsed definition file (superrun name → body) as records, checked."""
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
            raise _error(file, name, None, f"the definition is {brief(body)}, not a mapping",
                         "give it runs: [...], ranges: {...} or events: <file>")
        _check_id_types(name, body, file)
    _schema_check(doc, file)
    return {name: parse_definition(name, body, file) for name, body in doc.items()}


# --------------------------------------------------------------------------------------
# the schema layer


def _check_id_types(name: str, body: Mapping, file) -> None:
    """Before the schema: a clear message for an unquoted (numeric) run id."""
    runs = body.get("runs")
    if isinstance(runs, list):
        for i, sub in enumerate(runs):
            if not isinstance(sub, str):
                raise _error(file, name, f"runs[{i}]", run_id_problem(sub) or "not a string",
                             _QUOTE_IT)
    ranges = body.get("ranges")
    if isinstance(ranges, Mapping):
        for sub in ranges:
            if not isinstance(sub, str):
                raise _error(file, name, f"ranges key {sub!r}", run_id_problem(sub) or "not a string",
                             _QUOTE_IT)
    from_run = body.get("from_run")
    if from_run is not None and not isinstance(from_run, str):
        raise _error(file, name, "from_run", run_id_problem(from_run) or "not a string", _QUOTE_IT)


def _witness_body(body: Any) -> Any:
    """A definition with one ``runs`` item and one ``ranges`` entry per distinct shape."""
    if not isinstance(body, Mapping):
        return body
    body = dict(body)
    if isinstance(body.get("runs"), list):
        body["runs"] = witness_list(body["runs"])
    if isinstance(body.get("ranges"), Mapping):
        body["ranges"] = witness_map({
            k: (v[:1] if _int_pairs(v) else witness_list(v)
                if isinstance(v, list) and v and all(isinstance(x, list) for x in v) else v)
            for k, v in body["ranges"].items()})
    return body


def _schema_check(doc: Mapping, file) -> None:
    """The JSON schema, on one list item / map entry per distinct shape (see schemas.shape)."""
    witness = {name: _witness_body(body) for name, body in doc.items()}
    error = first_error(schema_validator("superruns.schema.json"), witness)
    if error is None:
        return
    path = list(error.absolute_path)
    name = str(path[0]) if path else None
    entry = None
    if len(path) > 1:
        entry = str(path[1]) + "".join(f"[{p}]" if isinstance(p, int) else f"[{p!r}]" for p in path[2:])
    if error.validator == "anyOf" and len(path) == 1:
        raise _error(file, name, None, *_HOLDS_NOTHING)
    problem, fix = error.message, schema_error_fix(error)
    if error.validator == "pattern" and isinstance(error.instance, str):
        problem = subrun_problem(error.instance) or problem
        fix = "fix the id"
    raise _error(file, name, entry, problem, fix)


# --------------------------------------------------------------------------------------
# one definition, by hand


def parse_definition(name: str, body: Mapping, file: Path | None, *, sort_ranges: bool = False
                     ) -> Superrun:
    """Hand checks of one definition (everything that needs neither runs nor other superruns)."""
    unknown = [k for k in body if k not in KEYS]
    if unknown:
        raise _error(file, name, f"key {unknown[0]!r}", "unknown key",
                     f"remove it or fix the spelling; allowed keys: {', '.join(KEYS)}")
    runs = _parse_runs(name, body, file)
    ranges = _parse_ranges(name, body, file, set(runs), sort_ranges)
    events, from_run, pad_ns = _parse_events(name, body, file)
    selection = body.get("selection", DEFAULT_SELECTION)
    if selection not in SELECTIONS:
        raise _error(file, name, "selection", f"{brief(selection)} is not a selection mode",
                     f"use one of {', '.join(SELECTIONS)}")
    description = body.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise _error(file, name, "description", f"{brief(description)} is not a string", "quote it")
    dataset = parse_dataset_keys(name, body, file, plain=bool(runs or ranges or events))
    if not runs and not ranges and events is None and not dataset.get("base"):
        raise _error(file, name, None, *_HOLDS_NOTHING)
    dataset.pop("base", None)
    return Superrun(name=name, description=description, runs=tuple(runs), ranges=ranges,
                    events=events, from_run=from_run, pad_ns=int(pad_ns), selection=selection,
                    source_file=file, **dataset)


def _check_subrun(name: str, sub: Any, file, id_entry: str, entry: str, key: str) -> None:
    """A subrun named by ``name``'s ``key``: a valid id, and not ``name`` itself."""
    problem = subrun_problem(sub)
    if problem:
        raise _error(file, name, id_entry, problem, "fix the id")
    if sub == name:
        raise _error(file, name, entry, "the superrun contains itself",
                     f"remove it from its own {key}")


def _parse_runs(name: str, body: Mapping, file) -> list[str]:
    runs = body.get("runs") or []
    if not isinstance(runs, (list, tuple)):
        raise _error(file, name, "runs", f"{brief(runs)} is not a list", 'give a list, e.g. ["000001"]')
    seen: dict[str, int] = {}
    for i, sub in enumerate(runs):
        _check_subrun(name, sub, file, f"runs[{i}]", f"runs[{i}]", "runs:")
        if sub in seen:
            raise _error(file, name, f"runs[{i}]", f"{sub!r} is listed twice (also runs[{seen[sub]}])",
                         "list each subrun once")
        seen[sub] = i
    return list(runs)


def _parse_ranges(name: str, body: Mapping, file, whole: set[str], sort: bool
                  ) -> dict[str, tuple[tuple[int, int], ...]]:
    ranges_in = body.get("ranges") or {}
    if not isinstance(ranges_in, Mapping):
        raise _error(file, name, "ranges", f"{brief(ranges_in)} is not a mapping",
                     "give {subrun: [[start_ns, end_ns], ...]}")
    ranges: dict[str, tuple[tuple[int, int], ...]] = {}
    for sub, value in ranges_in.items():
        _check_subrun(name, sub, file, f"ranges key {sub!r}", f"ranges[{sub!r}]", "ranges:")
        if sub in whole:
            raise _error(file, name, f"ranges[{sub!r}]", f"{sub!r} is both in runs: (whole) and "
                         "in ranges:", "keep it in one of them")
        ranges[sub] = normalise_ranges(value, file, name, sub, sort=sort)
    return ranges


def _parse_events(name: str, body: Mapping, file) -> tuple[Path | None, str | None, int]:
    """``events``, ``from_run`` and ``pad_ns``, checked together."""
    events = body.get("events")
    if events is not None:
        if not isinstance(events, (str, os.PathLike)) or not str(events):
            raise _error(file, name, "events", f"{brief(events)} is not a file path",
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
    if not is_int(pad_ns) or pad_ns < 0:
        raise _error(file, name, "pad_ns", f"{brief(pad_ns)} is not an int >= 0", "give int ns, e.g. 1000")
    return events, from_run, pad_ns


def _int_pairs(value: Any) -> bool:
    """A non-empty list of ``[int, int]`` lists of Python ints: one shape for the schema."""
    return type(value) is list and bool(value) and all(
        type(x) is list and len(x) == 2 and type(x[0]) is int and type(x[1]) is int for x in value)


def _valid_pairs(value: list) -> bool:
    """Whether int pairs (see :func:`_int_pairs`) are ranges in order: checked as arrays."""
    try:
        pairs = np.array(value, dtype=np.int64)
    except OverflowError:
        return False
    s, e = pairs[:, 0], pairs[:, 1]
    return bool((s >= 0).all() and (s < e).all() and (s[1:] >= e[:-1]).all())


def normalise_ranges(value: Any, file, name: str, sub: str, *, sort: bool = False
                     ) -> tuple[tuple[int, int], ...]:
    """``[s, e]`` or ``[[s, e], ...]`` → tuple of ``(s, e)``, checked (as arrays when they are
    all plain int pairs in order; range by range, to name the first bad one, otherwise)."""
    if not sort and _int_pairs(value) and _valid_pairs(value):
        return tuple(map(tuple, value))
    entry = f"ranges[{sub!r}]"
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(is_int(x) for x in value):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise _error(file, name, entry, f"{brief(value)} is not a list of [start, end] ranges",
                     'give [[start_ns, end_ns], ...] (int ns since the epoch); put whole runs '
                     'in runs: instead of "all"')
    pairs = [_range_pair(pair, file, name, f"{entry}[{i}]") for i, pair in enumerate(value)]
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


def _range_pair(pair: Any, file, name: str, entry: str) -> tuple[int, int]:
    if isinstance(pair, np.ndarray):
        pair = pair.tolist()
    if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(is_int(x) for x in pair)):
        raise _error(file, name, entry, f"{brief(pair)} is not an [start, end] pair of ints",
                     "give two int ns since the epoch, e.g. [1546509600000000000, "
                     "1546509601000000000] (no floats, no timestamps)")
    s, e = int(pair[0]), int(pair[1])
    if not 0 <= s < e <= INT64_MAX:
        raise _error(file, name, entry, f"[{s}, {e}] is not a range with "
                     f"0 <= start < end <= 2**63-1", "make start smaller than end (end is exclusive)")
    return s, e
