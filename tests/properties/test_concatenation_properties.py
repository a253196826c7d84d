"""Property-based tests of the superrun build (``concatenation.build_superrun``).

Random subruns (random chunkings, empty chunks, zero-row subruns, random frame sizes), cut
by random time ranges or taken whole, built with random chunk targets and carry-over
thresholds, in contained and touching selection: the superrun loads as the plain
concatenation of what each segment selects, and its chunk metadata is consistent (``n``,
``start <= time < end``, ``endtime <= end``, chunks in order, every row wholly inside its
chunk's ``subruns``; ``subruns`` exactly the segments when contained, covering them when touching).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

from superruns.build.concatenation import BuildSettings, Source, build_superrun
from superruns.storage import DataFile, DataWriter

DTYPE = np.dtype([("time", "<i8"), ("endtime", "<i8"), ("value", "<i4"), ("channel", "<i2"), ("flag", "<i2")])
T = 1_000_000


@st.composite
def subrun(draw, start: int):
    """A subrun's file content: its span, and chunks ``(start, end, rows)``."""
    n_chunks = draw(st.integers(1, 5))
    lengths = draw(st.lists(st.integers(1, 200), min_size=n_chunks, max_size=n_chunks))
    edges = np.cumsum([start] + lengths).tolist()
    zero_rows = draw(st.booleans()) and draw(st.booleans())        # ~1 in 4 subruns holds no rows
    chunks = []
    for s, e in zip(edges[:-1], edges[1:]):
        n = 0 if zero_rows else draw(st.integers(0, 12))
        times = sorted(draw(st.lists(st.integers(s, e - 1), min_size=n, max_size=n)))
        rows = np.zeros(n, DTYPE)
        rows["time"] = times
        rows["endtime"] = [min(e, time + draw(st.integers(0, 30))) for time in times]
        rows["value"] = draw(st.lists(st.integers(-2**31, 2**31 - 1), min_size=n, max_size=n)) if n else []
        rows["channel"] = np.arange(n) % 7
        rows["flag"] = 1
        chunks.append((s, e, rows))
    return edges[0], edges[-1], chunks


@st.composite
def ranges_within(draw, start: int, end: int):
    """Sorted, disjoint ``[a, b)`` inside ``[start, end)`` (at least one)."""
    points = sorted(set(draw(st.lists(st.integers(start, end), min_size=2, max_size=6))))
    if len(points) < 2:
        points = [start, end]
    pairs = [(a, b) for a, b in zip(points[::2], points[1::2])]
    return pairs or [(start, end)]


@st.composite
def superrun_case(draw):
    n = draw(st.integers(1, 4))
    subruns, start = [], T
    for _ in range(n):
        start += draw(st.integers(0, 50))                 # adjacent or with a gap
        span_start, span_end, chunks = draw(subrun(start))
        cut = draw(st.booleans())
        ranges = draw(ranges_within(span_start, span_end)) if cut else None
        subruns.append((span_start, span_end, chunks, ranges, draw(st.integers(1, 6))))
        start = span_end
    return {"subruns": subruns,
            "target_rows": draw(st.integers(1, 40)),
            "carry_over_min_bytes": draw(st.sampled_from([0, DTYPE.itemsize * 2, DTYPE.itemsize * 6, 10**9])),
            "touching": draw(st.booleans())}


def selected(rows: np.ndarray, a: int, b: int, touching: bool, taken_before: int | None) -> np.ndarray:
    """The rows a segment [a, b) holds, written out plainly (not with the kernels)."""
    t, e = rows["time"], rows["endtime"]
    if touching:
        keep = (t < b) & ((a < e) | ((a <= t) & (e == t)))
    else:
        keep = (a <= t) & (t < b) & (e <= b)
    if taken_before is not None:
        keep &= t >= taken_before
    return rows[keep]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=superrun_case())
def test_superrun_is_the_concatenation_of_its_segments(case):
    with tempfile.TemporaryDirectory() as directory:
        directory = Path(directory)
        sources, expected, segments = [], [], {}
        for i, (span_start, span_end, chunks, ranges, rows_per_frame) in enumerate(case["subruns"]):
            leaf, path = f"r{i}", directory / f"r{i}"
            with DataWriter(path, DTYPE, {"run_id": leaf}, frame_size=rows_per_frame * DTYPE.itemsize) as writer:
                for s, e, rows in chunks:
                    writer.write_chunk(rows, s, e)
            every = np.concatenate([rows for _, _, rows in chunks])
            if ranges is None:
                sources.append(Source(leaf, path, leaf, span_start, span_end, True))
                expected.append(every)
                segments[leaf] = [[span_start, span_end]]
                continue
            previous = None
            for a, b in ranges:
                sources.append(Source(leaf, path, leaf, a, b, False, previous))
                expected.append(selected(every, a, b, case["touching"], previous))
                segments.setdefault(leaf, []).append([a, b])
                previous = b
        expected = np.concatenate(expected)
        output = directory / "_super"
        build = BuildSettings(chunk_target_bytes=case["target_rows"] * DTYPE.itemsize, row_bytes=DTYPE.itemsize,
                              carry_over_min_bytes=case["carry_over_min_bytes"], touching=case["touching"])
        build_superrun("_super", sources, output, {"run_id": "_super"}, build)

        data = DataFile(output)
        assert data.load().tobytes() == expected.tobytes()
        check_chunks(data, segments, case["touching"])
        if case["carry_over_min_bytes"] == 0 and all(r is None for *_, r, _ in case["subruns"]):
            source_crcs = {f["crc32"] for s in sources for f in DataFile(s.path).metadata["frames"]}
            assert {f["crc32"] for f in data.metadata["frames"]} == source_crcs   # every frame carried


def check_chunks(data: DataFile, segments: dict, touching: bool) -> None:
    previous_end = None
    held: dict[str, list[list[int]]] = {}
    for i, chunk in enumerate(data.chunks):
        rows = data.read_chunk(i)
        assert chunk.n == len(rows) and chunk.chunk_i == i
        assert chunk.start <= chunk.end
        if previous_end is not None:
            assert chunk.start >= previous_end
        previous_end = chunk.end
        if len(rows):
            assert rows["time"].min() >= chunk.start and rows["time"].max() < chunk.end
            assert rows["endtime"].max() <= chunk.end
            assert np.all(np.diff(rows["time"]) >= 0)
        subruns = chunk.subruns
        assert subruns, chunk
        for leaf, spec in subruns.items():
            assert chunk.start <= spec["start"] < spec["end"] <= chunk.end or \
                (spec["start"] == spec["end"] and chunk.start <= spec["start"] <= chunk.end)
            for s, e in spec.get("ranges", [[spec["start"], spec["end"]]]):
                spans = held.setdefault(leaf, [])
                if spans and spans[-1][1] >= s:
                    spans[-1][1] = max(spans[-1][1], e)
                else:
                    spans.append([s, e])
        # every row lies wholly in one of its chunk's subruns' intervals (contained), or overlaps
        # one (touching: a zero-length row, where its time is): rows taken by overlap may reach
        # past what the superrun holds, the chunk's [start, end) covers them (checked above)
        intervals = [(s, e) for spec in subruns.values() for s, e in spec.get("ranges", [[spec["start"], spec["end"]]])]
        for time, endtime in zip(rows["time"], rows["endtime"]):
            if touching:
                ok = any(time < e and (endtime > s or (endtime == time and time >= s)) for s, e in intervals)
            else:
                ok = any(s <= time < e and endtime <= e for s, e in intervals)
            assert ok, (time, endtime, intervals)
    # in both modes the chunks' subruns record exactly the segments (adjacent ones merged)
    merged = {}
    for leaf, spans in segments.items():
        out = []
        for s, e in spans:
            if out and out[-1][1] >= s:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([s, e])
        merged[leaf] = out
    assert held == merged
    assert list(held) == list(segments)                    # subruns in time order, none missing
