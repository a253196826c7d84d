"""End to end: superruns of many ranges (issue 12, class 5), where chunk and file metadata
summarise the ranges instead of listing them, and superruns built from such superruns."""

from __future__ import annotations

import numpy as np
import pytest

import superruns
from superruns.base import kernels
from superruns.build.concatenation import MAX_CHUNK_RANGES
from superruns.definitions.metadata import MAX_LISTED_RANGES
from superruns.storage import DataFile

from support.workflows import SECOND, run_entry

pytestmark = pytest.mark.e2e

RUNS = {"000001": run_entry(0, 30)}
T = RUNS["000001"]["start"]
N = 600  # ranges: more than a chunk lists and more than a file lists
EDGES = T + np.linspace(0, 29 * SECOND, 2 * N + 1).astype(np.int64)
ODD = [[int(EDGES[2 * i]), int(EDGES[2 * i + 1])] for i in range(N)]          # every other slot
EVEN = [[int(EDGES[2 * i + 1]), int(EDGES[2 * i + 2])] for i in range(0, N, 3)]  # some gaps
SUPERRUNS = {
    "_odd": {"ranges": {"000001": ODD}},
    "_even": {"ranges": {"000001": EVEN}},
    "_odd_touching": {"ranges": {"000001": ODD}, "selection": "touching"},
    "_both": {"runs": ["_odd", "_even"]},             # one leaf run, interleaved from two files
    "_of_odd": {"runs": ["_odd"]},
    "_flat": {"ranges": {"000001": sorted(ODD + EVEN)}},
}
assert 2 * N > MAX_LISTED_RANGES and N > MAX_CHUNK_RANGES


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from support.workflows import Workflow

    flow = Workflow(tmp_path_factory.mktemp("many_ranges"))
    flow.write(RUNS, SUPERRUNS)
    flow.snakemake(*(f"{sr}/peaks" for sr in SUPERRUNS))
    return flow


def rows_of(flow, name):
    return superruns.load(name, "peaks", project=flow.project())


def test_many_ranges_select_exactly_the_rows_of_each_range(built):
    run = rows_of(built, "000001")
    for name, ranges, touching in (("_odd", ODD, False), ("_odd_touching", ODD, True), ("_even", EVEN, False)):
        expected = run[kernels.select_in_ranges(run, ranges, touching=touching)]
        got = rows_of(built, name)
        assert len(got) == len(expected) > 0
        assert got.tobytes() == expected.tobytes()


def test_superruns_of_summarised_superruns_take_each_row_once_in_time_order(built):
    """_both holds run 000001 from two files whose ranges interleave; the files' chunks
    summarise their ranges, so the build clips each file's spans to its own segments."""
    flat, both = rows_of(built, "_flat"), rows_of(built, "_both")
    assert len(both) == len(flat) > 0
    assert both.tobytes() == flat.tobytes()
    assert rows_of(built, "_of_odd").tobytes() == rows_of(built, "_odd").tobytes()


def test_chunk_and_file_metadata_summarise_many_ranges(built):
    data = DataFile(built.file("_odd", "peaks"))
    md = data.metadata
    assert md["sub_run_spec_summarised"] is True
    spec = md["sub_run_spec"]["000001"]
    assert spec == {"n_ranges": N, "start": ODD[0][0], "end": ODD[-1][1],
                    "livetime_ns": sum(e - s for s, e in ODD)}
    assert md["run_metadata"]["sub_run_spec"] == md["sub_run_spec"]
    project = built.project()
    full = project.run_metadata("_odd")
    assert full["sub_run_spec"]["000001"] == ODD                    # the API keeps every range
    assert md["sub_run_spec_hash"] == full["sub_run_spec_hash"]
    from superruns.base.hashing import deterministic_hash

    assert md["sub_run_spec_strax_hash"] == deterministic_hash((full["sub_run_spec"], False))
    for chunk in data.chunks:
        entry = chunk.subruns["000001"]
        assert "ranges" not in entry or len(entry["ranges"]) <= MAX_CHUNK_RANGES
    assert sum(c.subruns["000001"].get("n_ranges", len(c.subruns["000001"].get("ranges", [1])))
               for c in data.chunks) == N
    assert (built.file("_odd", "peaks")).stat().st_size < 200_000     # not mostly metadata
    small = DataFile(built.file("_even", "peaks")).metadata
    assert "sub_run_spec_summarised" not in small and small["sub_run_spec"]["000001"] == EVEN


def test_report_and_time_range_loads_of_summarised_chunks(built):
    from superruns.stored.report import render_html, summary

    s = summary(built.file("_odd", "peaks"))
    entry = s["subruns"]["000001"]
    assert entry["n_ranges"] == N
    assert entry["livetime_s"] == pytest.approx(sum(e - s_ for s_, e in ODD) / 1e9)
    assert str(N) in render_html(s)
    # A time range cuts a chunk that summarises its ranges: the summary is not kept for it.
    start, end = ODD[10][0], ODD[20][1]
    rows = superruns.load("_odd", "peaks", time_range=(start, end), project=built.project())
    run = rows_of(built, "000001")
    expected = run[kernels.select_in_ranges(run, [r for r in ODD if start <= r[0] and r[1] <= end])]
    assert rows.tobytes() == expected.tobytes()
    whole = DataFile(built.file("_odd", "peaks"))
    assert "n_ranges" in whole.chunks[0].subruns["000001"]
    for chunk in whole.iter_chunks(time_range=(start, end)):
        assert "n_ranges" not in chunk.subruns["000001"]
        assert (chunk.subruns["000001"]["start"], chunk.subruns["000001"]["end"]) == (start, end)
