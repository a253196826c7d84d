"""Set algebra of superruns: the keys ``union``, ``intersection``, ``difference``, ``veto`` and
``sample`` parsed, and the operations on *run spans* (``{leaf run: merged [start, end) spans}``).

A superrun holds a set of half-open intervals per leaf run. ``union`` merges its operands'
sets, ``intersection`` keeps the time every operand holds, ``difference`` takes the first
minus each of the others; ``veto`` removes time ranges; ``sample`` keeps a deterministic
fraction of the leaf runs (per run id and seed, so a run sampled in stays in as runs are
added, as IceCube's and LHCb's burn samples do). All operations are linear in the number of
spans (``superruns.intervals``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import brief
from ..intervals import intersect_spans, measure, merge_spans, subtract_spans
from ..names import subrun_problem
from ..times import INT64_MAX
from .errors import definition_error as _error
from .query import parse_query
from .records import EVENTS_SUFFIXES, SET_OPERATIONS

__all__ = ["RunSpans", "difference", "intersection", "parse_dataset_keys", "sample_runs",
           "spans_measure", "union", "veto_spans"]

#: ``{leaf run id: [[start, end], ...]}``: sorted, merged, never empty lists.
RunSpans = dict[str, list[list[int]]]


# --------------------------------------------------------------------------------------
# parsing (needs neither runs nor other superruns)


def parse_dataset_keys(name: str, body: Mapping, file, *, plain: bool) -> dict[str, Any]:
    """``query``, ``union``/``intersection``/``difference``, ``veto`` and ``sample`` of one
    definition, as :class:`~.records.Superrun` fields (``base``: a query or set operation
    gives what it holds). ``plain``: it has runs, ranges or events too."""
    ops = [k for k in SET_OPERATIONS if k in body]
    out: dict[str, Any] = {}
    bases = (["runs/ranges/events"] if plain else []) + (["query"] if "query" in body else []) + ops
    if len(bases) > 1:
        raise _error(file, name, bases[1], f"{bases[0]} and {bases[1]} in one definition",
                     "give one of runs/ranges/events, query or a set operation per superrun; "
                     "combine them through named superruns (union: [_a, _b])")
    out["base"] = bool(bases)
    if "query" in body:
        out["query"] = parse_query(name, body["query"], file)
    if ops:
        out["set_operation"] = ops[0]
        out["operands"] = _parse_operands(name, ops[0], body[ops[0]], file)
    if body.get("veto") is not None:
        out["veto"] = _parse_veto(name, body["veto"], file)
    if body.get("sample") is not None:
        out["sample"] = _parse_sample(name, body["sample"], file)
    return out


def _parse_operands(name: str, op: str, value: Any, file) -> tuple[str, ...]:
    least = 2 if op != "union" else 1
    if not isinstance(value, (list, tuple)) or len(value) < least:
        raise _error(file, name, op, f"{brief(value)} is not a list of at least {least} runs or "
                     "superruns", f'give e.g. {op}: [_first, _second]')
    seen: set[str] = set()
    for i, sub in enumerate(value):
        problem = subrun_problem(sub) if isinstance(sub, str) else "not a string"
        if problem:
            raise _error(file, name, f"{op}[{i}]", problem, 'fix the name (quote run ids, e.g. "000001")')
        if sub == name:
            raise _error(file, name, f"{op}[{i}]", "the superrun contains itself",
                         f"remove it from its own {op}:")
        if sub in seen:
            raise _error(file, name, f"{op}[{i}]", f"{sub!r} is listed twice", "list each once")
        seen.add(sub)
    return tuple(value)


def _parse_veto(name: str, value: Any, file) -> Mapping | Path:
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if path.suffix.lower() not in EVENTS_SUFFIXES:
            raise _error(file, name, "veto", f"{str(path)!r} is neither .npy nor .csv",
                         "give a .csv (header time,endtime,run_id) or .npy record array, or a "
                         "mapping {run_id: [[start_ns, end_ns], ...]}")
        return path
    if not isinstance(value, Mapping) or not value:
        raise _error(file, name, "veto", f"{brief(value)} is neither a file nor a mapping",
                     "give {run_id: [[start_ns, end_ns], ...]} or the path of a .csv/.npy file")
    out = {}
    for run_id, ranges in value.items():
        problem = subrun_problem(run_id) if isinstance(run_id, str) else "not a string"
        if problem or run_id.startswith("_"):
            raise _error(file, name, f"veto key {run_id!r}", problem or "vetoes apply to regular "
                         "runs, not superruns", 'give a regular run id, quoted ("000003")')
        out[run_id] = tuple(tuple(s) for s in merge_spans(_veto_ranges(name, run_id, ranges, file)))
    return out


def _veto_ranges(name: str, run_id: str, value: Any, file) -> list[tuple[int, int]]:
    """``[s, e]`` or ``[[s, e], ...]`` of int ns with ``0 <= s < e``."""
    def is_int(x):
        return isinstance(x, int) and not isinstance(x, bool)

    if isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_int, value)):
        value = [value]
    entry = f"veto[{run_id!r}]"
    if not isinstance(value, (list, tuple)) or not value:
        raise _error(file, name, entry, f"{brief(value)} is not a list of [start, end] ranges",
                     "give [[start_ns, end_ns], ...] (int ns since the epoch)")
    for i, pair in enumerate(value):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(map(is_int, pair))
                and 0 <= pair[0] < pair[1] <= INT64_MAX):
            raise _error(file, name, f"{entry}[{i}]", f"{brief(pair)} is not a [start, end] pair "
                         "of int ns with start < end", "give two int ns since the epoch")
    return [(int(s), int(e)) for s, e in value]


def _parse_sample(name: str, value: Any, file) -> Mapping:
    if not isinstance(value, Mapping) or set(value) - {"fraction", "seed"} or "fraction" not in value:
        raise _error(file, name, "sample", f"{brief(value)} is not {{fraction, seed}}",
                     "give sample: {fraction: 0.1, seed: 1} (seed optional, default 0)")
    fraction, seed = value["fraction"], value.get("seed", 0)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise _error(file, name, "sample.fraction", f"{brief(fraction)} is outside (0, 1]",
                     "give a fraction of runs above 0 and at most 1, e.g. 0.1")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _error(file, name, "sample.seed", f"{brief(seed)} is not an int", "give an int, e.g. 1")
    return {"fraction": float(fraction), "seed": int(seed)}


# --------------------------------------------------------------------------------------
# operations on run spans


def union(sets: Iterable[RunSpans]) -> RunSpans:
    """Every run's spans of every set, merged."""
    pieces: dict[str, list] = {}
    for spans in sets:
        for run_id, runs in spans.items():
            pieces.setdefault(run_id, []).extend(runs)
    return {run_id: merge_spans(p) if len(p) > 1 else [list(x) for x in p]
            for run_id, p in pieces.items()}


def intersection(sets: list[RunSpans]) -> RunSpans:
    """The time every set holds."""
    out = dict(sets[0])
    for other in sets[1:]:
        out = {run_id: spans for run_id in out if run_id in other
               for spans in [intersect_spans(out[run_id], other[run_id])] if spans}
    return out


def difference(first: RunSpans, others: Iterable[RunSpans]) -> RunSpans:
    """``first`` minus the time any of ``others`` holds."""
    out = dict(first)
    for other in others:
        out = {run_id: spans for run_id, spans in out.items()
               for spans in [subtract_spans(spans, other[run_id]) if run_id in other else spans]
               if spans}
    return out


def veto_spans(spans: RunSpans, veto: Mapping[str, Iterable]) -> RunSpans:
    """``spans`` minus the vetoed ranges (merged span lists per run)."""
    return difference(spans, [{r: [list(x) for x in v] for r, v in veto.items()}])


def sample_key(run_id: str, seed: int) -> float:
    """A run's place in [0, 1) for seed ``seed``: the same on every machine and in every run list."""
    digest = hashlib.sha256(f"{seed}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def sample_runs(spans: RunSpans, fraction: float, seed: int) -> RunSpans:
    """The runs whose :func:`sample_key` is below ``fraction`` (whole, with their spans)."""
    return {run_id: s for run_id, s in spans.items() if sample_key(run_id, seed) < fraction}


def spans_measure(spans: RunSpans) -> int:
    """Total ns held."""
    return sum(measure(s) for s in spans.values())
