"""The run registry: ``config/runs.yaml``, one entry per regular run.

```yaml
runs:
  "000001":                        # quote ids: YAML reads 000001 as the integer 1
    start: 2019-01-03T10:00:00Z    # YAML timestamp, ISO-8601 string or int ns since the epoch
    end: 2019-01-03T10:03:00Z      # exclusive
    mode: background
    source: none
    tags: [sr1]
    comments: ["optional free text"]
```

Times become int64 nanoseconds since the Unix epoch (UTC; a time without a zone is UTC).
A run holds ``[start, end)``. Run ids follow :mod:`superruns.base.names`: never a leading ``_``
(that marks a superrun), only letters, digits, ``_`` and ``.``.

The file is checked against ``schemas/runs.schema.json`` and then by hand; every problem
raises :class:`RunRegistryError` naming the file, the run and the fix.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base.errors import SuperrunsError
from ..base.names import (
    RUN_ID_PATTERN,
    SUPERRUN_NAME_PATTERN,
    case_collisions,
    is_superrun_id,
    run_id_problem,
    superrun_name_problem,
)
from ..base.schemas import first_error, schema_error_fix, schema_validator, witness_map
from ..base.times import format_ns, parse_time_ns
from ..base.yamlio import yaml_load

# Run ids and superrun names live in superruns.base.names, times in superruns.base.times and the
# YAML loader in superruns.base.yamlio; they are re-exported here for existing callers.
__all__ = [
    "RUN_ID_PATTERN",
    "SUPERRUN_NAME_PATTERN",
    "Run",
    "RunRegistry",
    "RunRegistryError",
    "UnknownRunError",
    "format_ns",
    "is_superrun_id",
    "parse_time_ns",
    "run_id_problem",
    "superrun_name_problem",
    "yaml_load",
]


class RunRegistryError(SuperrunsError, ValueError):
    """A problem with the run registry; the message names the file, the run and the fix."""


class UnknownRunError(RunRegistryError, KeyError):
    """A run id that is not in the registry (a ``KeyError`` too, so ``Mapping.get`` works)."""


# --------------------------------------------------------------------------------------
# Run, RunRegistry


@dataclass(frozen=True, slots=True)
class Run:
    """A regular run: ``[start, end)`` in int64 ns since the epoch (UTC)."""

    run_id: str
    start: int
    end: int
    mode: str = ""
    source: str = ""
    tags: tuple[str, ...] = ()
    comments: tuple[str, ...] = ()
    number: int | None = None          # the run number of the experiment's run database, if given

    @property
    def duration_ns(self) -> int:
        return self.end - self.start

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / 1e9


class RunRegistry(Mapping):
    """Mapping run_id → :class:`Run`, read from ``config/runs.yaml``.

    ``registry[run_id]`` raises :class:`UnknownRunError` (a ``RunRegistryError`` and a
    ``KeyError``) naming the file and the run. Iteration follows the file's order;
    :meth:`sorted_by_start` gives time order.
    """

    def __init__(self, runs: Iterable[Run] = (), *, source: str | Path = "<runs>"):
        self.source = source
        self._runs: dict[str, Run] = {}
        for run in runs:
            problem = run_id_problem(run.run_id)
            if problem:
                raise RunRegistryError(f"{self.source}: {problem}")
            if run.run_id in self._runs:
                raise RunRegistryError(f"{self.source}: run {run.run_id!r} is listed twice; "
                                       f"keep one entry")
            if not run.start < run.end:
                raise RunRegistryError(
                    f"{self.source}: run {run.run_id!r}: start {run.start} is not before end "
                    f"{run.end}; fix its start/end")
            self._runs[run.run_id] = run
        clash = case_collisions(self._runs)
        if clash:
            raise RunRegistryError(
                f"{self.source}: runs {clash[0]!r} and {clash[1]!r} differ only in case, so they "
                f"would share one folder on a case-insensitive file system (macOS, Windows); "
                f"rename one")
        self._by_start: list[Run] | None = None

    # -- construction ----------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> "RunRegistry":
        """Read and validate a runs file."""
        path = Path(path)
        return cls.from_dict(yaml_load(path, RunRegistryError), source=path)

    @classmethod
    def from_dict(cls, doc: Mapping, *, source: str | Path = "<dict>") -> "RunRegistry":
        """Validate a parsed runs document ``{"runs": {run_id: {start, end, ...}}}``."""
        where = str(source)
        _check_document(doc, where)
        return cls((_run_from_entry(run_id, entry, where)
                    for run_id, entry in doc["runs"].items()), source=source)

    # -- mapping ---------------------------------------------------------------------

    def __getitem__(self, run_id: str) -> Run:
        try:
            return self._runs[run_id]
        except (KeyError, TypeError):
            pass
        if is_superrun_id(run_id):
            raise UnknownRunError(
                f"{self.source}: {run_id!r} is a superrun name, not a run of this registry; "
                f"superruns are defined in superruns.yaml or superruns.d/")
        raise UnknownRunError(
            f"{self.source}: run {run_id!r} is not in the run registry; add it to "
            f"{self.source} (with start/end) or fix the id")

    def __contains__(self, run_id: object) -> bool:
        try:
            return run_id in self._runs
        except TypeError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def __repr__(self) -> str:
        return f"RunRegistry({len(self)} runs from {self.source})"

    def sorted_by_start(self) -> list[Run]:
        """All runs ordered by start time (then id)."""
        if self._by_start is None:
            self._by_start = sorted(self._runs.values(), key=lambda r: (r.start, r.end, r.run_id))
        return list(self._by_start)


# --------------------------------------------------------------------------------------
# validation: the JSON schema first (one witness per shape), then by hand per run


def _check_document(doc: Any, where: str) -> None:
    """The whole document: its top level, every run id, then the schema."""
    if doc is None:
        raise RunRegistryError(f"{where}: the file is empty; it needs a top-level 'runs:' "
                               f"mapping of run id to start/end")
    if not isinstance(doc, Mapping):
        raise RunRegistryError(f"{where}: the top level is a {type(doc).__name__}; it must "
                               f"be a mapping with one key, 'runs:'")
    runs = doc.get("runs")
    if isinstance(runs, Mapping):
        for run_id in runs:  # before the schema: a better message for unquoted ids
            problem = run_id_problem(run_id)
            if problem:
                raise RunRegistryError(f"{where}: runs: {problem}")
    _validate_schema(doc, where)


def _run_from_entry(run_id: str, entry: Mapping, where: str) -> Run:
    """One schema-checked entry as a :class:`Run`: times parsed, the rest checked by hand."""
    times = {}
    for key in ("start", "end"):
        try:
            times[key] = parse_time_ns(entry[key])
        except ValueError as exc:
            raise RunRegistryError(
                f"{where}: run {run_id!r}, {key}: {exc}; give a YAML timestamp "
                f"(2019-01-03T10:00:00Z), an ISO-8601 string or int ns since the epoch"
            ) from None
    if not times["start"] < times["end"]:
        raise RunRegistryError(
            f"{where}: run {run_id!r}: start {format_ns(times['start'])} is not before "
            f"end {format_ns(times['end'])}; fix its start/end (end is exclusive)")
    tags = entry.get("tags", ())
    if len(set(tags)) != len(tags):
        raise RunRegistryError(f"{where}: run {run_id!r}, tags: a tag is listed twice "
                               f"({tags}); list each tag once")
    comments = entry.get("comments", ())
    if isinstance(comments, str):
        comments = (comments,)
    return Run(run_id, times["start"], times["end"], entry.get("mode", ""),
               entry.get("source", ""), tuple(tags), tuple(comments), entry.get("number"))


def _plain(value: Any) -> Any:
    """YAML timestamps as the ISO strings the schema describes."""
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return value


def _schema_witness(doc: Mapping) -> Mapping:
    """``doc`` with one run per distinct shape, datetimes as ISO strings."""
    runs = doc.get("runs")
    if not isinstance(runs, Mapping):
        return doc
    prepared = dict(doc)
    prepared["runs"] = witness_map({
        run_id: ({k: _plain(v) for k, v in entry.items()} if isinstance(entry, Mapping) else entry)
        for run_id, entry in runs.items()
    })
    return prepared


def _validate_schema(doc: Mapping, where: str) -> None:
    """JSON-schema check (datetimes as ISO strings), on one run per distinct shape."""
    error = first_error(schema_validator("runs.schema.json"), _schema_witness(doc))
    if error is None:
        return
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "runs":
        what = f"run {path[1]!r}" + (f", {'/'.join(map(str, path[2:]))}" if len(path) > 2 else "")
    elif path:
        what = "/".join(map(str, path))
    else:
        what = "top level"
    if error.validator == "additionalProperties" and not path:
        fix = "the file holds one top-level key, 'runs:'"
    else:
        fix = schema_error_fix(error)
    raise RunRegistryError(f"{where}: {what}: {error.message}; {fix}")
