"""End to end: minimum-bias superruns of time ranges and of event selections."""

from __future__ import annotations

import json

import numpy as np
import pytest

import superruns
from superruns.base import kernels
from superruns.storage import DataFile

from support.workflows import SECOND, merge_spans, run_entry

pytestmark = pytest.mark.e2e

RUNS = {"000001": run_entry(0, 30), "000002": run_entry(40, 30), "000003": run_entry(80, 30)}
T = {run: entry["start"] for run, entry in RUNS.items()}
PAD = 1_000_000


def window(run, a_s, b_s):
    return [T[run] + int(a_s * SECOND), T[run] + int(b_s * SECOND)]


RANGES_A = {"000001": [window("000001", 2, 5), window("000001", 10, 11.5)], "000003": [window("000003", 1, 3)]}
RANGES_B = {"000002": [window("000002", 20, 29)]}
SUPERRUNS = {
    "_all": {"runs": ["000001", "000002", "000003"]},
    "_ranges_a": {"ranges": RANGES_A},
    "_ranges_b": {"ranges": RANGES_B, "selection": "contained"},
    "_nested": {"runs": ["_ranges_b", "_ranges_a"]},        # interleaved in time
    "_touching": {"ranges": RANGES_A, "selection": "touching"},
    "_minbias": {"events": "data/selections/lowE.npy", "pad_ns": PAD},
}
SELECTIONS = {"lowE": {"source": "_all", "data_type": "event_info", "cuts": {"s1_area": [3, 15]}}}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from support.workflows import Workflow

    flow = Workflow(tmp_path_factory.mktemp("minbias"))
    # Carry every subrun frame over as it is, so stored superruns have many frames.
    flow.write(RUNS, SUPERRUNS, selections=SELECTIONS, storage={"carry_over_min_mb": 0})
    flow.snakemake("_all/peaks", *(f"{sr}/{dt}" for sr in ("_minbias", "_nested", "_touching")
                                   for dt in ("event_info", "peaks", "raw_records")))
    return flow


def selected(rows, ranges, touching=False):
    return rows[kernels.select_in_ranges(rows, ranges, touching=touching)]


def expected_from_ranges(flow, data_type, ranges_by_run, touching=False):
    project = flow.project()
    parts = []
    for run in sorted(ranges_by_run, key=lambda r: T[r]):
        rows = superruns.load(run, data_type, project=project)
        parts.append(selected(rows, sorted(ranges_by_run[run]), touching))
    return np.concatenate(parts)


@pytest.mark.parametrize("data_type", ["event_info", "peaks", "raw_records"])
def test_nested_range_superruns_load_as_the_union_of_their_ranges(built, data_type):
    stored = superruns.load("_nested", data_type, project=built.project())
    expected = expected_from_ranges(built, data_type, {**RANGES_A, **RANGES_B})
    assert len(stored) > 0
    assert stored.tobytes() == expected.tobytes()


@pytest.mark.parametrize("data_type", ["peaks", "raw_records"])
def test_touching_selection_keeps_rows_overlapping_the_ranges(built, data_type):
    stored = superruns.load("_touching", data_type, project=built.project())
    expected = expected_from_ranges(built, data_type, RANGES_A, touching=True)
    contained = expected_from_ranges(built, data_type, RANGES_A)
    assert stored.tobytes() == expected.tobytes()
    assert len(stored) >= len(contained)


def test_minbias_from_selected_events(built):
    project = built.project()
    events = np.load(built.data / "selections" / "lowE.npy")
    assert len(events) > 0
    everything = superruns.load("_all", "event_info", project=project)
    lowE = everything[(everything["s1_area"] >= 3) & (everything["s1_area"] < 15)]
    assert np.array_equal(events["time"], lowE["time"])
    windows = {}
    for event in events:
        run = str(event["run_id"])
        windows.setdefault(run, []).append([max(int(event["time"]) - PAD, RUNS[run]["start"]),
                                            min(int(event["endtime"]) + PAD, RUNS[run]["end"])])
    windows = {run: merge_spans(spans) for run, spans in windows.items()}
    for data_type in ("event_info", "peaks", "raw_records"):
        stored = superruns.load("_minbias", data_type, project=project)
        assert stored.tobytes() == expected_from_ranges(built, data_type, windows).tobytes()
    minbias_events = superruns.load("_minbias", "event_info", project=project)
    assert np.isin(events["time"], minbias_events["time"]).all()
    metadata = superruns.run_metadata("_minbias", project=project)
    livetime = sum(e - s for spans in windows.values() for s, e in spans) / 1e9
    assert metadata["livetime"] == pytest.approx(livetime)
    assert (built.file("_minbias", "raw_records")).stat().st_size < sum(
        (built.file(run, "raw_records")).stat().st_size for run in RUNS) / 4


def test_chunk_subruns_record_exactly_the_ranges_held(built):
    data = DataFile(built.file("_nested", "peaks"))
    held = {}
    for chunk in data.chunks:
        for run, part in chunk.subruns.items():
            held.setdefault(run, []).extend(part.get("ranges", [[part["start"], part["end"]]]))
    assert {run: merge_spans(spans) for run, spans in held.items()} == {
        run: merge_spans(spans) for run, spans in {**RANGES_A, **RANGES_B}.items()}


def test_time_range_load_reads_only_overlapping_frames(built):
    path = built.file("_all", "peaks")
    whole = DataFile(path).load()
    t0, t1 = T["000002"] + 5 * SECOND, T["000002"] + 6 * SECOND
    data = DataFile(path)
    part = data.load(time_range=(t0, t1))
    assert part.tobytes() == selected(whole, [(t0, t1)]).tobytes()
    assert data.frames_read < len(DataFile(path).metadata["frames"])
    via_api = superruns.load("_all", "peaks", time_range=(t0, t1), project=built.project())
    assert via_api.tobytes() == part.tobytes()



def test_listing_shows_an_events_superrun_as_pending_until_selected(workflow, capsys):
    from superruns.cli import commands as cli

    workflow.write(RUNS, SUPERRUNS, selections=SELECTIONS)
    config = str(workflow.root / "config" / "config.yaml")
    assert cli.main(["--config", config, "--json", "list"]) == 0
    rows = {row["run_id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["_minbias"]["livetime_s"] is None and "lowE.npy" in rows["_minbias"]["pending"]
    assert rows["_all"]["livetime_s"] == pytest.approx(90) and rows["_all"]["pending"] is None


def test_status_counts_a_superrun_of_events_not_selected_yet_as_missing(tmp_path):
    """Before the workflow has written the events selection, `status` cannot resolve the
    superrun (nor the lineage of its superrun-level types): it is missing, not an error."""
    from superruns.stored.campaign_status import status

    from support.workflows import Workflow

    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS, selections=SELECTIONS)
    result = status(flow.project(), "_minbias")
    assert result["n_superruns"] == 1
    assert all(counts == {"done": 0, "stale": 0, "missing": 1}
               for counts in result["superruns"].values())
    assert "accidental_events" in result["superruns"]
