"""The simulated detector (superruns.detector): kernels, raw_records and the processing chain."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from superruns.detector import PLUGINS
from superruns.detector.common import N_CHANNELS, PMT_GAINS_PER_RUN, RECORD_SAMPLES, SAMPLE_DT
from superruns.detector.events import main_peaks
from superruns.detector.kernels import area_quantile_times, cluster
from superruns.detector.peaks import PEAKS_DTYPE, PeakBasics
from superruns.detector.simulation import RAW_RECORDS_DTYPE, chunk_bounds, simulate_chunk
from superruns.model.plugins import ChunkSpan, Registry

T0 = 1_546_300_800_000_000_003      # deliberately not a multiple of the sample width
SECOND = 1_000_000_000
PLUGIN = {p.provides: p() for p in PLUGINS}


def make_run(run_id="3", duration_s=90.0, mode="background", source="none", start=T0):
    return types.SimpleNamespace(run_id=run_id, start=start, end=start + int(duration_s * SECOND),
                                 mode=mode, source=source)


def config_for(data_type, run_id="3", **overrides):
    """The plugin's options for a run: defaults, per-run defaults resolved, then overrides."""
    config = {}
    for option in PLUGIN[data_type].options:
        value = option.default
        for first_run, run_value in option.default_per_run or ():
            if int(first_run) <= int(run_id):
                value = run_value
        config[option.name] = value
    config.update((k, v) for k, v in overrides.items() if k in config)
    return config


def run_chain(run, **overrides):
    """Every data type of ``run``, chunk by chunk, checking each chunk's rows as it goes."""
    out = {name: [] for name in PLUGIN}
    spans = []
    source = PLUGIN["raw_records"]
    for span, raw in source.generate(run, config_for("raw_records", run.run_id, **overrides)):
        spans.append(span)
        chunk = {"raw_records": raw}
        for name, plugin in PLUGIN.items():
            if name != "raw_records":
                inputs = {d: chunk[d] for d in plugin.depends_on}
                chunk[name] = plugin.compute(inputs, config_for(name, run.run_id, **overrides), span)
        for name, rows in chunk.items():
            assert rows.dtype == PLUGIN[name].dtype, name
            assert_within(rows, span, name)
            out[name].append(rows)
    return {name: np.concatenate(parts) for name, parts in out.items()}, spans


def endtime(rows):
    if "endtime" in rows.dtype.names:
        return rows["endtime"]
    return rows["time"] + rows["length"].astype(np.int64) * rows["dt"]


def assert_within(rows, span, name=""):
    assert np.all(np.diff(rows["time"]) >= 0), f"{name}: not sorted by time"
    assert np.all(rows["time"] >= span.start), f"{name}: row before its chunk"
    assert np.all(endtime(rows) <= span.end), f"{name}: row after its chunk"
    assert np.all(endtime(rows) >= rows["time"]), f"{name}: negative duration"


def raw_records(rows):
    """raw_records from ``(time, channel, samples)``."""
    rec = np.zeros(len(rows), dtype=RAW_RECORDS_DTYPE)
    for r, (time, channel, samples) in zip(rec, rows):
        r["time"], r["channel"], r["dt"] = time, channel, SAMPLE_DT
        r["length"] = r["pulse_length"] = len(samples)
        r["data"][:len(samples)] = samples
    return rec


@pytest.fixture(scope="module")
def chain():
    run = make_run("3", 90)
    data, spans = run_chain(run)
    config = config_for("raw_records", "3")
    truth = np.concatenate([simulate_chunk(run, i, span.start, span.end, config)[1]
                            for i, span in enumerate(spans)])
    return types.SimpleNamespace(run=run, data=data, spans=spans, truth=truth)


# ---------------------------------------------------------------------------- declarations

def test_registry_and_declarations():
    registry = Registry.from_modules(["superruns.detector"])
    assert list(registry) == ["raw_records", "peaks", "peak_basics", "events", "event_basics",
                              "event_positions", "event_info", "accidental_events", "peak_rates"]
    kinds = {name: registry[name].data_kind for name in registry}
    assert kinds == {"raw_records": "raw_records", "peaks": "peaks", "peak_basics": "peaks",
                     "events": "events", "event_basics": "events", "event_positions": "events",
                     "event_info": "events", "accidental_events": "accidental_events",
                     "peak_rates": "peak_rates"}
    names = [o.name for p in registry.plugins.values() for o in p.options]
    assert len(names) == len(set(names)), "option names are one namespace: no accidental sharing"
    for plugin in registry.plugins.values():
        fields = plugin.dtype.names
        assert "time" in fields and ("endtime" in fields or {"length", "dt"} <= set(fields))
        assert plugin.version == "0.1.0"
        for option in plugin.options:   # lineage values: plain JSON, unchanged by a round trip
            value = option.default if option.default_per_run is None else option.default_per_run
            assert json.loads(json.dumps(value)) == value, option.name
    per_run = {o.name for p in registry.plugins.values() for o in p.options if o.default_per_run}
    assert per_run == {"sim_pmt_gains", "pmt_gains"}


def test_event_info_dtype_is_the_union():
    info = PLUGIN["event_info"].dtype
    basics, positions = PLUGIN["event_basics"].dtype, PLUGIN["event_positions"].dtype
    assert info.names == basics.names + tuple(n for n in positions.names if n not in basics.names)
    assert info.names.count("time") == 1 and info.names.count("endtime") == 1


# peak_rates keeps empty bins (a rate of zero is data): tests/unit/test_superrun_plugins.py.
@pytest.mark.parametrize("data_type", [name for name in PLUGIN if name not in ("raw_records", "peak_rates")])
def test_empty_inputs_give_empty_output(data_type):
    plugin = PLUGIN[data_type]
    inputs = {d: np.zeros(0, dtype=PLUGIN[d].dtype) for d in plugin.depends_on}
    result = plugin.compute(inputs, config_for(data_type), ChunkSpan("3", 0, 10 * SECOND))
    assert result.dtype == plugin.dtype and len(result) == 0


# ---------------------------------------------------------------------------- kernels

def test_cluster_splits_on_gaps_above_threshold():
    time = np.array([0, 100, 150, 700, 2000], dtype=np.int64)
    end = np.array([200, 600, 160, 800, 2100], dtype=np.int64)
    # 700 starts 100 ns after the reach (600) of all earlier intervals
    assert cluster(time, end, 100).tolist() == [0, 0, 0, 0, 1]
    assert cluster(time, end, 99).tolist() == [0, 0, 0, 1, 2]
    assert len(cluster(time[:0], end[:0], 100)) == 0


def test_two_channels_within_the_gap_form_one_peak_with_the_summed_area():
    gains = [100.0] * N_CHANNELS
    rec = raw_records([(1000, 0, [100, 200, 100]), (1040, 5, [50, 50, 50, 50])])
    config = config_for("peaks", pmt_gains=gains)
    peaks = PLUGIN["peaks"].compute({"raw_records": rec}, config, ChunkSpan("3", 0, 10_000))
    assert len(peaks) == 1
    p = peaks[0]
    assert p["time"] == 1000 and p["dt"] == SAMPLE_DT and p["length"] == 8
    assert p["area"] == pytest.approx(6.0)
    assert p["area_per_channel"].tolist() == pytest.approx([4, 0, 0, 0, 0, 2, 0, 0])
    assert p["n_channels"] == 2 and p["n_hits"] == 2
    assert p["data"][:8].tolist() == pytest.approx([1, 2, 1, 0, .5, .5, .5, .5])
    assert p["data"][:8].sum() == pytest.approx(p["area"])


def test_a_gap_above_the_threshold_splits_and_lone_channels_are_dropped():
    rec = raw_records([(1000, 0, [100] * 3), (1010, 1, [100] * 3),
                       (1000 + 30 + 600, 2, [100] * 3), (1000 + 30 + 600, 3, [100] * 3),
                       (5000, 4, [100] * 3)])
    span = ChunkSpan("3", 0, 10_000)
    config = config_for("peaks", pmt_gains=[100.0] * N_CHANNELS, peak_gap_threshold_ns=500)
    peaks = PLUGIN["peaks"].compute({"raw_records": rec}, config, span)
    assert peaks["time"].tolist() == [1000, 1630]          # the single-channel one is dropped
    assert peaks["area"].tolist() == pytest.approx([6, 6])
    config["peak_gap_threshold_ns"] = 700
    assert len(PLUGIN["peaks"].compute({"raw_records": rec}, config, span)) == 1
    config["peak_min_channels"] = 1
    assert len(PLUGIN["peaks"].compute({"raw_records": rec}, config, span)) == 2


def test_long_peaks_are_downsampled():
    samples = [10] * RECORD_SAMPLES
    rec = raw_records([(0, c, samples) for c in (0, 1)]
                      + [(RECORD_SAMPLES * SAMPLE_DT * i, 0, samples) for i in range(1, 4)])
    rec = rec[np.argsort(rec["time"], kind="stable")]
    config = config_for("peaks", pmt_gains=[10.0] * N_CHANNELS)
    (p,) = PLUGIN["peaks"].compute({"raw_records": rec}, config, ChunkSpan("3", 0, 10 ** 6))
    assert p["dt"] == 3 * SAMPLE_DT and p["length"] == 147      # 440 samples -> 147 bins of 3
    assert p["area"] == pytest.approx(5 * RECORD_SAMPLES)
    assert p["data"].sum() == pytest.approx(p["area"])


def test_area_quantile_times_of_a_flat_waveform():
    data = np.zeros((1, 200), dtype=np.float32)
    data[0, :100] = 1
    q25, q50, q75 = area_quantile_times(data, np.array([10.0]), (0.25, 0.5, 0.75))[0]
    assert (q25, q50, q75) == pytest.approx((250, 500, 750))


def synthetic_peak(values, dt):
    peak = np.zeros(1, dtype=PEAKS_DTYPE)
    peak["dt"], peak["length"] = dt, len(values)
    peak["data"][0, :len(values)] = values
    peak["area_per_channel"][0, 0] = peak["area"] = np.sum(values)
    return peak


@pytest.mark.parametrize("values, dt, expected", [
    (np.exp(-np.arange(20) * 10 / 25.0), 10, 1),                      # S1: 25 ns decay
    (np.exp(-0.5 * ((np.arange(200) - 100) * 20 / 400.0) ** 2), 20, 2),  # S2: sigma 400 ns
    (np.exp(-0.5 * ((np.arange(200) - 100) * 20 / 400.0) ** 2) * 1e-3, 20, 0),  # too small
    (np.ones(10), 10, 1),                                              # 100 ns flat
])
def test_s1_s2_classification(values, dt, expected):
    result = PLUGIN["peak_basics"].compute({"peaks": synthetic_peak(values, dt)}, config_for("peak_basics"),
                                           ChunkSpan("3", 0, 10 ** 6))
    assert result["type"].tolist() == [expected]


def test_main_peaks_of_events():
    pb = np.zeros(5, dtype=PeakBasics.dtype)
    pb["time"] = [100, 200, 300, 400, 900]
    pb["endtime"] = pb["time"] + 50
    pb["type"] = [1, 1, 2, 1, 2]
    pb["area"] = [5, 3, 100, 50, 200]            # the 50 PE S1 comes after the main S2
    events = np.zeros(2, dtype=PLUGIN["events"].dtype)
    events["time"], events["endtime"] = [50, 880], [500, 940]
    n_peaks, s1, s2 = main_peaks(events, pb)
    assert n_peaks.tolist() == [4, 0] and s1.tolist() == [0, -1] and s2.tolist() == [2, -1]


# ---------------------------------------------------------------------------- raw_records

def generate(run, **overrides):
    return list(PLUGIN["raw_records"].generate(run, config_for("raw_records", run.run_id, **overrides)))


def test_raw_records_are_deterministic_per_run():
    a, b = generate(make_run("3", 20)), generate(make_run("3", 20))
    assert [s for s, _ in a] == [s for s, _ in b]
    assert all(x.tobytes() == y.tobytes() for (_, x), (_, y) in zip(a, b))
    other = generate(make_run("4", 20))
    assert other[0][1].tobytes() != a[0][1].tobytes()
    seeded = generate(make_run("3", 20), sim_seed=1, sim_noise_adc=2.5)
    assert seeded[0][1].tobytes() != a[0][1].tobytes()
    # A non-numeric id (which can't take per-run defaults: run 3's options here) hashes its name.
    named = list(PLUGIN["raw_records"].generate(make_run("calibration_a", 20), config_for("raw_records", "3")))
    assert len(named[0][1]) and named[0][1].tobytes() != a[0][1].tobytes()


def test_chunks_cover_the_run_exactly_and_hold_their_rows():
    run = make_run("5", 130.5, mode="kr83m", source="kr83m")
    chunks = generate(run, chunk_duration_s=60)
    spans = [s for s, _ in chunks]
    assert [(s.start - run.start, s.end - run.start) for s in spans] == [
        (0, 60 * SECOND), (60 * SECOND, 120 * SECOND), (120 * SECOND, 130_500_000_000)]
    assert all(s.run_id == "5" for s in spans)
    for span, rows in chunks:
        assert rows.dtype == RAW_RECORDS_DTYPE and len(rows)
        assert_within(rows, span, "raw_records")
        assert np.all((rows["length"] > 0) & (rows["length"] <= RECORD_SAMPLES))
        assert np.all(rows["length"] == np.minimum(RECORD_SAMPLES,
                                                   rows["pulse_length"] - rows["record_i"] * RECORD_SAMPLES))
        padding = np.arange(RECORD_SAMPLES) >= rows["length"][:, None]
        assert not np.any(rows["data"][padding]), "zero padding after each record's samples"


def test_kr83m_runs_have_more_interactions():
    # Kr83m runs add 10 Hz of 41.5 keV interactions to the 10 Hz background.
    config = config_for("raw_records", "5")
    start, end = T0, T0 + 60 * SECOND
    background = simulate_chunk(make_run("5", 60), 0, start, end, config)[1]
    kr = simulate_chunk(make_run("5", 60, mode="kr83m", source="kr83m"), 0, start, end, config)[1]
    assert 500 < len(background) < 700 and 1100 < len(kr) < 1300
    assert 500 < kr["kr83m"].sum() < 700 and not background["kr83m"].any()
    assert np.all(kr["energy"][kr["kr83m"]] == np.float32(41.5))


def test_chunk_bounds():
    assert chunk_bounds(0, 10 * SECOND, 3) == [(0, 3 * SECOND), (3 * SECOND, 6 * SECOND),
                                               (6 * SECOND, 9 * SECOND), (9 * SECOND, 10 * SECOND)]
    assert chunk_bounds(5, 5, 60) == []


# ---------------------------------------------------------------------------- the full chain

def test_chain_finds_one_event_per_interaction(chain):
    # Every simulated S2 (>= ~300 PE at 1 keV) is far above the 100 PE trigger and nothing
    # else makes an S2, so events are lost only by pile-up: two interactions within one
    # event window (~0.26 ms) merge, an expected fraction of ~10 Hz * 2 * 0.26 ms = 0.5%.
    # At most 2% lost (4 sigma above that for ~900 interactions); never more events than truth.
    n_truth, n_events = len(chain.truth), len(chain.data["events"])
    assert 700 < n_truth < 1100
    assert 0.98 * n_truth <= n_events <= n_truth


def matched(chain):
    """Events holding exactly one simulated interaction, with that interaction's truth."""
    events, truth = chain.data["event_info"], chain.truth
    i = np.searchsorted(events["time"], truth["s2_center_time"], side="right") - 1
    inside = (i >= 0) & (truth["s2_center_time"] < events["endtime"][np.maximum(i, 0)])
    counts = np.bincount(i[inside], minlength=len(events))
    single = inside & (counts[np.maximum(i, 0)] == 1)
    return events[i[single]], truth[single]


def test_chain_reconstructs_drift_time_and_z(chain):
    events, truth = matched(chain)
    assert len(events) > 0.97 * len(chain.truth)
    has_s1 = events["drift_time"] >= 0
    assert has_s1.mean() > 0.97          # S1s are lost only below ~2 PE or merged into the S2
    events, truth = events[has_s1], truth[has_s1]
    # Reconstructed: S2 minus S1 centre time; the S1 centre lags the interaction by its decay
    # time (25 ns), so expect truth - 25 ns, to a sample or two.
    tau = config_for("raw_records")["sim_s1_tau_ns"]
    delta = events["drift_time"] - (truth["drift_time"] - tau)
    assert np.mean(np.abs(delta) < 2 * SAMPLE_DT) > 0.98
    # z = -drift time x drift velocity (0.15 cm/us): 20 ns is 0.003 cm
    assert np.mean(np.abs(events["z"] - truth["z"]) < 0.01) > 0.98
    assert np.all(events["z"] <= 0)


def test_chain_areas_and_positions_follow_the_truth(chain):
    events, truth = matched(chain)
    ratio = events["s2_area"] / truth["s2_pe"]
    assert np.median(ratio) == pytest.approx(1, abs=0.01)
    assert np.corrcoef(events["x"], truth["x"])[0, 1] > 0.85
    assert np.corrcoef(events["y"], truth["y"])[0, 1] > 0.85
    assert np.median(events["s2_area_fraction_top"]) == pytest.approx(0.7, abs=0.02)


def test_event_info_is_event_basics_and_event_positions(chain):
    info, basics, positions = (chain.data[n] for n in ("event_info", "event_basics", "event_positions"))
    assert len(info) == len(basics) == len(positions) == len(chain.data["events"])
    for source in (basics, positions):
        for name in source.dtype.names:
            np.testing.assert_array_equal(info[name], source[name], err_msg=name)
    np.testing.assert_array_equal(info["time"], chain.data["events"]["time"])


def test_per_run_gains_scale_the_areas(chain):
    raw = chain.data["raw_records"]
    span = ChunkSpan("3", chain.run.start, chain.run.end)
    (_, before), (_, after) = PMT_GAINS_PER_RUN
    a = PLUGIN["peaks"].compute({"raw_records": raw}, config_for("peaks", pmt_gains=before), span)
    b = PLUGIN["peaks"].compute({"raw_records": raw}, config_for("peaks", pmt_gains=after), span)
    assert len(a) == len(b) and np.array_equal(a["time"], b["time"])
    np.testing.assert_allclose(b["area_per_channel"],
                               a["area_per_channel"] * np.divide(before, after), rtol=1e-5, atol=1e-4)
    assert config_for("peaks", "6")["pmt_gains"] == before
    assert config_for("peaks", "7")["pmt_gains"] == after


def test_simulation_and_reconstruction_gains_agree_after_the_change():
    # Run 8 is simulated and calibrated with the second set of gains: areas stay in PE.
    run = make_run("8", 20)
    data, spans = run_chain(run, chunk_duration_s=10)
    config = config_for("raw_records", "8", chunk_duration_s=10)
    truth = np.concatenate([simulate_chunk(run, i, s.start, s.end, config)[1] for i, s in enumerate(spans)])
    s2 = data["peak_basics"][data["peak_basics"]["type"] == 2]
    assert len(s2) == len(truth)
    assert s2["area"].sum() / truth["s2_pe"].sum() == pytest.approx(1, abs=0.005)


def test_a_short_dark_last_chunk_flows_through_the_chain():
    # 0.5 ms after the last full chunk: shorter than the quiet margins, so no interactions
    # (and with these options no dark counts either): empty rows of every data type.
    run = make_run("3", 10.0005)
    data, spans = run_chain(run, chunk_duration_s=10, sim_dark_rate_hz=0.0)
    assert [s.end - s.start for s in spans] == [10 * SECOND, 500_000]
    assert len(data["events"]) > 50
    last = [rows for rows in PLUGIN["raw_records"].generate(
        run, config_for("raw_records", "3", chunk_duration_s=10, sim_dark_rate_hz=0.0))][-1][1]
    assert len(last) == 0
