"""``define_run``: write a superrun definition file from a list, a dict or an array of events.

The definition is built, checked like a hand-written one (and against the definitions
already loaded), then written atomically to ``{directory}/{name}.yaml`` under a marker line,
so define_run never overwrites a file someone wrote or took over by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..base.atomic import atomic_open
from ..base.names import run_id_problem, superrun_name_problem
from ..model.runs import RunRegistry
from .catalog import Definitions
from .errors import definition_error as _error
from .events import events_to_windows
from .graph import Flat
from .parsing import is_int, parse_definition
from .records import DEFAULT_SELECTION, DEFINE_RUN_MARKER, Superrun

__all__ = ["define_run"]


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
    runs = _registry(target, name, runs, definitions)
    if hasattr(data, "to_records") and not isinstance(data, np.ndarray):
        data = data.to_records(index=False)
    if isinstance(data, np.ndarray):
        body = _body_from_events(target, name, data, runs, from_run, pad_ns)
        if description is None:
            description = (f"{len(data)} events" + (f" of run {from_run}" if from_run else "")
                           + (f", windows widened by {pad_ns} ns" if pad_ns else ""))
    else:
        body = _body_from_subruns(target, name, data, from_run, pad_ns)
    if description:
        body["description"] = description
    if selection is not None:
        body["selection"] = selection
    sr = parse_definition(name, body, target, sort_ranges=True)
    _check_directory_read(target, name, definitions)
    exists = _check_target_free(target, name, overwrite)
    flat = _flatten_with_existing(sr, target, runs, definitions)
    try:
        # Create-if-absent is atomic (a hard link of the complete temporary file): of two
        # writers racing for a new name exactly one wins.
        with atomic_open(target, "w", encoding="utf-8", exclusive=not exists) as stream:
            stream.write(_definition_text(sr, flat))
    except FileExistsError:
        raise _error(target, name, None, "the file appeared while define_run was writing it "
                     "(another process defined the same superrun at the same time); nothing "
                     "was written", "look at that file, then pass overwrite=True to replace "
                     "it, or choose another name") from None
    return target


def _registry(target: Path, name: str, runs: RunRegistry | None,
              definitions: Definitions | None) -> RunRegistry:
    """The run registry to validate against: ``runs``, else that of ``definitions``."""
    if runs is None and definitions is not None:
        runs = definitions.runs
    if runs is None:
        raise _error(target, name, None, "no run registry to validate against",
                     "pass runs=RunRegistry.load('config/runs.yaml') (or definitions=...)")
    return runs


# --------------------------------------------------------------------------------------
# the definition's body from data


def _body_from_events(target: Path, name: str, data: np.ndarray, runs: RunRegistry,
                      from_run: str | None, pad_ns: Any) -> dict[str, Any]:
    """``ranges:`` of the merged, padded windows around a record array of events."""
    if data.dtype.names is None:
        raise _error(target, name, "data", f"a plain {data.dtype} array, not a record array of "
                     "events", "pass a list of ids, a dict {subrun: ranges}, or a record array "
                     "with time, endtime (or length, dt) and run_id")
    if from_run is not None:
        problem = run_id_problem(from_run)
        if problem:
            raise _error(target, name, "from_run", problem, "give the regular run of the events")
    if not is_int(pad_ns) or pad_ns < 0:
        raise _error(target, name, "pad_ns", f"{pad_ns!r} is not an int >= 0", "give int ns")
    try:
        windows = events_to_windows(data, runs, from_run=from_run, pad_ns=int(pad_ns),
                                    where="data")
    except ValueError as exc:
        raise _error(target, name, "data", str(exc), "fix the events (each inside its run, "
                     "run_id as strings matching runs.yaml) or pass from_run") from None
    return {"ranges": {r: [list(w) for w in ws] for r, ws in windows.items()}}


def _body_from_subruns(target: Path, name: str, data: Any, from_run: str | None,
                       pad_ns: Any) -> dict[str, Any]:
    """``runs:`` and/or ``ranges:`` from a list of ids or a dict ``{subrun: "all" | ranges}``."""
    for key, value in (("from_run", from_run), ("pad_ns", pad_ns or None)):
        if value is not None:
            raise _error(target, name, key, f"{key} applies only to an array of events",
                         f"drop {key}= or pass events")
    if isinstance(data, (str, bytes)):
        raise _error(target, name, "data", f"a bare string {data!r}",
                     f"pass a list, e.g. [{data!r}]")
    if isinstance(data, Mapping):
        body = _body_from_mapping(target, name, data)
    elif isinstance(data, (list, tuple)):
        body = {"runs": _ids_from(data, target, name)}
    else:
        raise _error(target, name, "data", f"cannot define a superrun from {type(data).__name__}",
                     "pass a list of ids, a dict {subrun: 'all' | ranges} or a record array "
                     "of events")
    if not body:
        raise _error(target, name, "data", "holds no subruns", "name at least one subrun")
    return body


def _body_from_mapping(target: Path, name: str, data: Mapping) -> dict[str, Any]:
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
    body: dict[str, Any] = {}
    if whole:
        body["runs"] = whole
    if ranges:
        body["ranges"] = ranges
    return body


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


# --------------------------------------------------------------------------------------
# the target file


def _check_directory_read(target: Path, name: str, definitions: Definitions | None) -> None:
    """``target``'s directory is one the configuration reads (else the superrun is unknown)."""
    if definitions is None or definitions.paths is None:
        return
    folder = target.parent.resolve()
    if any(Path(p).resolve() == folder for p in definitions.paths):
        return
    listed = ", ".join(str(p) for p in definitions.paths) or "nothing"
    raise _error(target, name, None, f"the configuration's superruns: list ({listed}) does not "
                 f"read the folder {target.parent}, so the new superrun would stay unknown",
                 f"add {target.parent} to superruns: in the configuration, or write into a "
                 f"folder it lists")


def _check_target_free(target: Path, name: str, overwrite: bool) -> bool:
    """A file at ``target`` may be replaced only if define_run wrote it and ``overwrite``;
    True when it exists (and may be replaced)."""
    if not target.exists() and not target.is_symlink():
        return False
    with open(target, encoding="utf-8", errors="replace") as stream:
        first = stream.readline()
    if not first.startswith(DEFINE_RUN_MARKER):
        raise _error(target, name, None, "the file exists and was not written by define_run "
                     "(its first line is not the define_run marker), so it may hold hand edits",
                     "edit that file by hand, or give the superrun another name")
    if not overwrite:
        raise _error(target, name, None, "the file exists (written by define_run)",
                     "pass overwrite=True to replace it")
    return True


def _flatten_with_existing(sr: Superrun, target: Path, runs: RunRegistry,
                           definitions: Definitions | None) -> Flat:
    """``sr`` flattened among the existing definitions (it replaces only its own file's)."""
    existing: dict[str, Superrun] = {}
    if definitions is not None:
        existing = definitions.superruns()
        old = existing.pop(sr.name, None)
        if old is not None and (old.source_file is None
                                or Path(old.source_file).resolve() != target.resolve()):
            raise _error(target, sr.name, None, f"it is already defined in {old.source_file}",
                         "choose another name, or change it there")
    existing[sr.name] = sr
    files = list(definitions.files) if definitions is not None else []
    check = Definitions(existing, runs, base_dir=definitions.base_dir if definitions else Path("."),
                        files=files + [target])
    return check.flat(sr.name)


def _definition_text(sr: Superrun, flat: Flat) -> str:
    """The file's text: the marker line, then the definition with subruns in time order."""
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
    return (f"{DEFINE_RUN_MARKER}; delete this line to take the file over by hand\n"
            + yaml.safe_dump({sr.name: ordered}, sort_keys=False, default_flow_style=None,
                             width=100))
