"""An independent oracle of what a superrun holds, written from the documented semantics
(docs/design.md sections 5, 5a and 7, docs/datasets.md, "Selection rules" in
docs/architecture.md) in plain numpy and yaml.

It never imports ``superruns``: the point is a second, separate reading of the documents to
compare the built files with. Given the definitions, the run registry and readers of the
side files (events and veto tables, DQ versions) it says, per superrun:

* the held *segments* per leaf run (plain definitions keep their segments as written; derived
  ones, a query, a set operation, a veto or a sample, hold merged spans),
* the rows kept from each leaf run's own file, and
* the livetime and exposure.

A definition the documents refuse (it holds nothing, overlaps itself, ...) raises
:class:`Refused` naming the superrun.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

SET_OPERATIONS = ("union", "intersection", "difference")
DERIVED_KEYS = ("query", "veto", "sample", *SET_OPERATIONS)
Spans = list[tuple[int, int]]


class Refused(Exception):
    """The documents say this definition is an error (named in the message)."""


# -- intervals: half-open [start, end) pairs of int ns ------------------------------------------


def merge(spans) -> Spans:
    """Sorted, with overlapping and touching spans joined (what a derived superrun holds)."""
    out: Spans = []
    for s, e in sorted((int(s), int(e)) for s, e in spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def intersect(a: Spans, b: Spans) -> Spans:
    return merge((max(s, t), min(e, u)) for s, e in a for t, u in b if max(s, t) < min(e, u))


def subtract(a: Spans, b: Spans) -> Spans:
    """``a`` minus ``b``, one cut at a time (quadratic, fine for a test's sizes)."""
    pieces = merge(a)
    for t, u in merge(b):
        pieces = [p for s, e in pieces for p in ((s, min(e, t)), (max(s, u), e)) if p[0] < p[1]]
    return merge(pieces)


def measure(spans) -> int:
    return sum(e - s for s, e in spans)


# -- side files -------------------------------------------------------------------------------


def read_table(path: Path) -> np.ndarray:
    """An events or veto table as written (a .npy record array, or a .csv with a header)."""
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    columns = list(rows[0]) if rows else ["time", "endtime"]
    dtype = [(c, "U32" if c == "run_id" else np.int64) for c in columns]
    return np.array([tuple(r[c] for c in columns) for r in rows], dtype=dtype)


def disk_readers(root: Path, dq_dir: str = "config/dq"):
    """Readers of a workflow directory's tables (paths relative to it) and DQ versions."""
    return (lambda path: read_table(root / path),
            lambda version: yaml.safe_load((root / dq_dir / f"{version}.yaml").read_text()))


def row_end(rows: np.ndarray) -> np.ndarray:
    """Exclusive end of each row: ``endtime``, or ``time + length * dt``."""
    if "endtime" in rows.dtype.names:
        return rows["endtime"].astype(np.int64)
    return rows["time"].astype(np.int64) + rows["length"].astype(np.int64) * rows["dt"].astype(np.int64)


def sample_key(run_id: str, seed: int) -> float:
    """docs/datasets.md: sha256 of ``f"{seed}:{run_id}"`` read as a fraction of 2**64 (its
    first 8 bytes, big-endian)."""
    digest = hashlib.sha256(f"{seed}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# -- what a superrun holds --------------------------------------------------------------------


@dataclass
class Held:
    """One superrun: its leaf segments in time order, and (derived) what its vetoes cut."""

    segments: dict[str, Spans]
    selection: str
    vetoed: dict[str, int] = field(default_factory=dict)   # ns per run of the base (derived)
    dq_cut: dict[str, int] = field(default_factory=dict)   # the part of vetoed DQ defects cut

    def all_segments(self) -> list[tuple[str, int, int]]:
        return sorted(((r, s, e) for r, spans in self.segments.items() for s, e in spans),
                      key=lambda x: (x[1], x[2]))

    def span(self) -> tuple[int, int]:
        segments = self.all_segments()
        return segments[0][1], max(e for _, _, e in segments)


class Oracle:
    """Definitions (``{name: body}`` as in YAML) over a registry (``{run: {start, end, mode,
    source, tags}}``); ``table(path)`` reads an events/veto table, ``dq(version)`` a DQ file."""

    def __init__(self, definitions: Mapping, registry: Mapping, table: Callable, dq: Callable):
        self.definitions, self.registry = definitions, registry
        self.table, self.dq = table, dq
        self._held: dict[str, Held] = {}

    def held(self, name: str) -> Held:
        if name not in self._held:
            body = self.definitions[name]
            derived = any(k in body for k in DERIVED_KEYS)
            self._held[name] = (self._derived if derived else self._plain)(name, body)
        return self._held[name]

    def whole(self, run_id: str) -> tuple[int, int]:
        return self.registry[run_id]["start"], self.registry[run_id]["end"]

    # -- plain: runs, ranges, events -------------------------------------------------------

    def _plain(self, name: str, body: Mapping) -> Held:
        selection = body.get("selection", "contained")
        pieces = [p for sub in body.get("runs", []) for p in self._whole_subrun(name, sub, selection)]
        for sub, ranges in (body.get("ranges") or {}).items():
            pieces += self._ranged_subrun(name, sub, [tuple(r) for r in ranges], selection)
        if body.get("events") is not None:
            windows = self._event_windows(name, body)
            clash = set(windows) & (set(body.get("runs", [])) | set(body.get("ranges") or {}))
            if clash:
                raise Refused(f"{name}: events of run {sorted(clash)[0]} also in runs/ranges")
            pieces += [(r, s, e) for r, spans in windows.items() for s, e in spans]
        return Held(_no_overlap(name, pieces), selection)

    def _whole_subrun(self, name, sub, selection):
        if not sub.startswith("_"):
            return [(sub, *self.whole(sub))]
        inner = self.held(sub)
        self._same_selection(name, sub, inner, selection, ranged=False)
        return inner.all_segments()

    def _ranged_subrun(self, name, sub, ranges, selection):
        if ranges != sorted(ranges) or any(s >= e for s, e in ranges) or \
                any(b[0] < a[1] for a, b in zip(ranges, ranges[1:])):
            raise Refused(f"{name}: ranges of {sub} unsorted, empty or overlapping")
        if not sub.startswith("_"):
            start, end = self.whole(sub)
            if any(s < start or e > end for s, e in ranges):
                raise Refused(f"{name}: a range of {sub} is outside the run")
            return [(sub, s, e) for s, e in ranges]
        inner = self.held(sub)
        self._same_selection(name, sub, inner, selection, ranged=True)
        first, last = inner.span()
        out = []
        for s, e in ranges:
            cut = [(r, max(s, a), min(e, b)) for r, a, b in inner.all_segments() if max(s, a) < min(e, b)]
            if s < first or e > last or not cut:
                raise Refused(f"{name}: range [{s}, {e}) of {sub} is outside it or holds nothing")
            out += cut
        return out

    def _same_selection(self, name, sub, inner: Held, selection, ranged: bool) -> None:
        """A nested superrun that cuts runs (or is cut) must share the outer selection."""
        cuts = any(spans != [self.whole(r)] for r, spans in inner.segments.items())
        if inner.selection != selection and (cuts or ranged):
            raise Refused(f"{name}: selection {selection} differs from {sub}'s {inner.selection}")

    def _event_windows(self, name: str, body: Mapping) -> dict[str, Spans]:
        """``[time - pad, end + pad)`` clipped to the run, merged per run."""
        events, pad = self.table(body["events"]), int(body.get("pad_ns", 0))
        run_ids = events["run_id"] if "run_id" in events.dtype.names else [body["from_run"]] * len(events)
        return _windows(name, events, [str(r) for r in run_ids], self.registry, pad)

    # -- derived: query, set operations, sample, vetoes ------------------------------------------

    def _derived(self, name: str, body: Mapping) -> Held:
        base = self._base(name, body)
        if body.get("sample") is not None:
            fraction, seed = body["sample"]["fraction"], body["sample"].get("seed", 0)
            base = {r: s for r, s in base.items() if sample_key(r, seed) < fraction}
            if not base:
                raise Refused(f"{name}: the sample keeps no run")
        cuts, defects = self._vetoes(name, body, base)
        held = {r: subtract(s, cuts.get(r, [])) for r, s in base.items()}
        held = {r: s for r, s in held.items() if s}
        if not held:
            raise Refused(f"{name}: the vetoes remove everything")
        vetoed = {r: measure(s) - measure(held.get(r, [])) for r, s in base.items()}
        dq_cut = {r: measure(intersect(merge(s), merge(defects[r]))) for r, s in base.items() if r in defects}
        return Held(held, body.get("selection", "contained"), vetoed, dq_cut)

    def _base(self, name: str, body: Mapping) -> dict[str, Spans]:
        if "query" in body:
            runs = self._query(body["query"])
            if not runs:
                raise Refused(f"{name}: the query selects no run")
            return {r: [self.whole(r)] for r in runs}
        op = next((k for k in SET_OPERATIONS if k in body), None)
        if op is None:   # runs/ranges/events cut by a veto or sample: their segments, merged
            plain = self._plain(name, {k: v for k, v in body.items() if k not in DERIVED_KEYS})
            return {r: merge(s) for r, s in plain.segments.items()}
        sets = [self._operand(x) for x in body[op]]
        runs = [r for r in dict.fromkeys(r for s in sets for r in s)]
        if op == "union":
            out = {r: merge(p for s in sets for p in s.get(r, [])) for r in runs}
        elif op == "intersection":
            out = {r: _intersect_all([s.get(r, []) for s in sets]) for r in runs}
        else:
            out = {r: subtract(sets[0].get(r, []), [p for s in sets[1:] for p in s.get(r, [])])
                   for r in sets[0]}
        out = {r: s for r, s in out.items() if s}
        if not out:
            raise Refused(f"{name}: the {op} holds no time")
        return out

    def _operand(self, sub: str) -> dict[str, Spans]:
        if not sub.startswith("_"):
            return {sub: [self.whole(sub)]}
        return {r: merge(s) for r, s in self.held(sub).segments.items()}

    def _query(self, query: Mapping) -> list[str]:
        def listed(v):
            return v if isinstance(v, list) else [v]

        keep = []
        for run_id, run in sorted(self.registry.items(), key=lambda kv: kv[1]["start"]):
            ok = ("mode" not in query or run["mode"] in listed(query["mode"])) and \
                 ("source" not in query or run["source"] in listed(query["source"])) and \
                 set(query.get("tags", [])) <= set(run["tags"]) and \
                 not set(query.get("exclude_tags", [])) & set(run["tags"]) and \
                 run["start"] >= query.get("start", run["start"]) and \
                 run["end"] <= query.get("end", run["end"])
            if ok and "dq" in query:
                flags = (self.dq(query["dq"]["version"]).get("runs") or {}).get(run_id, {})
                ok = all(flags.get(s) == "good" for s in query["dq"]["require"])
            if ok:
                keep.append(run_id)
        return keep

    def _vetoes(self, name: str, body: Mapping, base: Mapping) -> tuple[dict[str, Spans], dict[str, Spans]]:
        """``veto:`` (inline or a table) and the required subsystems' DQ defects, per run; and
        the DQ defects alone."""
        cuts: dict[str, Spans] = {}
        defects_of: dict[str, Spans] = {}
        veto = body.get("veto")
        if isinstance(veto, Mapping):
            for run_id, spans in veto.items():
                start, end = self.whole(run_id)
                if any(s < start or e > end for s, e in spans):
                    raise Refused(f"{name}: a veto of {run_id} is outside the run")
                cuts[run_id] = [tuple(s) for s in spans]
        elif veto is not None:
            table = self.table(veto)
            cuts = _windows(name, table, [str(r) for r in table["run_id"]], self.registry, 0)
        dq = (body.get("query") or {}).get("dq")
        if dq is not None:
            defects = self.dq(dq["version"]).get("defects") or {}
            ranges = [tuple(p) for s in dq["require"] for p in defects.get(s) or []]
            for run_id in base:
                defects_of[run_id] = intersect(merge(ranges), [self.whole(run_id)])
                cuts[run_id] = cuts.get(run_id, []) + defects_of[run_id]
        return {r: merge(s) for r, s in cuts.items()}, defects_of


def _intersect_all(sets: list[Spans]) -> Spans:
    out = merge(sets[0])
    for s in sets[1:]:
        out = intersect(out, merge(s))
    return out


def _windows(name: str, events: np.ndarray, run_ids: list[str], registry: Mapping, pad: int
             ) -> dict[str, Spans]:
    time, end = events["time"].astype(np.int64), row_end(events)
    out: dict[str, Spans] = {}
    for t, e, run_id in zip(time.tolist(), end.tolist(), run_ids):
        start, stop = registry[run_id]["start"], registry[run_id]["end"]
        if t < start or e > stop:
            raise Refused(f"{name}: an event [{t}, {e}) lies outside run {run_id}")
        window = (max(start, t - pad), min(stop, e + pad))
        if window[0] >= window[1]:
            raise Refused(f"{name}: an event window of run {run_id} holds nothing")
        out.setdefault(run_id, []).append(window)
    return {r: merge(w) for r, w in sorted(out.items(), key=lambda kv: min(kv[1]))}


def _no_overlap(name: str, pieces: list[tuple[str, int, int]]) -> dict[str, Spans]:
    """Plain segments per leaf in time order; refused when two hold the same time."""
    pieces = sorted(pieces, key=lambda p: (p[1], p[2]))
    if not pieces:
        raise Refused(f"{name}: holds nothing")
    reach = None
    for run_id, s, e in pieces:
        if reach is not None and s < reach:
            raise Refused(f"{name}: segments overlap at {s} (run {run_id})")
        reach = e if reach is None else max(reach, e)
    out: dict[str, Spans] = {}
    for run_id, s, e in pieces:
        out.setdefault(run_id, []).append((s, e))
    return out


# -- rows, exposure and chunk spans of what is held ---------------------------------------


def keeps(rows: np.ndarray, spans: Spans, selection: str) -> np.ndarray:
    """Which rows the selection rule keeps for ``spans`` of one run: ``contained``: inside a
    span (``start <= time < end`` and ``endtime <= end``); ``touching``: overlapping one (a
    zero-length row overlaps the span holding its time). A row matching two spans counts once."""
    time, end = rows["time"].astype(np.int64), row_end(rows)
    mask = np.zeros(len(rows), bool)
    for s, e in spans:
        if selection == "touching":
            mask |= ((time < e) & (end > s)) | ((time == end) & (time >= s) & (time < e))
        else:
            mask |= (time >= s) & (time < e) & (end <= e)
    return mask


def is_whole(oracle: Oracle, run_id: str, spans: Spans) -> bool:
    """A leaf held over exactly its registry span keeps every row of its own file."""
    return list(spans) == [oracle.whole(run_id)]


def expected_rows(oracle: Oracle, name: str, rows_of: Callable[[str], np.ndarray]) -> np.ndarray:
    """The superrun's rows: each leaf run's kept rows, leaves in time order."""
    held = oracle.held(name)
    parts = []
    for run_id in sorted(held.segments, key=lambda r: held.segments[r][0]):
        rows, spans = rows_of(run_id), held.segments[run_id]
        parts.append(rows if is_whole(oracle, run_id, spans) else rows[keeps(rows, spans, held.selection)])
    return np.concatenate(parts)


def expected_document(oracle: Oracle, name: str) -> dict:
    """start, end, livetime, the flat sub_run_spec and the exposure (docs/datasets.md)."""
    held = oracle.held(name)
    per_run = {r: measure(s) for r, s in held.segments.items()}
    per_subrun = {r: {"livetime": per_run.get(r, 0) / 1e9, "vetoed": held.vetoed.get(r, 0) / 1e9,
                      "dq_cut": held.dq_cut.get(r, 0) / 1e9} for r in [*per_run, *held.vetoed]}
    start, end = held.span()
    return {
        "start": start, "end": end, "livetime": sum(per_run.values()) / 1e9,
        "sub_run_spec_flat": {r: "all" if is_whole(oracle, r, s) else [list(p) for p in s]
                              for r, s in held.segments.items()},
        "exposure": {"span": (end - start) / 1e9, "livetime": sum(per_run.values()) / 1e9,
                     "vetoed": sum(held.vetoed.values()) / 1e9, "dq_cut": sum(held.dq_cut.values()) / 1e9,
                     "per_subrun": per_subrun},
    }


def expected_chunk_spans(oracle: Oracle, name: str, file_span: Callable[[str], tuple[int, int]]
                         ) -> dict[str, Spans]:
    """What the chunks' ``subruns`` must cover per leaf, merged: the held spans, and for a
    leaf held whole the span of its own file (its rows may reach past the registry's)."""
    held = oracle.held(name)
    return {r: [file_span(r)] if is_whole(oracle, r, s) else merge(s) for r, s in held.segments.items()}
