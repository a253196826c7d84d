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
A run holds ``[start, end)``. Run ids never start with ``_`` (that marks a superrun) and hold
only letters, digits, ``_`` and ``.`` (no ``/``, ``,``, ``-`` or white space: strax's
DataDirectory rejects ``-``, and ``/`` would make a path).

The file is checked against ``schemas/runs.schema.json`` and then by hand; every problem
raises :class:`RunRegistryError` naming the file, the run and the fix.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

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
    "yaml_load",
]

#: A regular run id (no anchors, usable as a Snakemake wildcard constraint).
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.]*"
#: A superrun name: ``_`` then what a run id may hold.
SUPERRUN_NAME_PATTERN = r"_[A-Za-z0-9][A-Za-z0-9_.]*"
_RUN_ID_RE = re.compile(RUN_ID_PATTERN)
_SUPERRUN_RE = re.compile(SUPERRUN_NAME_PATTERN)

INT64_MAX = 2**63 - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_ISO_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{1,2}:\d{2}(?::\d{2})?)(?:\.(?P<frac>\d{1,9}))?)?"
    r"[ \t]*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)


class RunRegistryError(ValueError):
    """A problem with the run registry; the message names the file, the run and the fix."""


class UnknownRunError(RunRegistryError, KeyError):
    """A run id that is not in the registry (a ``KeyError`` too, so ``Mapping.get`` works)."""

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return str(self.args[0]) if self.args else ""


def is_superrun_id(run_id: str) -> bool:
    """True for a superrun name (starts with ``_``), as strax decides it."""
    return isinstance(run_id, str) and run_id.startswith("_")


def run_id_problem(run_id: Any) -> str | None:
    """Why ``run_id`` is not a valid regular run id, or None when it is."""
    if isinstance(run_id, bool) or not isinstance(run_id, str):
        if isinstance(run_id, (int, float)) and not isinstance(run_id, bool):
            return (f"run id {run_id!r} is a number, not a string: YAML reads unquoted digits "
                    f"as a number (000001 becomes 1, and 000010 the octal 8); quote it, e.g. "
                    f'"000001"')
        return f"run id {run_id!r} is a {type(run_id).__name__}, not a string; quote it"
    if not run_id:
        return "the run id is empty"
    if run_id.startswith("_"):
        return (f"run id {run_id!r} starts with '_', which marks a superrun; regular run ids "
                f"never do: rename the run (or define a superrun in superruns.yaml)")
    if not _RUN_ID_RE.fullmatch(run_id):
        bad = sorted({c for c in run_id if not (c.isascii() and (c.isalnum() or c in "_."))}
                     | ({run_id[0]} if run_id[0] == "." else set()))
        shown = ", ".join(repr(c) for c in bad)
        return (f"run id {run_id!r} holds {shown}; a run id starts with a letter or digit and "
                f"holds only letters, digits, '_' and '.' (no '/', ',', '-' or spaces: strax "
                f"rejects '-', use '_')")
    return None


def superrun_name_problem(name: Any) -> str | None:
    """Why ``name`` is not a valid superrun name, or None when it is."""
    if not isinstance(name, str):
        return f"superrun name {name!r} is a {type(name).__name__}, not a string"
    if not name.startswith("_"):
        return (f"superrun name {name!r} does not start with '_' (strax would silently prepend "
                f"one; we refuse): call it '_{name}'")
    if not _SUPERRUN_RE.fullmatch(name):
        return (f"superrun name {name!r} is not '_' followed by a letter or digit and then only "
                f"letters, digits, '_' and '.': rename it, e.g. "
                f"'_{re.sub(r'[^A-Za-z0-9_.]', '_', name.lstrip('_')) or 'x'}'")
    return None


# --------------------------------------------------------------------------------------
# times


def _datetime_ns(value: _dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def parse_time_ns(value: Any) -> int:
    """int ns since the epoch from an int, a datetime/date (naive = UTC) or an ISO-8601 string.

    ISO strings may carry up to 9 fractional digits (nanoseconds) and a zone (``Z``,
    ``+01:00``); without a zone they are UTC. Raises ``ValueError`` with the reason.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a time")
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in ("i", "u")):
        ns = int(value)
    elif isinstance(value, _dt.datetime):
        ns = _datetime_ns(value)
    elif isinstance(value, _dt.date):
        ns = _datetime_ns(_dt.datetime(value.year, value.month, value.day))
    elif isinstance(value, str):
        m = _ISO_RE.match(value.strip())
        if not m:
            raise ValueError(f"{value!r} is not an ISO-8601 time such as 2019-01-03T10:00:00Z")
        text = m["date"] + ("T" + m["time"] if m["time"] else "")
        if m["time"] and m["time"].count(":") == 1:
            text += ":00"
        tz = m["tz"]
        if tz and tz not in "Zz":
            if len(tz) == 3:
                tz += ":00"
            elif ":" not in tz:
                tz = tz[:3] + ":" + tz[3:]
            text += tz
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid time: {exc}") from None
        ns = _datetime_ns(parsed) + int((m["frac"] or "0").ljust(9, "0"))
    elif isinstance(value, float):
        raise ValueError(f"{value!r} is a float; give int nanoseconds (or an ISO-8601 time)")
    else:
        raise ValueError(f"{value!r} ({type(value).__name__}) is not a time")
    if not 0 <= ns <= INT64_MAX:
        raise ValueError(f"{value!r} is outside int64 nanoseconds since 1970")
    return ns


def format_ns(ns: int) -> str:
    """ISO-8601 UTC text of int ns (for messages), e.g. ``2019-01-03T10:00:00.000000001Z``."""
    seconds, frac = divmod(int(ns), 1_000_000_000)
    text = (_EPOCH + _dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


# --------------------------------------------------------------------------------------
# YAML: safe, fast, and refusing duplicate keys

_YamlBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_IMMUTABLE = (str, int, float, bool, type(None))


class _Loader(_YamlBase):  # type: ignore[misc, valid-type]
    """Safe loader (libyaml when available) that refuses a key repeated in one mapping."""

    def construct_mapping(self, node, deep=False):  # noqa: D102
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue
                if first is not key_node:
                    raise _duplicate_key(key, key_node.start_mark)
        return super().construct_mapping(node, deep)


def _duplicate_key(key, mark):
    return yaml.constructor.ConstructorError(
        None, None, f"key {key!r} appears twice in one mapping; YAML would silently keep only "
        f"the last: remove or rename one", mark)


class _Fallback(Exception):
    """Something the fast loader does not handle (tags, merge keys, ...): use the full one."""


def _fast_load(data: bytes) -> Any:
    """Build the document straight from libyaml's events, skipping the node graph.

    Composing nodes costs ~60 % of a plain ``yaml.load`` with CSafeLoader (~1 s for a
    10,000-run registry here); events cost ~0.1 s. Scalars are resolved and constructed by
    the same SafeLoader resolver and constructors, so the result is identical; explicit
    tags, merge keys, unhashable keys and multi-document streams raise ``_Fallback``.
    """
    from yaml.events import (AliasEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                             SequenceEndEvent, SequenceStartEvent, StreamEndEvent)

    loader = _YamlBase(data)
    try:
        get = loader.get_event
        resolve = loader.resolve
        constructors = loader.yaml_constructors
        anchors: dict = {}
        cache: dict = {}

        def build(event):
            kind = type(event)
            if event.__dict__.get("tag") not in (None, "!"):
                raise _Fallback
            if kind is ScalarEvent:
                key = (event.value, event.implicit)
                obj = cache.get(key, cache)
                if obj is cache:
                    tag = resolve(yaml.ScalarNode, event.value, event.implicit)
                    if tag == _STR_TAG:
                        obj = event.value
                    else:
                        node = yaml.ScalarNode(tag, event.value, event.start_mark,
                                               event.end_mark, event.style)
                        try:
                            obj = constructors[tag](loader, node)
                        except (ValueError, TypeError, OverflowError) as exc:
                            raise yaml.constructor.ConstructorError(
                                None, None, f"{event.value!r} is not valid: {exc}",
                                event.start_mark) from None
                    if isinstance(obj, _IMMUTABLE):
                        cache[key] = obj
                if event.anchor:
                    anchors[event.anchor] = obj
                return obj
            if kind is MappingStartEvent:
                out: dict = {}
                if event.anchor:
                    anchors[event.anchor] = out
                while True:
                    key_event = get()
                    if type(key_event) is MappingEndEvent:
                        return out
                    if (type(key_event) is ScalarEvent and key_event.value == "<<"
                            and key_event.implicit[0]):
                        raise _Fallback
                    key = build(key_event)
                    try:
                        if key in out:
                            raise _duplicate_key(key, key_event.start_mark)
                    except TypeError:
                        raise _Fallback from None
                    out[key] = build(get())
            if kind is SequenceStartEvent:
                seq: list = []
                if event.anchor:
                    anchors[event.anchor] = seq
                while True:
                    item = get()
                    if type(item) is SequenceEndEvent:
                        return seq
                    seq.append(build(item))
            if kind is AliasEvent and event.anchor in anchors:
                return anchors[event.anchor]
            raise _Fallback

        get()  # stream start
        event = get()
        if type(event) is StreamEndEvent:
            return None
        result = build(get())  # after the document start
        get()  # document end
        if type(get()) is not StreamEndEvent:
            raise _Fallback  # several documents: let the full loader complain
        return result
    finally:
        loader.dispose()


def yaml_load(path: Path, error_cls: type[Exception] = ValueError) -> Any:
    """Parse a YAML file safely (libyaml when available), refusing duplicate keys.

    Errors become ``error_cls`` naming the file and the line.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise error_cls(f"{path}: file not found; create it or fix the path") from None
    except IsADirectoryError:
        raise error_cls(f"{path}: is a directory, not a YAML file; fix the path") from None
    try:
        try:
            return _fast_load(data)
        except _Fallback:
            return yaml.load(data, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise error_cls(f"{path}: not valid YAML: {exc}; fix the syntax at the line shown") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp with month 13
        raise error_cls(f"{path}: a value is not valid: {exc}; fix it") from None


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """A JSON schema shipped in ``superruns/schemas/``."""
    return json.loads(resources.files("superruns").joinpath("schemas", name).read_text())


@lru_cache(maxsize=None)
def schema_validator(name: str):
    """A ``jsonschema`` validator for a shipped schema (imported lazily: it is not cheap)."""
    import jsonschema

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_error_fix(error) -> str:
    """A short fix for a ``jsonschema`` error."""
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        return f"remove it or fix the spelling; allowed keys: {', '.join(allowed)}"
    if v == "required":
        return f"add the missing key(s): {', '.join(error.validator_value)}"
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"give a value of type {want}"
    if v in ("anyOf", "oneOf") and error.schema.get("description"):
        return f"give {error.schema['description']}"
    if v == "enum":
        return "use one of " + ", ".join(repr(x) for x in error.validator_value)
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"give a value within the allowed range ({v} {error.validator_value})"
    if v in ("minItems", "maxItems"):
        return f"give the right number of items ({v} {error.validator_value})"
    return "see the JSON schema in workflow/superruns/schemas/ for the expected form"


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

        out = []
        for run_id, entry in runs.items():
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
            out.append(Run(run_id, times["start"], times["end"], entry.get("mode", ""),
                           entry.get("source", ""), tuple(tags), tuple(comments)))
        return cls(out, source=source)

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


def shape(value: Any) -> Any:
    """A hashable signature of a parsed value's structure: keys and types, not values.

    jsonschema costs ~80 µs per run entry (~1 s for 10,000 runs), so :func:`schema_witness`
    keeps one entry per distinct shape for the schema; the value rules (times, ranges, id
    patterns, uniqueness) are checked by hand for every entry anyway.
    """
    if isinstance(value, Mapping):
        return ("map", frozenset((k if isinstance(k, str) else ("key", type(k).__name__, repr(k)),
                                  shape(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("seq", frozenset(shape(v) for v in value))
    return type(value).__name__


def witness_list(items: list) -> list:
    """One item of ``items`` per distinct :func:`shape` (order kept)."""
    seen: dict = {}
    for item in items:
        seen.setdefault(shape(item), item)
    return list(seen.values())


def witness_map(mapping: Mapping) -> dict:
    """The entries of a mapping whose values have distinct :func:`shape`s (first of each)."""
    seen: dict = {}
    for key, value in mapping.items():
        seen.setdefault(shape(value), (key, value))
    return dict(seen.values())


def _validate_schema(doc: Mapping, where: str) -> None:
    """JSON-schema check (datetimes as ISO strings), on one run per distinct shape."""
    def plain(value):
        if isinstance(value, (_dt.datetime, _dt.date)):
            return value.isoformat()
        return value

    runs = doc.get("runs")
    if isinstance(runs, Mapping):
        prepared = dict(doc)
        prepared["runs"] = witness_map({
            run_id: ({k: plain(v) for k, v in entry.items()} if isinstance(entry, Mapping) else entry)
            for run_id, entry in runs.items()
        })
    else:
        prepared = doc
    validator = schema_validator("runs.schema.json")
    error = next(iter(sorted(validator.iter_errors(prepared), key=lambda e: list(map(str, e.absolute_path)))), None)
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
