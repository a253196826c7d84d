"""Run metadata of a superrun: its run document and its sub-run specs.

``mode``, ``source`` and ``tags`` are the sorted unique non-empty values over the leaf runs
(strax leaves set order and adds ``""``). ``sub_run_spec_hash`` hashes the flat spec and the
selection exactly as strax's ``deterministic_hash`` does, so it must not change.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..base.hashing import deterministic_hash
from ..model.runs import Run, RunRegistry
from .derive import Resolution
from .exposure import exposure
from .graph import Flat
from .records import Superrun

__all__ = ["MAX_LISTED_RANGES", "file_spec_fields", "flat_sub_run_spec", "registry_spans_hash",
           "run_metadata", "sub_run_spec", "summarised_spec"]

#: The most time ranges a superrun file's metadata lists in ``sub_run_spec`` and
#: ``sub_run_spec_flat`` together; past it both are summarised (see :func:`file_spec_fields`),
#: so that a superrun of a million events is not a file of 40 MB of metadata.
MAX_LISTED_RANGES = 1000


def sub_run_spec(d: Superrun, flat: Flat, flat_spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{subrun: "all" | [[s, e], ...]}`` as defined, keys in time order. An events run's
    windows that are exactly its entry of ``flat_spec`` share that list (a million windows
    are then one list in the run document, not two)."""
    spec: dict[str, Any] = {}
    for sub in flat.direct:
        if sub in d.ranges:
            spec[sub] = [[s, e] for s, e in d.ranges[sub]]
        elif sub in flat.windows:
            windows = np.asarray(flat.windows[sub], dtype=np.int64).reshape(-1, 2)
            same = flat_spec is not None and isinstance(flat_spec.get(sub), list) and \
                len(flat_spec[sub]) == len(windows) and np.array_equal(_spans_of(flat, sub), windows)
            spec[sub] = flat_spec[sub] if same else windows.tolist()
        else:
            spec[sub] = "all"
    return spec


def _spans_of(flat: Flat, run_id: str) -> np.ndarray:
    """The ``(n, 2)`` segments of one leaf run, in time order."""
    rows = flat.run_index == flat.run_ids.index(run_id)
    return np.stack([flat.starts[rows], flat.ends[rows]], axis=1)


def flat_sub_run_spec(flat: Flat, runs: RunRegistry) -> dict[str, Any]:
    """``{leaf_run: "all" | [[s, e], ...]}`` in time order; "all" for a run held whole."""
    out: dict[str, Any] = {}
    order = np.argsort(flat.run_index, kind="stable")     # each run's segments, in time order
    bounds = np.searchsorted(flat.run_index[order], np.arange(len(flat.run_ids) + 1))
    first = {r: int(order[bounds[r]]) for r in range(len(flat.run_ids)) if bounds[r] < bounds[r + 1]}
    for r in sorted(first, key=first.get):                # runs in order of their first segment
        rows = order[bounds[r]:bounds[r + 1]]
        whole = len(rows) == 1 and bool(flat.whole[rows[0]])
        out[flat.run_ids[r]] = "all" if whole else np.stack([flat.starts[rows], flat.ends[rows]], axis=1).tolist()
    return out


def _sorted_values(leaf: list[Run], attr: str) -> list[str]:
    """Sorted unique non-empty values of a run attribute (a string or a tuple of them)."""
    found: set[str] = set()
    for run in leaf:
        value = getattr(run, attr)
        found.update((value,) if isinstance(value, str) else value)
    found.discard("")
    return sorted(found)


@contextmanager
def _collector_paused():
    """Python's cyclic garbage collector paused while specs of up to millions of ranges are
    built: they hold no cycles, and the collector would scan the growing lists again and
    again (~45 % of the time for a million windows). Restored as it was."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_metadata(d: Superrun, flat: Flat, runs: RunRegistry,
                 resolution: Resolution | None = None) -> dict[str, Any]:
    """The superrun's run document (times int ns, livetime float s of what it holds, after
    vetoes; ``exposure``). A derived superrun's sub-run specs are those of the plain
    definition it resolves to; one using a DQ version adds the version and its file's hash
    to the spec hash (editing the file rebuilds exactly what uses it)."""
    with _collector_paused():
        return _run_metadata(d, flat, runs, resolution)


def _run_metadata(d: Superrun, flat: Flat, runs: RunRegistry, resolution: Resolution | None) -> dict[str, Any]:
    flat_spec = flat_sub_run_spec(flat, runs)
    leaf = [runs[r] for r in flat_spec]
    plain = d if resolution is None else resolution.plain
    dq = resolution.dq if resolution is not None else None
    hashed = (hash_form(flat_spec), d.selection) if dq is None else (
        hash_form(flat_spec), d.selection, {"dq": [dq.version, dq.hash]})
    extra: dict[str, Any] = {}
    if dq is not None:
        extra["dq"] = {"version": dq.version, "require": d.query["dq"]["require"], "hash": dq.hash}
    if d.query is not None:
        extra["query"] = dict(d.query)
    return {
        "name": d.name,
        "start": int(flat.starts[0]),
        "end": int(flat.ends.max()),
        "livetime": int((flat.ends - flat.starts).sum()) / 1e9,
        "mode": _sorted_values(leaf, "mode"),
        "source": _sorted_values(leaf, "source"),
        "tags": _sorted_values(leaf, "tags"),
        "description": d.description,
        "selection": d.selection,
        "n_leaf_runs": len(leaf),
        "sub_run_spec": sub_run_spec(plain, flat, flat_spec),
        "sub_run_spec_flat": flat_spec,
        "sub_run_spec_hash": deterministic_hash(hashed),
        "registry_spans_hash": registry_spans_hash(leaf),
        "exposure": exposure(flat, resolution),
    } | extra


def registry_spans_hash(leaf: list[Run]) -> str:
    """A hash of the registry spans ``[start, end)`` of the leaf runs, in time order. A run held
    whole is ``"all"`` in the specs, so its span is in no spec hash (``sub_run_spec_hash``
    stays strax's form); this one records it, so moving a run's ``end`` rebuilds every
    superrun holding it (:mod:`superruns.storage.freshness`)."""
    return deterministic_hash([[run.run_id, run.start, run.end] for run in leaf])


def hash_form(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with its range lists as tuples: the same :func:`deterministic_hash` (tuples and
    lists hash alike), but hashable, so the hash does not walk a million ranges in Python."""
    return {sub: value if value == "all" else tuple(map(tuple, value)) for sub, value in spec.items()}


def _n_ranges(spec: dict[str, Any]) -> int:
    return sum(len(value) for value in spec.values() if value != "all")


def summarised_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """``{subrun: "all" | {"n_ranges", "start", "end", "livetime_ns"}}``: a spec without its ranges."""
    return {sub: value if value == "all" else {
        "n_ranges": len(value), "start": value[0][0], "end": value[-1][1],
        "livetime_ns": sum(e - s for s, e in value)} for sub, value in spec.items()}


def file_spec_fields(md: dict[str, Any]) -> dict[str, Any]:
    """The sub-run spec fields a superrun file's metadata holds, from its run document ``md``.

    Up to :data:`MAX_LISTED_RANGES` ranges, the specs as they are. Past it, both specs are
    summarised (:func:`summarised_spec`), ``sub_run_spec_summarised`` is true, and
    ``sub_run_spec_strax_hash`` keeps what strax would hash of the full spec (its ``H`` in
    ``{superrun}_{H}``, ``deterministic_hash((sub_run_spec, False))``), so that strax's
    frontend still recognises the definition. ``sub_run_spec_hash`` (the flat spec and the
    selection) always identifies the full definition.
    """
    fields = {key: md[key] for key in ("sub_run_spec", "sub_run_spec_flat", "sub_run_spec_hash",
                                       "registry_spans_hash", "selection") if key in md}
    if _n_ranges(md["sub_run_spec"]) + _n_ranges(md["sub_run_spec_flat"]) > MAX_LISTED_RANGES:
        with _collector_paused():
            strax_hash = deterministic_hash((hash_form(md["sub_run_spec"]), False))
        fields.update(sub_run_spec=summarised_spec(md["sub_run_spec"]),
                      sub_run_spec_flat=summarised_spec(md["sub_run_spec_flat"]),
                      sub_run_spec_summarised=True,
                      sub_run_spec_strax_hash=strax_hash)
    return fields
