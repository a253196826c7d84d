"""Superrun-level plugins: the demo algorithms, one value per option, the checks before work."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from superruns.build.metadata import output_metadata
from superruns.build.superrun_processing import check_alignable, process_superrun_level
from superruns.detector.accidentals import AccidentalEvents, PeakRates, accidental_events, isolated, rate_bins
from superruns.detector.peaks import PEAK_BASICS_DTYPE, S1, S2
from superruns.model.plugins import ChunkSpan
from superruns.model.superrun_plugins import (
    SuperrunPluginError,
    SuperrunSpan,
    leaf_runs,
    superrun_level_types,
    uniform_options,
)
from superruns.storage import DataFile, DataWriter

from support.workflows import SECOND, T0, Workflow, run_entry

CONFIG = {o.name: o.default for o in AccidentalEvents.options}


def peaks_at(times, types, length=100):
    rows = np.zeros(len(times), dtype=PEAK_BASICS_DTYPE)
    rows["time"] = times
    rows["endtime"] = np.asarray(times) + length
    rows["center_time"] = np.asarray(times) + length // 2
    rows["type"] = types
    rows["area"] = np.arange(len(times)) + 1
    return rows


def random_peaks(n=4000, seed=1):
    rng = np.random.default_rng(seed)
    times = np.sort(rng.integers(T0, T0 + 100 * SECOND, n))
    return peaks_at(times, rng.choice([0, S1, S2], n))


def test_isolation_looks_at_both_neighbours_and_long_earlier_peaks():
    rows = peaks_at([0, 1_000, 50_000, 200_000, 400_000], [S1] * 5)
    rows["endtime"][3] = 390_000        # a long peak reaching close to the last one
    assert isolated(rows, 20_000).tolist() == [False, False, True, False, False]
    assert isolated(rows[:0], 10).tolist() == []


def test_accidental_events_pair_isolated_s1s_and_s2s_deterministically():
    peaks = random_peaks()
    first = accidental_events(peaks, CONFIG, T0)
    assert len(first) > 10
    np.testing.assert_array_equal(first, accidental_events(peaks, CONFIG, T0))
    other = accidental_events(peaks, CONFIG | {"accidental_seed": 7}, T0)
    assert len(other) == len(first) and not np.array_equal(other, first)
    # drift time from the pairing: S2 centre minus the moved S1 centre, within the bounds
    np.testing.assert_array_equal(first["s2_center_time"] - first["s1_center_time"], first["drift_time"])
    assert first["drift_time"].min() >= CONFIG["accidental_min_drift_ns"]
    assert first["drift_time"].max() <= CONFIG["accidental_max_drift_ns"]
    assert np.all(np.diff(first["time"]) >= 0) and np.all(first["n_peaks"] == 2)
    lonely = peaks[isolated(peaks, CONFIG["accidental_isolation_ns"])]
    assert set(first["s2_area"]) <= set(lonely["area"][lonely["type"] == S2])
    assert set(first["s1_area"]) <= set(lonely["area"][lonely["type"] == S1])
    assert len(first) == min((lonely["type"] == S1).sum(), (lonely["type"] == S2).sum())


def test_accidental_events_before_the_superrun_are_dropped():
    peaks = random_peaks()
    everything = accidental_events(peaks, CONFIG, T0 - 10 * SECOND)
    cut = accidental_events(peaks, CONFIG, int(everything["time"][5]))
    np.testing.assert_array_equal(cut, everything[5:])


def test_rate_bins_are_aligned_and_clipped_to_live_segments():
    segments = (("a", 15, 42), ("b", 100, 120))
    starts, ends = rate_bins(segments, 0, 200, 10)
    assert list(zip(starts.tolist(), ends.tolist())) == [(15, 20), (20, 30), (30, 40), (40, 42),
                                                          (100, 110), (110, 120)]
    starts, ends = rate_bins(segments, 25, 105, 10)
    assert starts.tolist() == [25, 30, 40, 100] and ends.tolist() == [30, 40, 42, 105]


def test_peak_rates_count_per_bin_and_keep_empty_bins():
    plugin = PeakRates()
    peaks = peaks_at([5, 12, 13, 31], [S1, S2, S2, 0])
    span = SuperrunSpan("_x", 0, 40, (("1", 0, 40),))
    out = plugin.compute_chunk({"peak_basics": peaks}, {"rate_bin_ns": 10}, ChunkSpan("_x", 0, 40), span)
    assert out["n_s1"].tolist() == [1, 0, 0, 0] and out["n_s2"].tolist() == [0, 2, 0, 0]
    assert out["n_peaks"].tolist() == [1, 2, 0, 1]
    empty = plugin.compute({"peak_basics": peaks[:0]}, {"rate_bin_ns": 10}, ChunkSpan("1", 0, 30))
    assert len(empty) == 3 and not empty["n_peaks"].any()


def test_a_streaming_plugin_refuses_inputs_of_kinds_it_cannot_align():
    plugin = PeakRates()
    files = {"peak_basics": SimpleNamespace(metadata={"data_kind": "peaks"}),
             "events": SimpleNamespace(metadata={"data_kind": "events"})}
    with pytest.raises(SuperrunPluginError, match=r"PeakRates \(peak_rates\) streams over _sr.*exhaust"):
        check_alignable("_sr", plugin, files)
    check_alignable("_sr", AccidentalEvents(), files)       # an exhaust plugin loads them whole


def test_a_superrun_level_plugin_without_inputs_is_refused_when_declared():
    from superruns.model.plugins import PluginError
    from superruns.model.superrun_plugins import SuperrunPlugin

    with pytest.raises(PluginError, match=r"Orphan \(orphan\) is superrun-level but depends on nothing"):
        type("Orphan", (SuperrunPlugin,), {"provides": "orphan"})


@pytest.fixture
def workflow(tmp_path):
    flow = Workflow(tmp_path)
    runs = {"000001": run_entry(0, 30), "000002": run_entry(60, 30), "000003": run_entry(120, 30)}
    superruns = {"_ab": {"runs": ["000001", "000002"]}, "_all": {"runs": ["_ab", "000003"]}}
    per_run = {"default_per_run": [[0, 10_000], [3, 20_000]]}
    flow.write(runs, superruns, options={"accidental_isolation_ns": per_run})
    return flow


def test_per_run_default_options_need_one_value_over_the_subruns(workflow):
    project = workflow.project()
    assert superrun_level_types(project.registry) == ["accidental_events", "peak_rates"]
    assert leaf_runs(project, "_all") == ["000001", "000002", "000003"]
    assert uniform_options(project, "_ab", "accidental_events")["accidental_isolation_ns"] == 10_000
    assert project.lineage("_ab", "accidental_events")["accidental_events"][2]["accidental_isolation_ns"] == 10_000
    assert project.lineage_hash("_ab", "accidental_events") != project.lineage_hash("000003", "accidental_events")
    with pytest.raises(SuperrunPluginError) as refused:
        project.lineage_hash("_all", "accidental_events")
    message = str(refused.value)
    assert "AccidentalEvents" in message and "_all" in message and "'accidental_isolation_ns'" in message
    assert "000001, 000002: 10000" in message and "000003: 20000" in message and "Fix:" in message


def write_peak_basics(project, run_id, rows, path):
    plugin = project.registry["peak_basics"]
    metadata = output_metadata(project, run_id, "peak_basics", data_kind="peaks", chunk_target_size_mb=200)
    with DataWriter(path, plugin.dtype, metadata) as writer:
        writer.write_chunk(rows, project.runs[run_id].start, project.runs[run_id].end, run_id=run_id)


def test_an_exhaust_plugin_over_the_memory_cap_is_refused_before_any_work(tmp_path, workflow):
    runs = {"000001": run_entry(0, 30)}
    workflow.write(runs, {}, superrun_plugins={"max_memory_mb": 305})
    project = workflow.project()
    rows = random_peaks(600_000)
    rows = rows[(rows["time"] >= project.runs["000001"].start) & (rows["endtime"] <= project.runs["000001"].end)]
    write_peak_basics(project, "000001", rows, tmp_path / "pb")
    output = tmp_path / "out"
    with pytest.raises(SuperrunPluginError, match=r"AccidentalEvents \(accidental_events\) over 000001 would "
                                                  r"need about \d+ MB.*max_memory_mb = 305.*Nothing was computed"):
        process_superrun_level(project, "000001", "accidental_events", {"peak_basics": tmp_path / "pb"}, output)
    assert not output.exists()
    workflow.write(runs, {}, superrun_plugins={"max_memory_mb": 400})
    project = workflow.project()
    process_superrun_level(project, "000001", "accidental_events", {"peak_basics": tmp_path / "pb"}, output)
    assert 300 < DataFile(output).metadata["superrun_level"]["memory_estimate_mb"] < 400
