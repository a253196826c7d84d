"""Set algebra of superruns: the keys ``union``, ``intersection``, ``difference``, ``veto`` and
``sample`` parsed, and the operations on *run spans* (``{leaf run: merged [start, end) spans}``).

A superrun holds a set of half-open intervals per leaf run. ``union`` merges its operands'
sets, ``intersection`` keeps the time every operand holds, ``difference`` takes the first
minus each of the others; ``veto`` removes time ranges; ``sample`` keeps a deterministic
fraction of the leaf runs (per run id and seed, so a run sampled in stays in as runs are
added, as IceCube's and LHCb's burn samples do). All operations are linear in the number of
spans (``superruns.base.intervals``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..base.errors import brief
from ..base.intervals import merge_spans
from ..base.names import subrun_problem
from ..base.times import INT64_MAX
from .errors import definition_error as _error
from .query import parse_query
from .records import EVENTS_SUFFIXES, SET_OPERATIONS

__all__ = ["RunSpans", "difference", "intersection", "parse_dataset_keys", "sample_runs",
           "spans_from_arrays", "spans_measure", "union", "veto_spans"]

#: ``{leaf run id: spans}``: sorted, merged, never empty; spans are ``[[start, end], ...]``
#: lists or int64 arrays of shape (n, 2) (what the operations return: no Python object per
#: span, so a million spans cost milliseconds, not seconds of garbage collection).
RunSpans = dict[str, Any]


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
    sets = [x for x in sets if x]
    if len(sets) == 1:
        return {r: np.array(merge_spans(v), np.int64).reshape(-1, 2) for r, v in sets[0].items()}
    return _combine(sets, "union")


def intersection(sets: list[RunSpans]) -> RunSpans:
    """The time every set holds."""
    return _combine(list(sets), "intersection")


def difference(first: RunSpans, others: Iterable[RunSpans]) -> RunSpans:
    """``first`` minus the time any of ``others`` holds."""
    others = [o for o in others if o]
    if not others:
        return dict(first)
    return _combine([first, union(others) if len(others) > 1 else others[0]], "difference")


def as_array(spans) -> np.ndarray:
    """Spans as an int64 array of shape (n, 2)."""
    return np.asarray(spans, dtype=np.int64).reshape(-1, 2)


def _arrays(sets: list[RunSpans], code: dict[str, int]):
    """Boundaries of all sets as arrays: run code, time, +1/-1, +1/-1 of the first set."""
    runs, times, delta, first = [], [], [], []
    for k, spans in enumerate(sets):
        flat = np.concatenate([as_array(v) for v in spans.values()])
        n = len(flat)
        run = np.repeat(np.fromiter((code[r] for r in spans), np.int64, len(spans)),
                        np.fromiter((len(v) for v in spans.values()), np.int64, len(spans)))
        runs += [run, run]
        times += [flat[:, 0], flat[:, 1]]
        ones = np.ones(n, np.int64)
        delta += [ones, -ones]
        first += [ones * (k == 0), -ones * (k == 0)]
    return (np.concatenate(runs), np.concatenate(times), np.concatenate(delta),
            np.concatenate(first))


def _combine(sets: list[RunSpans], mode: str) -> RunSpans:
    """Union, intersection or difference (first minus second) of merged run spans, for all
    runs at once: a sweep over the sorted boundaries with coverage counts (numpy)."""
    names = list(dict.fromkeys(r for spans in sets for r in spans))
    if not names:
        return {}
    run, time, delta, first = _arrays(sets, {r: i for i, r in enumerate(names)})
    order = np.lexsort((time, run))
    run, time = run[order], time[order]
    total, in_first = np.cumsum(delta[order]), np.cumsum(first[order])
    # elementary piece i: [time[i], time[i+1]) of run[i], covered as the counts after event i
    valid = (run[:-1] == run[1:]) & (time[:-1] < time[1:])
    if mode == "union":
        keep = total[:-1] > 0
    elif mode == "intersection":
        keep = total[:-1] == len(sets)
    else:
        keep = (in_first[:-1] == 1) & (total[:-1] == 1)
    idx = np.flatnonzero(valid & keep)
    if not len(idx):
        return {}
    return spans_from_arrays(names, run[idx], time[idx], time[idx + 1])


def spans_from_arrays(names: list[str], codes: np.ndarray, starts: np.ndarray, ends: np.ndarray
                      ) -> RunSpans:
    """Disjoint spans (run code into ``names``, start, end) as run spans: grouped per run in
    time order, touching ones merged."""
    if not len(codes):
        return {}
    order = np.lexsort((starts, codes))
    codes, starts, ends = codes[order], starts[order], ends[order]
    new = np.ones(len(codes), bool)
    new[1:] = (codes[1:] != codes[:-1]) | (starts[1:] != ends[:-1])
    heads = np.flatnonzero(new)
    last = np.append(heads[1:], len(codes)) - 1
    starts, ends, codes = starts[heads], ends[last], codes[heads]
    pairs = np.stack([starts, ends], axis=1)
    bounds = np.flatnonzero(np.diff(codes)) + 1
    cuts = [0, *bounds.tolist(), len(codes)]
    return {names[int(codes[a])]: pairs[a:b] for a, b in zip(cuts[:-1], cuts[1:])}


def veto_spans(spans: RunSpans, veto: Mapping[str, Iterable]) -> RunSpans:
    """``spans`` minus the vetoed ranges (merged span lists per run)."""
    return difference(spans, [dict(veto)])


def sample_key(run_id: str, seed: int) -> float:
    """A run's place in [0, 1) for seed ``seed``: the same on every machine and in every run list."""
    digest = hashlib.sha256(f"{seed}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def sample_runs(spans: RunSpans, fraction: float, seed: int) -> RunSpans:
    """The runs whose :func:`sample_key` is below ``fraction`` (whole, with their spans)."""
    return {run_id: s for run_id, s in spans.items() if sample_key(run_id, seed) < fraction}


def spans_measure(spans: RunSpans) -> int:
    """Total ns held."""
    return sum(int((a[:, 1] - a[:, 0]).sum()) for a in map(as_array, spans.values()))
