"""Queries on the run registry: ``query:`` of a definition and :func:`select_runs`.

```yaml
query:                             # every key optional; a run must satisfy all of them
  mode: background                 # a value or a list of values
  source: none                     # a value or a list of values
  tags: [sr1]                      # runs carrying every one of these
  exclude_tags: [low_rate]         # runs carrying none of these
  start: 2019-01-01T00:00:00Z      # runs starting at or after (ISO-8601 or int ns)
  end: 2019-03-01T00:00:00Z        # runs ending at or before
  dq: {version: v1, require: [tpc]}   # runs whose required subsystems are good (definitions.dq)
```

A query resolves to whole runs in time order; :func:`resolve_query` also says how many runs
each filter left, so an empty result names the filter that removed the last run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..base.errors import brief
from ..base.times import format_ns, parse_time_ns
from ..model.runs import Run, RunRegistry
from .dq import DataQuality
from .errors import definition_error as _error

__all__ = ["QUERY_KEYS", "normalise_query", "parse_query", "resolve_query", "run_row",
           "select_runs"]

QUERY_KEYS = ("mode", "source", "tags", "exclude_tags", "start", "end", "dq")


def normalise_query(query: Mapping) -> dict[str, Any]:
    """A query as plain JSON-able values (lists of strings, times as int ns); ``ValueError``
    saying which key is wrong."""
    unknown = [k for k in query if k not in QUERY_KEYS]
    if unknown:
        raise ValueError(f"unknown query key {unknown[0]!r} (allowed: {', '.join(QUERY_KEYS)})")
    out: dict[str, Any] = {}
    for key in ("mode", "source", "tags", "exclude_tags"):
        if query.get(key) is not None:
            value = query[key]
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
                raise ValueError(f"{key}: {brief(value)} is not a string or a list of strings")
            out[key] = sorted(set(values))
    for key in ("start", "end"):
        if query.get(key) is not None:
            try:
                out[key] = parse_time_ns(query[key])
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
    dq = query.get("dq")
    if dq is not None:
        if (not isinstance(dq, Mapping) or set(dq) - {"version", "require"}
                or not isinstance(dq.get("version"), str)):
            raise ValueError(f"dq: {brief(dq)} is not {{version: <name>, require: [subsystem, ...]}}")
        require = dq.get("require") or []
        require = [require] if isinstance(require, str) else require
        if not isinstance(require, list) or not all(isinstance(s, str) for s in require):
            raise ValueError(f"dq.require: {brief(require)} is not a list of subsystems")
        out["dq"] = {"version": dq["version"], "require": sorted(set(require))}
    return out


def parse_query(name: str, value: Any, file) -> dict[str, Any]:
    """``query:`` of definition ``name``, normalised (a DefinitionError when malformed)."""
    if not isinstance(value, Mapping):
        raise _error(file, name, "query", f"{brief(value)} is not a mapping",
                     f"give e.g. query: {{mode: background, tags: [sr1]}} (keys: {', '.join(QUERY_KEYS)})")
    try:
        return normalise_query(value)
    except ValueError as exc:
        raise _error(file, name, "query", str(exc), "fix the key or its value; a run must satisfy "
                     f"every key given (keys: {', '.join(QUERY_KEYS)})") from None


def _filters(query: Mapping, dq: DataQuality | None) -> list[tuple[str, Callable[[Run], bool]]]:
    """``(what it asks, predicate)`` per key of the query, in the order of QUERY_KEYS."""
    out: list[tuple[str, Callable[[Run], bool]]] = []
    if "mode" in query:
        modes = set(query["mode"])
        out.append((f"mode in {query['mode']}", lambda r: r.mode in modes))
    if "source" in query:
        sources = set(query["source"])
        out.append((f"source in {query['source']}", lambda r: r.source in sources))
    if "tags" in query:
        tags = set(query["tags"])
        out.append((f"tags {query['tags']}", lambda r: tags.issubset(r.tags)))
    if "exclude_tags" in query:
        excl = set(query["exclude_tags"])
        out.append((f"exclude_tags {query['exclude_tags']}", lambda r: excl.isdisjoint(r.tags)))
    if "start" in query:
        t0 = query["start"]
        out.append((f"start >= {format_ns(t0)}", lambda r: r.start >= t0))
    if "end" in query:
        t1 = query["end"]
        out.append((f"end <= {format_ns(t1)}", lambda r: r.end <= t1))
    if "dq" in query and dq is not None:
        require = query["dq"]["require"]
        out.append((f"dq {dq.version} good in {require}", lambda r: dq.is_good(r.run_id, require)))
    return out


def resolve_query(query: Mapping, runs: RunRegistry, dq: DataQuality | None = None
                  ) -> tuple[list[str], list[tuple[str, int]]]:
    """The run ids matching ``query`` in time order, and ``(filter, runs left)`` per filter."""
    left = runs.sorted_by_start()
    counts = [("the run registry", len(left))]
    for label, keep in _filters(query, dq):
        left = [r for r in left if keep(r)]
        counts.append((label, len(left)))
    return [r.run_id for r in left], counts


def emptied_by(counts: list[tuple[str, int]]) -> str:
    """Words for the filter that removed the last run."""
    for (_, before), (label, after) in zip(counts, counts[1:]):
        if after == 0:
            return f"the filter {label} removed the last {before} run(s)"
    return f"{counts[0][0]} holds no runs"


def run_row(run: Run) -> dict[str, Any]:
    """A run's metadata with the keys a query uses (and livetime in s)."""
    return {"name": run.run_id, "start": run.start, "end": run.end, "mode": run.mode,
            "source": run.source, "tags": list(run.tags), "livetime": (run.end - run.start) / 1e9}


def select_runs(runs: RunRegistry, quality: DataQuality | None = None, **query
                ) -> list[dict[str, Any]]:
    """The runs matching ``query`` (the keys of ``query:``), with their metadata, time order."""
    q = normalise_query(query)
    ids, _ = resolve_query(q, runs, quality)
    return [run_row(runs[r]) for r in ids]
