"""Superruns of time ranges: selection semantics, against an independent numpy selection."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from superruns.base import kernels
from superruns.build.concatenation import BuildSettings, Source, build_superrun
from superruns.storage import DataFile, DataWriter

from support.workflows import merge_spans

DTYPE = np.dtype([("time", "<i8"), ("length", "<i4"), ("dt", "<i4"), ("value", "<f8")])


# -- the selection kernel ----------------------------------------------------------------------


def rows_of(spans):
    rows = np.zeros(len(spans), DTYPE)
    rows["time"] = [s for s, _ in spans]
    rows["length"] = [e - s for s, e in spans]
    rows["dt"] = 1
    return rows


def test_containment_keeps_rows_wholly_inside_a_range():
    rows = rows_of([(0, 5), (8, 12), (10, 15), (20, 20), (30, 41)])
    mask = kernels.select_in_ranges(rows, [(0, 12), (20, 40)])
    assert mask.tolist() == [True, True, False, True, False]


def test_touching_keeps_rows_that_overlap_a_range():
    rows = rows_of([(0, 5), (8, 12), (10, 15), (20, 20), (30, 41), (41, 45)])
    mask = kernels.select_in_ranges(rows, [(11, 12), (20, 40)], touching=True)
    assert mask.tolist() == [False, True, True, True, True, False]


# -- the build, as a property ------------------------------------------------------------------


def reference_selection(rows, ranges, touching):
    """Plain numpy: a row belongs when it lies inside (or, touching, overlaps) any range."""
    time, end = rows["time"], rows["time"] + rows["length"] * rows["dt"]
    keep = np.zeros(len(rows), bool)
    for s, e in ranges:
        if touching:
            keep |= ((time < e) & (end > s)) | ((time == end) & (time >= s) & (time < e))
        else:
            keep |= (time >= s) & (time < e) & (end <= e)
    return rows[keep]


@st.composite
def run_data(draw, start):
    duration = draw(st.integers(20, 300))
    end = start + duration
    n = draw(st.integers(0, 40))
    times = sorted(draw(st.lists(st.integers(start, end - 1), min_size=n, max_size=n)))
    lengths = [draw(st.integers(0, min(25, end - t))) for t in times]
    rows = np.zeros(n, DTYPE)
    rows["time"], rows["length"], rows["dt"] = times, lengths, 1
    rows["value"] = start * 1000 + np.arange(n)
    ends = rows["time"] + rows["length"]
    # Chunk boundaries may not cut a row.
    cuts = [c for c in range(start + 1, end) if not np.any((rows["time"] < c) & (ends > c))]
    chosen = sorted(draw(st.lists(st.sampled_from(cuts), unique=True, max_size=4))) if cuts else []
    bounds = [start, *chosen, end]
    points = sorted(draw(st.lists(st.integers(start, end), unique=True, min_size=2, max_size=8)))
    ranges = [(points[i], points[i + 1]) for i in range(0, len(points) - 1, 2)]
    whole = draw(st.booleans())
    return {"start": start, "end": end, "rows": rows, "bounds": bounds, "ranges": ranges, "whole": whole}


@st.composite
def scenarios(draw):
    runs, t = [], 0
    for _ in range(draw(st.integers(1, 4))):
        run = draw(run_data(t))
        runs.append(run)
        t = run["end"] + draw(st.integers(0, 50))
    return runs, draw(st.booleans()), draw(st.integers(1, 60)), draw(st.sampled_from([0, 64, 10**9]))


def write_run(path, run_id, run, frame_rows):
    with DataWriter(path, DTYPE, {"run_id": run_id, "data_type": "things", "data_kind": "things"},
                    frame_size=frame_rows * DTYPE.itemsize) as writer:
        rows = run["rows"]
        for start, end in zip(run["bounds"][:-1], run["bounds"][1:]):
            writer.write_chunk(rows[(rows["time"] >= start) & (rows["time"] < end)], start, end, run_id=run_id)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios(), frame_rows=st.integers(1, 8))
def test_superrun_of_ranges_equals_numpy_selection(tmp_path_factory, scenario, frame_rows):
    runs, touching, target_rows, carry_min = scenario
    tmp = tmp_path_factory.mktemp("ranges")
    sources, expected = [], []
    for i, run in enumerate(runs):
        run_id, path = f"{i + 1:06d}", tmp / f"{i + 1:06d}"
        write_run(path, run_id, run, frame_rows)
        if run["whole"]:
            sources.append(Source(run_id, path, run_id, run["start"], run["end"], True))
            expected.append(run["rows"])
            continue
        previous = None
        for s, e in run["ranges"]:
            sources.append(Source(run_id, path, run_id, s, e, False, previous))
            previous = e
        expected.append(reference_selection(run["rows"], run["ranges"], touching))
    output = tmp / "_super"
    build_superrun("_super", sources, output, {"run_id": "_super", "data_type": "things", "data_kind": "things"},
                   BuildSettings(chunk_target_bytes=target_rows * DTYPE.itemsize, row_bytes=DTYPE.itemsize,
                                 carry_over_min_bytes=carry_min, touching=touching))
    stored = DataFile(output)
    assert stored.load().tobytes() == np.concatenate(expected).tobytes()
    check_chunk_metadata(stored, runs, touching)


def check_chunk_metadata(stored, runs, touching):
    held: dict[str, list] = {}
    previous_end = None
    for i, chunk in enumerate(stored.chunks):
        rows = stored.read_chunk(i)
        assert len(rows) == chunk.n
        if previous_end is not None:
            assert chunk.start >= previous_end
        previous_end = chunk.end
        ends = kernels.endtime(rows)
        assert np.all(rows["time"] >= chunk.start) and np.all(ends <= chunk.end)
        for run_id, part in chunk.subruns.items():
            spans = part.get("ranges", [[part["start"], part["end"]]])
            held.setdefault(run_id, []).extend(spans)
            run_rows = rows[np.isin(rows["value"], runs[int(run_id) - 1]["rows"]["value"])]
            time, end = run_rows["time"], kernels.endtime(run_rows)
            inside = np.zeros(len(run_rows), bool)
            for s, e in spans:
                if touching:     # the row overlaps the span (a zero-length row: its time is in it)
                    inside |= (time < e) & ((end > s) | ((end == time) & (time >= s)))
                else:
                    inside |= (time >= s) & (end <= e)
            assert inside.all(), "a chunk holds rows of a subrun outside what its subruns say"
    for i, run in enumerate(runs):
        run_id = f"{i + 1:06d}"
        if run["whole"]:
            continue
        # exactly the held ranges, also where rows taken by overlap reach past them (touching)
        covered = merge_spans(held.get(run_id, []))
        assert covered == merge_spans([list(r) for r in run["ranges"] if r[1] > r[0]])

