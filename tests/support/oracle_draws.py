"""Hypothesis strategies for the end-to-end oracle: batches of random superrun definitions of
every kind (runs, ranges, events, nesting, query with DQ, union/intersection/difference,
veto inline and from a table, sample), with their side files, each checked by the
independent oracle (tests/support/oracle.py) before it joins the batch, so a batch holds only
definitions the documents accept; what they refuse is drawn by :func:`empty_cases`.

Times are drawn from a run's *scope*: its registry start and end, the edges of its rows
(time, endtime, one ns either side) and their middles, so ranges start exactly at a run's
start, end exactly on a row's end, cut through rows, and touch each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import yaml
from hypothesis import strategies as st

from support.oracle import SET_OPERATIONS, Oracle, Refused, sample_key

KINDS = ("runs", "ranges", "events", "nest", "query", *SET_OPERATIONS)
SUBSYSTEMS = ("tpc", "muon_veto")
PADS = (0, 1, 1_000, 1_000_000, 300_000_000, 100_000_000_000)


@dataclass
class Universe:
    """What definitions are drawn over: the registry and, per run, its scope (sorted times)
    and the rows an events table may list (``time``, ``endtime``; ``length``, ``dt``)."""

    registry: dict
    scope: dict[str, np.ndarray]
    events: dict[str, np.ndarray]
    peaks: dict[str, np.ndarray]

    @property
    def run_ids(self) -> list[str]:
        return sorted(self.registry, key=lambda r: self.registry[r]["start"])


@dataclass
class Batch:
    """Definitions with their tables (relative path -> record array) and DQ versions."""

    definitions: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    dq: dict = field(default_factory=dict)

    def oracle(self, registry: dict) -> Oracle:
        return Oracle(self.definitions, registry, self.tables.__getitem__, self.dq.__getitem__)

    def closure(self, name: str) -> list[str]:
        """``name`` and every superrun it reaches, innermost first."""
        body, out = self.definitions[name], []
        subs = [*body.get("runs", []), *(body.get("ranges") or {})]
        subs += [x for op in SET_OPERATIONS for x in body.get(op, [])]
        for sub in subs:
            if sub.startswith("_"):
                out += [x for x in self.closure(sub) if x not in out]
        return out + [name]

    def text(self, names=None) -> str:
        """The definitions (``names`` only), and the tables and DQ versions they use, as YAML."""
        names = list(self.definitions) if names is None else names
        defs = {n: self.definitions[n] for n in names}
        used = [p for p in self.tables if any(p in (d.get("events"), d.get("veto")) for d in defs.values())]
        tables = {p: {c: self.tables[p][c].tolist() for c in self.tables[p].dtype.names} for p in used}
        versions = {d["query"]["dq"]["version"] for d in defs.values() if "dq" in d.get("query", {})}
        dq = {v: self.dq[v] for v in sorted(versions)}
        return yaml.safe_dump({"superruns": defs, "tables": tables, "dq": dq}, sort_keys=False,
                              width=120, default_flow_style=None)

    def __repr__(self) -> str:
        return f"batch of {len(self.definitions)} definitions:\n{self.text()}"

    def _repr_pretty_(self, printer, cycle) -> None:
        """What hypothesis prints for a failing example: the YAML above."""
        printer.text(repr(self))


def _ints(spans) -> list[list[int]]:
    return [[int(s), int(e)] for s, e in spans]


@st.composite
def ranges_in(draw, scope: np.ndarray, max_ranges: int = 3) -> list[list[int]]:
    """Sorted, disjoint ranges with ends from ``scope``: touching each other or with gaps."""
    n = draw(st.integers(1, max_ranges))
    touching = draw(st.booleans())
    k = n + 1 if touching else 2 * n
    k = min(k, len(scope))
    picks = sorted(draw(st.lists(st.integers(0, len(scope) - 1), min_size=k, max_size=k, unique=True)))
    points = scope[picks]
    pairs = zip(points[:-1], points[1:]) if touching else zip(points[::2], points[1::2])
    return _ints((s, e) for s, e in pairs if s < e)


def superrun_scope(u: Universe, oracle: Oracle, name: str) -> np.ndarray:
    """The scope of a superrun: its leaves' scopes within its segments, and the segments' ends."""
    held = oracle.held(name)
    parts = [np.array([s, e]) for spans in held.segments.values() for s, e in spans]
    for run_id, spans in held.segments.items():
        for s, e in spans:
            times = u.scope[run_id]
            parts.append(times[(times >= s) & (times <= e)])
    return np.unique(np.concatenate(parts))


@st.composite
def dq_versions(draw, u: Universe) -> dict:
    """DQ files v1 and v2: per run good, bad or unmentioned per subsystem; some defects."""
    out = {}
    everything = np.unique(np.concatenate(list(u.scope.values())))
    for version in ("v1", "v2"):
        runs = {}
        for run_id in u.run_ids:
            choice = draw(st.integers(0, 6))   # 0-2: good, 3-4: one bad, 5: only tpc given, 6: unmentioned
            flags = {"tpc": "bad" if choice == 3 else "good", "muon_veto": "bad" if choice == 4 else "good"}
            if choice == 5:
                flags.pop("muon_veto")
            if choice != 6:
                runs[run_id] = flags
        defects = {s: draw(ranges_in(everything, 2)) for s in SUBSYSTEMS if draw(st.booleans())}
        out[version] = {"subsystems": list(SUBSYSTEMS), "runs": runs, "defects": defects}
    return out


class Builder:
    """A batch being drawn: each candidate joins it only when the oracle accepts it."""

    def __init__(self, u: Universe, dq: dict):
        self.u, self.batch = u, Batch(dq=dq)
        self.oracle = self.batch.oracle(u.registry)

    @property
    def superruns(self) -> list[str]:
        return list(self.batch.definitions)

    def try_add(self, name: str, body: dict, tables: dict) -> bool:
        self.batch.definitions[name] = body
        self.batch.tables.update(tables)
        try:
            self.oracle.held(name)
            return True
        except Refused:
            del self.batch.definitions[name]
            for path in tables:
                self.batch.tables.pop(path, None)
            return False

    def leaves(self, name: str) -> list[str]:
        return [name] if not name.startswith("_") else list(self.oracle.held(name).segments)


@st.composite
def batches(draw, u: Universe, min_size: int, max_size: int, tries: int = 4) -> Batch:
    """A batch of ``min_size``..``max_size`` accepted definitions named ``_d0``, ``_d1``, ...
    (a slot whose ``tries`` candidates are all refused stays empty)."""
    builder = Builder(u, draw(dq_versions(u)))
    for i in range(draw(st.integers(min_size, max_size))):
        name = f"_d{i}"
        for _ in range(tries):
            body, tables = draw(definitions(builder, name))
            if builder.try_add(name, body, tables):
                break
    return builder.batch


@st.composite
def definitions(draw, b: Builder, name: str) -> tuple[dict, dict]:
    """One candidate definition of a drawn kind, with its modifiers, and the tables it needs."""
    kind = draw(st.sampled_from(KINDS))
    tables: dict = {}
    body = {"selection": draw(st.sampled_from(("contained", "touching")))}
    if kind == "events":
        body.update(draw(events_body(b.u, name, tables)))
    elif kind == "query":
        body["query"] = draw(query_body(b.u))
    elif kind in SET_OPERATIONS:
        body[kind] = draw(operands(b, kind))
    else:
        body.update(draw(plain_body(b, kind, body["selection"])))
    modifier = draw(st.integers(0, 5))   # 0-2: none, 3: veto inline, 4: veto table, 5: sample
    if modifier in (3, 4):
        body["veto"] = draw(veto_body(b, name, body, tables, inline=modifier == 3))
    elif modifier == 5:
        body["sample"] = {"fraction": draw(st.sampled_from((1.0, 0.8, 0.5, 0.3))),
                          "seed": draw(st.integers(0, 5))}
    return body, tables


@st.composite
def plain_body(draw, b: Builder, kind: str, selection: str) -> dict:
    """``runs:`` and/or ``ranges:`` of runs and superruns (mostly of the same selection: a
    superrun that cuts runs must share it); ``nest`` takes the latest such superrun."""
    alike = [x for x in b.superruns if b.oracle.held(x).selection == selection]
    candidates = b.u.run_ids + (alike if draw(st.integers(0, 3)) else b.superruns)
    if kind == "nest" and alike:
        latest = alike[-1]
        if draw(st.booleans()):
            return {"runs": [latest]}
        return {"ranges": {latest: draw(ranges_in(superrun_scope(b.u, b.oracle, latest)))}}
    subs = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique=True))
    if kind in ("runs", "nest"):
        return {"runs": subs}
    n_whole = draw(st.integers(0, len(subs) - 1))
    body = {"ranges": {}} if n_whole == 0 else {"runs": subs[:n_whole], "ranges": {}}
    for sub in subs[n_whole:]:
        scope = b.u.scope[sub] if not sub.startswith("_") else superrun_scope(b.u, b.oracle, sub)
        body["ranges"][sub] = draw(ranges_in(scope))
    return body


@st.composite
def events_body(draw, u: Universe, name: str, tables: dict) -> dict:
    """An events table (.npy or .csv; endtime or length/dt; run_id or from_run) and pad_ns."""
    runs = draw(st.lists(st.sampled_from(u.run_ids), min_size=1, max_size=2, unique=True))
    from_run = len(runs) == 1 and draw(st.booleans())
    peaks = draw(st.booleans())                   # length and dt instead of endtime
    suffix = ".npy" if peaks else draw(st.sampled_from((".npy", ".csv")))
    parts = []
    for run_id in runs:
        source = (u.peaks if peaks else u.events)[run_id]
        picks = sorted(draw(st.lists(st.integers(0, len(source) - 1), min_size=1, max_size=6, unique=True)))
        parts.append((run_id, source[picks]))
    rows = np.concatenate([p for _, p in parts])
    columns = [(c, np.int64) for c in rows.dtype.names] + ([] if from_run else [("run_id", "U16")])
    table = np.zeros(len(rows), dtype=columns)
    for c in rows.dtype.names:
        table[c] = rows[c]
    if not from_run:
        table["run_id"] = [r for r, p in parts for _ in range(len(p))]
    path = f"config/tables/{name}-events{suffix}"
    tables[path] = table
    body = {"events": path, "pad_ns": draw(st.sampled_from(PADS))}
    if from_run:
        body["from_run"] = runs[0]
    return body


@st.composite
def query_body(draw, u: Universe) -> dict:
    """Any of mode, source, tags, exclude_tags, start, end and dq (each a third of the time,
    dq half: more filters mostly select nothing)."""
    runs = [u.registry[r] for r in u.run_ids]
    query = {}
    for key, values in (("mode", sorted({r["mode"] for r in runs})),
                        ("source", sorted({r["source"] for r in runs}))):
        if draw(st.integers(0, 2)) == 0:
            picked = draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))
            query[key] = picked[0] if len(picked) == 1 and draw(st.booleans()) else picked
    tags = sorted({t for r in runs for t in r["tags"]})
    for key in ("tags", "exclude_tags"):
        if draw(st.integers(0, 2)) == 0:
            query[key] = [draw(st.sampled_from(tags))]
    for key in ("start", "end"):
        if draw(st.integers(0, 2)) == 0:
            query[key] = draw(st.sampled_from([r[key] + d for r in runs for d in (-1, 0, 1)]))
    if draw(st.booleans()):
        require = draw(st.lists(st.sampled_from(SUBSYSTEMS), min_size=1, max_size=2, unique=True))
        query["dq"] = {"version": draw(st.sampled_from(("v1", "v2"))), "require": require}
    return query


@st.composite
def operands(draw, b: Builder, op: str) -> list[str]:
    """2-3 operands; after the first, mostly ones sharing a leaf run with it (overlaps)."""
    candidates = b.u.run_ids + b.superruns
    first = draw(st.sampled_from(candidates))
    near = [c for c in candidates if c != first and set(b.leaves(c)) & set(b.leaves(first))]
    pool = near if near and draw(st.integers(0, 3)) else [c for c in candidates if c != first]
    rest = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
    return [first, *rest]


@st.composite
def veto_body(draw, b: Builder, name: str, body: dict, tables: dict, inline: bool):
    """Vetoes of 1-2 runs (mostly runs the definition holds): inline, or a .csv/.npy table."""
    held = [r for sub in body.get("runs", []) + list(body.get("ranges") or {}) for r in b.leaves(sub)]
    held += [x for op in SET_OPERATIONS for sub in body.get(op, []) for x in b.leaves(sub)]
    pool = sorted(set(held)) if held and draw(st.integers(0, 3)) else b.u.run_ids
    runs = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
    spans = {r: draw(ranges_in(b.u.scope[r], 2)) for r in runs}
    if inline:
        return spans
    rows = [(s, e, r) for r, pairs in spans.items() for s, e in pairs]
    table = np.array(rows, dtype=[("time", np.int64), ("endtime", np.int64), ("run_id", "U16")])
    path = f"config/tables/{name}-veto{draw(st.sampled_from(('.csv', '.npy')))}"
    tables[path] = table
    return path


@st.composite
def empty_cases(draw, u: Universe) -> tuple[Batch, str]:
    """A batch whose last definition holds nothing by the documents (helpers before it, among
    them a query superrun: the lock must stay unwritten when the parse stops)."""
    builder = Builder(u, draw(dq_versions(u)))
    modes = sorted({r["mode"] for r in u.registry.values()})
    builder.try_add("_h_locked", {"query": {"mode": draw(st.sampled_from(modes))}}, {})
    runs, reg = u.run_ids, u.registry
    kind = draw(st.sampled_from(("query", "intersection", "difference", "veto", "sample", "gap")))
    apart = [(x, y) for x, y in zip(runs, runs[1:]) if reg[x]["end"] < reg[y]["start"]]
    a, c = draw(st.sampled_from(apart))     # consecutive runs with a gap between them
    if kind == "query":       # runs starting after a's start and ending before c's: none
        body = {"query": {"start": reg[a]["start"] + 1, "end": reg[c]["start"]}}
    elif kind == "intersection":
        body = {"intersection": [a, c]}
    elif kind == "difference":
        builder.try_add("_h0", {"ranges": {a: draw(ranges_in(u.scope[a]))}}, {})
        body = {"difference": ["_h0", a]}
    elif kind == "veto":
        body = {"runs": [a], "veto": {a: [[reg[a]["start"], reg[a]["end"]]]}}
    elif kind == "sample":
        low = min(sample_key(r, 3) for r in (a, c))
        body = {"runs": [a, c], "sample": {"fraction": low / 2, "seed": 3}}
    else:                     # a range of a superrun falling in the gap between its runs
        builder.try_add("_h0", {"runs": [a, c]}, {})
        body = {"ranges": {"_h0": [[reg[a]["end"], reg[c]["start"]]]}}
    name = f"_holds_nothing_{kind}"
    builder.batch.definitions[name] = body
    return builder.batch, name
