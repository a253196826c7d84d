"""The interval algebra of superruns (union, intersection, difference, veto, nesting, sample)
against an independent plain-Python model: a set of integer time points per run; and the rows
a built superrun keeps (the selection rule) against the same model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from superruns.base import kernels
from superruns.definitions import DefinitionError, Definitions
from superruns.definitions.parsing import parse_document
from superruns.model.runs import RunRegistry

RUN_IDS = ["1", "2", "3"]
RUN_LEN = 40
GAP = 10
FILE = Path("prop.yaml")


def run_bounds(r: str) -> tuple[int, int]:
    s = 100 + (int(r) - 1) * (RUN_LEN + GAP)
    return s, s + RUN_LEN


REGISTRY = RunRegistry.from_dict({"runs": {r: {"start": run_bounds(r)[0], "end": run_bounds(r)[1],
                                               "tags": ["t"]} for r in RUN_IDS}})


def points(spans) -> set[int]:
    return {t for s, e in spans for t in range(s, e)}


def model_sample(run_id: str, fraction: float, seed: int) -> bool:
    """Independently: the first 8 bytes of sha256(f"{seed}:{run_id}") as a fraction of 2**64."""
    digest = hashlib.sha256(f"{seed}:{run_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") < fraction * 2**64


@st.composite
def run_ranges(draw):
    """A plain superrun: some runs whole, some cut by sorted, disjoint ranges."""
    out_runs, out_ranges, model = [], {}, {}
    for r in RUN_IDS:
        kind = draw(st.sampled_from(["none", "whole", "ranges"]))
        s0, e0 = run_bounds(r)
        if kind == "whole":
            out_runs.append(r)
            model[r] = set(range(s0, e0))
        elif kind == "ranges":
            cuts = sorted(draw(st.lists(st.integers(s0, e0), min_size=2, max_size=6, unique=True)))
            pairs = [[cuts[i], cuts[i + 1]] for i in range(0, len(cuts) - 1, 2)]
            out_ranges[r] = pairs
            model[r] = points(pairs)
    if not out_runs and not out_ranges:
        out_runs, model = ["1"], {"1": set(range(*run_bounds("1")))}
    body = {}
    if out_runs:
        body["runs"] = out_runs
    if out_ranges:
        body["ranges"] = out_ranges
    return body, model


@st.composite
def scenarios(draw):
    a, ma = draw(run_ranges())
    b, mb = draw(run_ranges())
    op = draw(st.sampled_from(["union", "intersection", "difference"]))
    doc = {"_a": a, "_b": b, "_op": {op: ["_a", "_b"]}}
    if op == "union":
        model = {r: ma.get(r, set()) | mb.get(r, set()) for r in RUN_IDS}
    elif op == "intersection":
        model = {r: ma.get(r, set()) & mb.get(r, set()) for r in RUN_IDS}
    else:
        model = {r: ma.get(r, set()) - mb.get(r, set()) for r in RUN_IDS}
    veto = {}
    for r in draw(st.lists(st.sampled_from(RUN_IDS), unique=True, max_size=2)):
        s0, e0 = run_bounds(r)
        s = draw(st.integers(s0, e0 - 1))
        veto[r] = [[s, draw(st.integers(s + 1, e0))]]
    nested = {"runs": ["_op"]}
    top_model = model
    if veto:
        nested["veto"] = veto
        top_model = {r: top_model[r] - points(veto.get(r, [])) for r in RUN_IDS}
    sample = draw(st.one_of(st.none(), st.fixed_dictionaries(
        {"fraction": st.sampled_from([0.3, 0.5, 1.0]), "seed": st.integers(0, 5)})))
    if sample:
        nested["sample"] = sample
        top_model = {r: p for r, p in top_model.items() if model_sample(r, **sample)}
    doc["_top"] = nested
    return doc, {r: p for r, p in model.items() if p}, {r: p for r, p in top_model.items() if p}


def held_points(defs: Definitions, name: str) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for seg in defs.segments(name):
        out.setdefault(seg.run_id, set()).update(range(seg.start, seg.end))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_algebra_matches_the_point_set_model(scenario):
    doc, model, top_model = scenario
    try:
        defs = Definitions(parse_document(doc, FILE), REGISTRY)
    except DefinitionError as error:
        # Refused only when a result holds nothing, and the message says which.
        assert not model or not top_model, str(error)
        assert "holds no time" in str(error) or "remove everything" in str(error) \
            or "kept none" in str(error)
        return
    assert held_points(defs, "_op") == model
    assert held_points(defs, "_top") == top_model
    md = defs.run_metadata("_top")
    assert md["livetime"] == sum(len(p) for p in top_model.values()) / 1e9
    # segments are disjoint, non-touching within a run, in time order
    segs = defs.segments("_top")
    assert all(a.end < b.start or a.run_id != b.run_id for a, b in zip(segs, segs[1:]))
    assert all(a.start < b.start for a, b in zip(segs, segs[1:]))


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.data())
def test_rows_kept_are_those_inside_the_held_time(scenario, data):
    doc, model, top_model = scenario
    try:
        defs = Definitions(parse_document(doc, FILE), REGISTRY)
    except DefinitionError:
        return
    spans: dict[str, list] = {}
    for seg in defs.segments("_top"):
        spans.setdefault(seg.run_id, []).append((seg.start, seg.end))
    for run_id, held in top_model.items():
        s0, e0 = run_bounds(run_id)
        times = sorted(data.draw(st.lists(st.integers(s0, e0 - 1), max_size=30)))
        rows = np.zeros(len(times), [("time", "<i8"), ("length", "<i4"), ("dt", "<i4")])
        rows["time"], rows["dt"] = times, 1
        rows["length"] = [data.draw(st.integers(0, e0 - t)) for t in times]
        mask = kernels.select_in_ranges(rows, spans[run_id])
        # the model: the row's start and every point it covers are held, with no gap
        expected = [t in held and all(x in held for x in range(t, t + n))
                    for t, n in zip(rows["time"].tolist(), rows["length"].tolist())]
        assert mask.tolist() == expected
