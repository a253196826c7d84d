"""The graph of superruns and its flattening to leaf segments.

Superruns name runs and other superruns; this module checks that every name exists and no
superrun holds itself through others, orders them inner first, and flattens one superrun to
its leaf segments: ``[start, end)`` pieces of regular runs in time order, each tagged with
the direct subrun whose file holds it. Segments of one superrun must not overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..names import is_superrun_id
from ..runs import RunRegistry
from ..times import format_ns
from .errors import definition_error as _error
from .records import MAX_NESTING_DEPTH, Segment, Superrun, entry_of

__all__ = ["Flat", "check_references", "flatten", "inner_superruns", "topological_order"]

Windows = dict[str, list[tuple[int, int]]]


@dataclass(frozen=True)
class Flat:
    """One superrun flattened."""

    sourced: tuple[tuple[str, Segment], ...]  # (direct subrun, leaf segment), time order
    segments: tuple[Segment, ...]
    direct: tuple[str, ...]                   # direct subruns, time order
    cuts: bool                                # some segment is not a whole run
    windows: Mapping[str, list[tuple[int, int]]]  # event windows per run (events only)


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
    parts: list[tuple[str, list[Segment]]] = []
    for sub in d.runs:
        if is_superrun_id(sub):
            parts.append((sub, _inner_segments(d, sub, None, defs[sub], flat_of(sub))))
        else:
            run = runs[sub]
            parts.append((sub, [Segment(sub, run.start, run.end)]))
    for sub, ranges in d.ranges.items():
        if is_superrun_id(sub):
            parts.append((sub, _inner_segments(d, sub, ranges, defs[sub], flat_of(sub))))
        else:
            parts.append((sub, [Segment(sub, s, e) for s, e in ranges]))
    windows: Windows = {}
    if d.events is not None:
        windows = event_windows(d)
        parts.extend(_event_parts(d, windows))
    sourced = [(sub, seg) for sub, segs in parts for seg in segs]
    sourced.sort(key=lambda item: (item[1].start, item[1].end))
    _check_no_overlap(d, sourced)
    first_start: dict[str, int] = {}
    for sub, seg in sourced:
        first_start.setdefault(sub, seg.start)
    direct = tuple(sorted(first_start, key=lambda s: (first_start[s], s)))
    segments = tuple(seg for _, seg in sourced)
    cuts = any(seg.start != runs[seg.run_id].start or seg.end != runs[seg.run_id].end
               for seg in segments)
    return Flat(tuple(sourced), segments, direct, cuts, windows)


def _event_parts(d: Superrun, windows: Windows) -> list[tuple[str, list[Segment]]]:
    parts = []
    for run_id, wins in windows.items():
        if run_id in d.runs or run_id in d.ranges:
            raise _error(d.source_file, d.name, "events", f"events of run {run_id!r}, which is "
                         f"also in {'runs:' if run_id in d.runs else 'ranges:'}",
                         "hold each run in one place")
        parts.append((run_id, [Segment(run_id, s, e) for s, e in wins]))
    return parts


def _check_no_overlap(d: Superrun, sourced: list[tuple[str, Segment]]) -> None:
    """Time-ordered segments hold each stretch of time once."""
    prev_sub, prev_seg = None, None
    for sub, seg in sourced:
        if prev_seg is not None and seg.start < prev_seg.end:
            a = f"run {prev_seg.run_id!r} [{prev_seg.start}, {prev_seg.end})" + (
                f" via {prev_sub!r}" if prev_sub != prev_seg.run_id else "")
            b = f"run {seg.run_id!r} [{seg.start}, {seg.end})" + (
                f" via {sub!r}" if sub != seg.run_id else "")
            what = ("holds the same data twice" if seg.run_id == prev_seg.run_id
                    else "holds overlapping runs")
            raise _error(d.source_file, d.name, f"subruns {prev_sub!r} and {sub!r}",
                         f"{what}: {a} overlaps {b}",
                         "hold each stretch of time once (remove one subrun or cut it with ranges:)")
        if prev_seg is None or seg.end > prev_seg.end:
            prev_sub, prev_seg = sub, seg


def _inner_segments(d: Superrun, sub: str, ranges, inner_def: Superrun, inner: Flat
                    ) -> list[Segment]:
    """The segments ``d`` takes from inner superrun ``sub``: all, or those cut by ``ranges``."""
    entry = entry_of(d, sub)
    if inner_def.selection != d.selection and (inner.cuts or ranges is not None):
        raise _error(d.source_file, d.name, entry,
                     f"selection {d.selection!r} differs from {sub!r}'s {inner_def.selection!r}, "
                     f"and time ranges cut runs, so the rows kept at the cuts would depend on "
                     f"whether it is built from {sub!r} or from the leaf runs",
                     "give both the same selection:")
    if ranges is None:
        return list(inner.segments)
    return _cut_segments(d, sub, entry, inner.segments, ranges)


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
