"""The graph of superruns and its flattening to leaf segments.

Superruns name runs and other superruns; this module checks that every name exists and no
superrun holds itself through others, orders them inner first, and flattens one superrun to
its leaf segments: ``[start, end)`` pieces of regular runs in time order, each tagged with
the direct subrun whose file holds it. Segments of one superrun must not overlap.

The flattened form, :class:`Flat`, is the one truth of what a superrun holds: the build, the
sub-run specs, the exposure, ``superruns show``, the strax frontend and selections all read
it (through :class:`~superruns.definitions.Definitions`), never the definition as written.
It also says, per segment, the two facts the build needs (decided here, once):

* **whole**: the segment is its leaf run's whole registry span ``[run.start, run.end)``,
  whatever kind of definition led to it (a run in ``runs:``, a query, a union, a range or
  an event window that happens to cover the run). A whole segment keeps every row of the
  run's file, also rows reaching past the registry's start or end.
* **as_stored**: the direct subrun's file already holds exactly this segment's rows, so the
  build takes them as stored, without the selection rule: a whole segment, or a segment of
  a superrun named in ``runs:`` (taken unchanged; ranges of a superrun cut it anew).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..base.names import is_superrun_id
from ..base.times import format_ns
from ..model.runs import RunRegistry
from .errors import definition_error as _error
from .records import MAX_NESTING_DEPTH, Segment, Superrun, entry_of

__all__ = ["Flat", "check_references", "flatten", "inner_superruns", "topological_order"]

Windows = dict[str, np.ndarray]   # event windows per run: (n, 2) int64 arrays, time order


@dataclass(frozen=True, eq=False)
class Flat:
    """One superrun flattened: its leaf segments in time order, as arrays (segment ``i`` is
    ``[starts[i], ends[i])`` of run ``run_ids[run_index[i]]``, held by the file of direct
    subrun ``subruns[sub_index[i]]``). The segments as objects are made on first use only,
    so a superrun of a million event windows costs arrays, not a million objects."""

    subruns: tuple[str, ...]
    sub_index: np.ndarray
    run_ids: tuple[str, ...]
    run_index: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    direct: tuple[str, ...]                   # direct subruns, time order
    cuts: bool                                # some segment is not a whole run
    windows: Mapping[str, np.ndarray]         # event windows per run, (n, 2) (events only)
    whole: np.ndarray                         # per segment: its leaf run's whole registry span
    as_stored: np.ndarray                     # per segment: its subrun's file holds exactly it

    @cached_property
    def sourced(self) -> tuple[tuple[str, Segment], ...]:
        """``(direct subrun, leaf segment)`` in time order."""
        subs, runs = self.subruns, self.run_ids
        return tuple((subs[k], Segment(runs[r], s, e)) for k, r, s, e in zip(
            self.sub_index.tolist(), self.run_index.tolist(), self.starts.tolist(), self.ends.tolist()))

    @cached_property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(seg for _, seg in self.sourced)

    def __len__(self) -> int:
        return len(self.starts)


# --------------------------------------------------------------------------------------
# references and cycles


def check_references(defs: Mapping[str, Superrun], runs: RunRegistry, files_text: str) -> None:
    """Every named subrun exists, and ranges of a regular run lie inside it."""
    for name, d in defs.items():
        for sub in d.named_subruns():
            if is_superrun_id(sub):
                if sub not in defs:
                    raise _error(d.source_file, name, entry_of(d, sub), f"no superrun {sub!r} is "
                                 f"defined (in {files_text})", "define it in "
                                 "superruns.yaml or superruns.d/, or fix the name")
                continue
            if sub not in runs:
                raise _error(d.source_file, name, entry_of(d, sub), f"run {sub!r} is not in the "
                             f"run registry {runs.source}", f"add it to {runs.source} "
                             f"or fix the id")
            if sub in d.ranges:
                _check_ranges_inside_run(d, sub, runs)


def _check_ranges_inside_run(d: Superrun, sub: str, runs: RunRegistry) -> None:
    run = runs[sub]
    for i, (s, e) in enumerate(d.ranges[sub]):
        if s < run.start or e > run.end:
            raise _error(d.source_file, d.name, f"{entry_of(d, sub)}[{i}]",
                         f"range [{s}, {e}) = [{format_ns(s)}, {format_ns(e)}) is "
                         f"not inside run {sub!r} [{run.start}, {run.end}) = "
                         f"[{format_ns(run.start)}, {format_ns(run.end)})",
                         "keep ranges inside the run's [start, end)")


def inner_superruns(d: Superrun) -> list[str]:
    """The superruns ``d`` names itself."""
    return [s for s in d.named_subruns() if is_superrun_id(s)]


def topological_order(defs: Mapping[str, Superrun]) -> list[str]:
    """Superruns with every inner superrun before the ones holding it; refuses cycles."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    order: list[str] = []
    for root in defs:
        if root in state:
            continue
        stack = [(root, iter(inner_superruns(defs[root])))]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            for child in children:
                st = state.get(child)
                if st == 1:
                    _raise_cycle(defs, [n for n, _ in stack], child)
                if st is None:
                    state[child] = 1
                    stack.append((child, iter(inner_superruns(defs[child]))))
                    break
            else:
                state[node] = 2
                order.append(node)
                stack.pop()
    return order


def check_depth(defs: Mapping[str, Superrun], order: list[str]) -> None:
    """No superrun nests deeper than :data:`MAX_NESTING_DEPTH` (``order``: inner ones first)."""
    depth: dict[str, int] = {}
    for name in order:
        depth[name] = 1 + max((depth[s] for s in inner_superruns(defs[name])), default=0)
        if depth[name] > MAX_NESTING_DEPTH:
            d = defs[name]
            raise _error(d.source_file, name, None, f"superruns nest {depth[name]} levels deep "
                         f"here; the limit is {MAX_NESTING_DEPTH} (Snakemake plans each level "
                         f"recursively)", "hold the leaf runs or fewer levels of superruns")


def _raise_cycle(defs: Mapping[str, Superrun], path: list[str], child: str) -> None:
    cycle = path[path.index(child):] + [child]
    files = ", ".join(sorted({str(defs[n].source_file) for n in cycle[:-1]}))
    raise _error(defs[cycle[0]].source_file, cycle[0], None,
                 f"superruns contain each other: {' -> '.join(cycle)} (defined in {files})",
                 "remove one of these references to break the cycle")


# --------------------------------------------------------------------------------------
# flattening


def flatten(d: Superrun, defs: Mapping[str, Superrun], runs: RunRegistry,
            flat_of: Callable[[str], Flat], event_windows: Callable[[Superrun], Windows]) -> Flat:
    """``d`` as leaf segments; ``flat_of`` flattens an inner superrun, ``event_windows``
    reads ``d``'s events file (called only when ``d`` has one)."""
    parts = _Parts()
    for sub in d.runs:
        if is_superrun_id(sub):    # all its segments, unchanged: its file holds exactly them
            parts.add_flat(sub, _inner_segments(d, sub, None, defs[sub], flat_of(sub)), as_stored=True)
        else:
            run = runs[sub]
            parts.add(sub, sub, [run.start], [run.end])
    for sub, ranges in d.ranges.items():
        if is_superrun_id(sub):    # cut anew by the ranges: the selection rule applies
            parts.add_flat(sub, _inner_segments(d, sub, ranges, defs[sub], flat_of(sub)), as_stored=False)
        else:
            pairs = np.array(ranges, dtype=np.int64).reshape(-1, 2)
            parts.add(sub, sub, pairs[:, 0], pairs[:, 1])
    windows: Windows = {}
    if d.events is not None:
        windows = event_windows(d)
        _check_event_runs(d, windows)
        for run_id, wins in windows.items():
            pairs = np.asarray(wins, dtype=np.int64).reshape(-1, 2)
            parts.add(run_id, run_id, pairs[:, 0], pairs[:, 1])
    flat = parts.flat(windows)
    _check_no_overlap(d, flat)
    whole = whole_segments(flat, runs)
    return Flat(flat.subruns, flat.sub_index, flat.run_ids, flat.run_index, flat.starts, flat.ends,
                flat.direct, not bool(whole.all()), windows, whole, whole | flat.as_stored)


def whole_segments(flat: Flat, runs: RunRegistry) -> np.ndarray:
    """Per segment, whether it is its leaf run's whole registry span: the one definition of a
    run held *whole* (docs/design.md, section 5)."""
    run_start = np.array([runs[r].start for r in flat.run_ids], dtype=np.int64)
    run_end = np.array([runs[r].end for r in flat.run_ids], dtype=np.int64)
    return (flat.starts == run_start[flat.run_index]) & (flat.ends == run_end[flat.run_index])


class _Parts:
    """The segments of a superrun as they are gathered, subrun by subrun (arrays)."""

    def __init__(self):
        self.subruns: dict[str, int] = {}
        self.run_ids: dict[str, int] = {}
        self.columns: list[tuple[np.ndarray, ...]] = []

    def add(self, sub: str, run_id: str, starts, ends) -> None:
        """Segments of a leaf run, read from its own file."""
        starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
        k = self.subruns.setdefault(sub, len(self.subruns))
        r = self.run_ids.setdefault(run_id, len(self.run_ids))
        self.columns.append((np.full(len(starts), k), np.full(len(starts), r), starts, ends,
                             np.zeros(len(starts), dtype=np.int64)))

    def add_flat(self, sub: str, inner: Flat, *, as_stored: bool) -> None:
        """Segments of an inner superrun (all held by ``sub``'s file); ``as_stored``: taken
        unchanged, so that file holds exactly their rows."""
        k = self.subruns.setdefault(sub, len(self.subruns))
        runs = np.array([self.run_ids.setdefault(r, len(self.run_ids)) for r in inner.run_ids] or [0])
        self.columns.append((np.full(len(inner), k), runs[inner.run_index], inner.starts, inner.ends,
                             np.full(len(inner), int(as_stored), dtype=np.int64)))

    def flat(self, windows: Windows) -> Flat:
        sub_index, run_index, starts, ends, stored = (
            np.concatenate([c[i] for c in self.columns]).astype(np.int64) for i in range(5))
        order = np.lexsort((ends, starts))      # by start, then end; stable
        sub_index, run_index, starts, ends = sub_index[order], run_index[order], starts[order], ends[order]
        as_stored = stored[order].astype(bool)
        subruns = tuple(self.subruns)
        held, first = np.unique(sub_index, return_index=True)   # time order: first = earliest
        first_start = {subruns[k]: int(starts[f]) for k, f in zip(held.tolist(), first.tolist())}
        direct = tuple(sorted(first_start, key=lambda s: (first_start[s], s)))
        return Flat(subruns, sub_index, tuple(self.run_ids), run_index, starts, ends, direct, False, windows,
                    np.zeros(len(starts), dtype=bool), as_stored)


def _check_event_runs(d: Superrun, windows: Windows) -> None:
    for run_id in windows:
        if run_id in d.runs or run_id in d.ranges:
            raise _error(d.source_file, d.name, "events", f"events of run {run_id!r}, which is "
                         f"also in {'runs:' if run_id in d.runs else 'ranges:'}",
                         "hold each run in one place")


def _check_no_overlap(d: Superrun, flat: Flat) -> None:
    """Time-ordered segments hold each stretch of time once."""
    if len(flat) < 2:
        return
    reach = np.maximum.accumulate(flat.ends)
    bad = np.flatnonzero(flat.starts[1:] < reach[:-1])
    if not len(bad):
        return
    i = int(bad[0]) + 1
    p = int(np.argmax(flat.ends[:i] == reach[i - 1]))   # the first segment reaching that far
    (prev_sub, prev_seg), (sub, seg) = (_sourced_at(flat, p), _sourced_at(flat, i))
    a = f"run {prev_seg.run_id!r} [{prev_seg.start}, {prev_seg.end})" + (
        f" via {prev_sub!r}" if prev_sub != prev_seg.run_id else "")
    b = f"run {seg.run_id!r} [{seg.start}, {seg.end})" + (
        f" via {sub!r}" if sub != seg.run_id else "")
    what = ("holds the same data twice" if seg.run_id == prev_seg.run_id
            else "holds overlapping runs")
    raise _error(d.source_file, d.name, f"subruns {prev_sub!r} and {sub!r}",
                 f"{what}: {a} overlaps {b}",
                 "hold each stretch of time once (remove one subrun or cut it with ranges:)")


def _sourced_at(flat: Flat, i: int) -> tuple[str, Segment]:
    return flat.subruns[int(flat.sub_index[i])], Segment(
        flat.run_ids[int(flat.run_index[i])], int(flat.starts[i]), int(flat.ends[i]))


def _inner_segments(d: Superrun, sub: str, ranges, inner_def: Superrun, inner: Flat) -> Flat:
    """The segments ``d`` takes from inner superrun ``sub``: all, or those cut by ``ranges``."""
    entry = entry_of(d, sub)
    if inner_def.selection != d.selection and (inner.cuts or ranges is not None):
        raise _error(d.source_file, d.name, entry,
                     f"selection {d.selection!r} differs from {sub!r}'s {inner_def.selection!r}, "
                     f"and time ranges cut runs, so the rows kept at the cuts would depend on "
                     f"whether it is built from {sub!r} or from the leaf runs",
                     "give both the same selection:")
    if ranges is None:
        return inner
    cut = _cut_segments(d, sub, entry, inner.segments, ranges)
    run_ids = tuple(dict.fromkeys(seg.run_id for seg in cut))
    index = {r: i for i, r in enumerate(run_ids)}
    none = np.zeros(len(cut), dtype=bool)       # decided by the holder's flatten
    return Flat((sub,), np.zeros(len(cut), np.int64), run_ids,
                np.array([index[seg.run_id] for seg in cut], dtype=np.int64),
                np.array([seg.start for seg in cut], dtype=np.int64),
                np.array([seg.end for seg in cut], dtype=np.int64), (sub,), True, {}, none, none)


def _cut_segments(d: Superrun, sub: str, entry: str, segs: tuple[Segment, ...], ranges
                  ) -> list[Segment]:
    """``segs`` intersected with sorted ``ranges``; each range lies in the span and hits data."""
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
