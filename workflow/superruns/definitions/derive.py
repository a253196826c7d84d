"""Resolving a *derived* superrun (``query``, a set operation, ``veto`` or ``sample``) to the
plain definition it stands for: its leaf runs, whole in ``runs:`` or cut in ``ranges:``.

Steps: the base (a query's runs, the set operation over its operands' spans, or the plain
``runs``/``ranges``/``events`` part flattened), then ``sample``, then the vetoes (``veto``
and the defect ranges of the required DQ subsystems). The plain definition is then flattened
like any other, so the sub-run spec, the build and the strax frontend treat it as one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..base.names import is_superrun_id
from ..base.times import format_ns
from ..model.runs import RunRegistry
from .dq import DataQuality
from .errors import definition_error as _error
from .events import events_to_windows, read_events
from .query import emptied_by, resolve_query
from .records import Segment, Superrun
from .setalgebra import (
    RunSpans,
    as_array,
    difference,
    intersection,
    sample_runs,
    spans_from_arrays,
    spans_measure,
    union,
    veto_spans,
)

__all__ = ["Resolution", "resolve", "spans_of_segments"]


@dataclass(frozen=True)
class Resolution:
    """A derived superrun resolved: the plain equivalent and what the vetoes removed."""

    plain: Superrun
    base: RunSpans                      # after query/set operation/sample, before vetoes
    spans: RunSpans                     # what it holds
    vetoed: Mapping[str, int] = field(default_factory=dict)   # ns per run of the base
    dq: DataQuality | None = None
    runs_resolved: tuple[str, ...] | None = None   # of a query or sample (what the lock holds)
    dq_cut: Mapping[str, int] = field(default_factory=dict)   # ns of vetoed that DQ defects cut


@dataclass(frozen=True)
class Context:
    """What resolving needs from the catalog."""

    runs: RunRegistry
    spans_of: Callable[[str], RunSpans]              # an operand (run or superrun)
    plain_spans: Callable[[Superrun], RunSpans]      # the runs/ranges/events part of d
    dq_of: Callable[[Superrun], DataQuality | None]
    locked: Callable[[Superrun, list[str]], list[str]]
    base_dir: Path


def spans_of_segments(segments) -> RunSpans:
    """Segments grouped per run, touching ones merged (int64 arrays; no object per span)."""
    segments = list(segments)
    n = len(segments)
    names = list(dict.fromkeys(seg.run_id for seg in segments))
    code = {r: i for i, r in enumerate(names)}
    codes = np.fromiter((code[seg.run_id] for seg in segments), np.int64, n)
    starts = np.fromiter((seg.start for seg in segments), np.int64, n)
    ends = np.fromiter((seg.end for seg in segments), np.int64, n)
    return spans_from_arrays(names, codes, starts, ends)


def resolve(d: Superrun, ctx: Context) -> Resolution:
    base, resolved = _base(d, ctx)
    if d.sample is not None:
        base = sample_runs(base, d.sample["fraction"], d.sample["seed"])
        if not base:
            raise _error(d.source_file, d.name, "sample", f"sampling a fraction "
                         f"{d.sample['fraction']} (seed {d.sample['seed']}) of its runs kept none",
                         "raise the fraction or change the seed")
    if d.sample is not None:   # the lock holds the sampled runs
        resolved = ctx.locked(d, sorted(base, key=lambda r: ctx.runs[r].start))
        base = {r: base[r] for r in resolved if r in base}
    dq = ctx.dq_of(d)
    veto, defects = _veto(d, ctx, base, dq)
    spans = veto_spans(base, veto) if veto else base
    if not spans:
        raise _error(d.source_file, d.name, "veto", "the vetoes (veto: and DQ defects) remove "
                     "everything it held", "check the veto ranges and the DQ defects")
    vetoed = {r: spans_measure({r: s}) - spans_measure({r: spans.get(r, [])}) for r, s in base.items()}
    cut = intersection([base, defects]) if defects else {}
    dq_cut = {r: spans_measure({r: s}) for r, s in cut.items()}
    return Resolution(_plain(d, spans, ctx.runs), base, spans, vetoed, dq,
                      None if resolved is None else tuple(resolved), dq_cut)


def _base(d: Superrun, ctx: Context) -> tuple[RunSpans, list[str] | None]:
    runs = ctx.runs
    if d.query is not None:
        ids, counts = resolve_query(d.query, runs, ctx.dq_of(d))
        if not ids:
            raise _error(d.source_file, d.name, "query", f"the query selects no run: "
                         f"{emptied_by(counts)}", "loosen that filter or add runs to "
                         f"the registry {runs.source}")
        if d.sample is not None:   # the lock holds the sampled runs
            return {r: [[runs[r].start, runs[r].end]] for r in ids}, None
        ids = ctx.locked(d, ids)
        return {r: [[runs[r].start, runs[r].end]] for r in ids}, ids
    if d.set_operation is not None:
        sets = [ctx.spans_of(op) for op in d.operands]
        if d.set_operation == "union":
            base = union(sets)
        elif d.set_operation == "intersection":
            base = intersection(sets)
        else:
            base = difference(sets[0], sets[1:])
        if not base:
            raise _error(d.source_file, d.name, d.set_operation, f"the {d.set_operation} of "
                         f"{', '.join(d.operands)} holds no time", "check the operands: "
                         "they share no time (intersection) or the others cover the first (difference)")
        return base, None
    return ctx.plain_spans(d), None


def _veto(d: Superrun, ctx: Context, base: RunSpans, dq: DataQuality | None) -> tuple[RunSpans, RunSpans]:
    """The vetoed spans per run (``veto:`` and the required subsystems' DQ defects), and the
    DQ defects alone."""
    pieces: list[RunSpans] = []
    defects: RunSpans = {}
    if isinstance(d.veto, Mapping):
        _check_veto_inside(d, d.veto, ctx.runs)
        pieces.append({r: [list(s) for s in v] for r, v in d.veto.items()})
    elif d.veto is not None:
        pieces.append(_veto_file(d, ctx))
    if dq is not None:
        require = d.query["dq"]["require"]
        for r in base:
            spans = dq.defect_spans(require, r, ctx.runs[r].start, ctx.runs[r].end)
            if spans:
                defects[r] = spans
        pieces.append(defects)
    return (union(pieces) if pieces else {}), defects


def _check_veto_inside(d: Superrun, veto: Mapping, runs: RunRegistry) -> None:
    for run_id, spans in veto.items():
        if run_id not in runs:
            raise _error(d.source_file, d.name, f"veto[{run_id!r}]", f"run {run_id!r} is not in "
                         f"the run registry {runs.source}", "fix the run id")
        run = runs[run_id]
        for s, e in spans:
            if s < run.start or e > run.end:
                raise _error(d.source_file, d.name, f"veto[{run_id!r}]", f"veto [{s}, {e}) = "
                             f"[{format_ns(s)}, {format_ns(e)}) is not inside run {run_id!r} "
                             f"[{format_ns(run.start)}, {format_ns(run.end)})",
                             "keep each veto inside its run (or fix the run id)")


def _veto_file(d: Superrun, ctx: Context) -> RunSpans:
    path = ctx.base_dir / d.veto
    try:
        rows = read_events(path)
        if len(rows) == 0:
            raise ValueError("it holds no rows, so it vetoes nothing (a file emptied by mistake, or "
                             "written before its vetoes were)")
        windows = events_to_windows(rows, ctx.runs, where=str(path))
    except (ValueError, OSError) as exc:
        raise _error(d.source_file, d.name, "veto", f"veto file {path}: {exc}",
                     "fix the file: columns time, endtime (int ns) and run_id (quoted strings), "
                     "each veto inside its run; with nothing to veto, drop the veto: key") from None
    return {r: [list(s) for s in w] for r, w in windows.items()}


def _plain(d: Superrun, spans: RunSpans, runs: RunRegistry) -> Superrun:
    whole, ranges = [], {}
    arrays = {run_id: as_array(s) for run_id, s in spans.items()}
    for run_id in sorted(arrays, key=lambda r: (int(arrays[r][0, 0]), r)):   # time order
        run, s = runs[run_id], arrays[run_id]
        if len(s) == 1 and s[0, 0] == run.start and s[0, 1] == run.end:
            whole.append(run_id)
        else:
            ranges[run_id] = tuple(map(tuple, s.tolist()))
    return Superrun(name=d.name, description=d.description, runs=tuple(whole), ranges=ranges,
                    selection=d.selection, source_file=d.source_file)


def spans_of_run(run_id: str, runs: RunRegistry) -> RunSpans:
    run = runs[run_id]
    return {run_id: [[run.start, run.end]]}


def operand_spans(name: str, runs: RunRegistry, segments_of: Callable[[str], tuple[Segment, ...]]
                  ) -> RunSpans:
    """The spans an operand holds: a whole run, or a superrun's segments."""
    if is_superrun_id(name):
        return spans_of_segments(segments_of(name))
    return spans_of_run(name, runs)
