"""Run metadata of a superrun: its run document and its sub-run specs.

``mode``, ``source`` and ``tags`` are the sorted unique non-empty values over the leaf runs
(strax leaves set order and adds ``""``). ``sub_run_spec_hash`` hashes the flat spec and the
selection exactly as strax's ``deterministic_hash`` does, so it must not change.
"""

from __future__ import annotations

from typing import Any

from ..hashing import deterministic_hash
from ..runs import Run, RunRegistry
from .derive import Resolution
from .exposure import exposure
from .graph import Flat
from .records import Superrun

__all__ = ["flat_sub_run_spec", "run_metadata", "sub_run_spec"]


def sub_run_spec(d: Superrun, flat: Flat) -> dict[str, Any]:
    """``{subrun: "all" | [[s, e], ...]}`` as defined, keys in time order."""
    spec: dict[str, Any] = {}
    for sub in flat.direct:
        if sub in d.ranges:
            spec[sub] = [[s, e] for s, e in d.ranges[sub]]
        elif sub in flat.windows:
            spec[sub] = [[s, e] for s, e in flat.windows[sub]]
        else:
            spec[sub] = "all"
    return spec


def flat_sub_run_spec(flat: Flat, runs: RunRegistry) -> dict[str, Any]:
    """``{leaf_run: "all" | [[s, e], ...]}`` in time order; "all" for a run held whole."""
    per_run: dict[str, list[list[int]]] = {}
    for seg in flat.segments:
        per_run.setdefault(seg.run_id, []).append([seg.start, seg.end])
    out: dict[str, Any] = {}
    for run_id, pieces in per_run.items():
        run = runs[run_id]
        whole = len(pieces) == 1 and pieces[0] == [run.start, run.end]
        out[run_id] = "all" if whole else pieces
    return out


def _sorted_values(leaf: list[Run], attr: str) -> list[str]:
    """Sorted unique non-empty values of a run attribute (a string or a tuple of them)."""
    found: set[str] = set()
    for run in leaf:
        value = getattr(run, attr)
        found.update((value,) if isinstance(value, str) else value)
    found.discard("")
    return sorted(found)


def run_metadata(d: Superrun, flat: Flat, runs: RunRegistry,
                 resolution: Resolution | None = None) -> dict[str, Any]:
    """The superrun's run document (times int ns, livetime float s of what it holds, after
    vetoes; ``exposure``). A derived superrun's sub-run specs are those of the plain
    definition it resolves to; one using a DQ version adds the version and its file's hash
    to the spec hash (editing the file rebuilds exactly what uses it)."""
    segs = flat.segments
    leaf = [runs[r] for r in dict.fromkeys(s.run_id for s in segs)]
    flat_spec = flat_sub_run_spec(flat, runs)
    plain = d if resolution is None else resolution.plain
    dq = resolution.dq if resolution is not None else None
    hashed = (flat_spec, d.selection) if dq is None else (
        flat_spec, d.selection, {"dq": [dq.version, dq.hash]})
    extra: dict[str, Any] = {}
    if dq is not None:
        extra["dq"] = {"version": dq.version, "require": d.query["dq"]["require"], "hash": dq.hash}
    if d.query is not None:
        extra["query"] = dict(d.query)
    return {
        "name": d.name,
        "start": segs[0].start,
        "end": max(s.end for s in segs),
        "livetime": sum(s.end - s.start for s in segs) / 1e9,
        "mode": _sorted_values(leaf, "mode"),
        "source": _sorted_values(leaf, "source"),
        "tags": _sorted_values(leaf, "tags"),
        "description": d.description,
        "selection": d.selection,
        "n_leaf_runs": len(leaf),
        "sub_run_spec": sub_run_spec(plain, flat),
        "sub_run_spec_flat": flat_spec,
        "sub_run_spec_hash": deterministic_hash(hashed),
        "exposure": exposure(flat, resolution),
    } | extra
