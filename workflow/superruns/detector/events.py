"""``events`` (a window around each large S2) and their properties: ``event_basics``
(main S1 and S2), ``event_positions`` (x, y from the S2 light pattern, z from the drift
time) and ``event_info`` (both merged column-wise)."""

from __future__ import annotations

import numpy as np

from ..model.plugins import Option
from .common import DRIFT_VELOCITY, ENDTIME, N_TOP_CHANNELS, TIME, TOP_PMT_POSITIONS, DetectorPlugin, kernels
from .peaks import S2

EVENTS_DTYPE = np.dtype([
    TIME, ENDTIME,
    (("Number of peaks fully inside the event", "n_peaks"), "<i4"),
])


# The peak_basics fields an event copies from its main S1 and main S2: name, type, title.
MAIN_PEAK_FIELDS = (
    ("area", "<f4", "Area of the main {kind} [PE]"),
    ("time", "<i8", "Start time of the main {kind} since unix epoch [ns]"),
    ("center_time", "<i8", "Area-weighted mean time of the main {kind} since unix epoch [ns]"),
    ("range_50p_area", "<f4", "Width (central 50% of the area) of the main {kind} [ns]"),
    ("rise_time", "<f4", "Rise time of the main {kind} [ns]"),
    ("area_fraction_top", "<f4", "Area fraction top of the main {kind}"),
    ("n_channels", "<i2", "Number of channels seeing the main {kind}"),
)


def _peak_fields(prefix: str, kind: str) -> list:
    return [((title.format(kind=kind), f"{prefix}_{name}"), type_)
            for name, type_, title in MAIN_PEAK_FIELDS]


EVENT_BASICS_DTYPE = np.dtype(
    [TIME, ENDTIME, (("Number of peaks fully inside the event", "n_peaks"), "<i4")]
    + _peak_fields("s1", "S1") + _peak_fields("s2", "S2")
    + [(("S2 minus S1 center time [ns] (-1 without an S1 or S2)", "drift_time"), "<i8")])

# Every coordinate is a float32 in cm.
POSITION_TITLES = {"x": "Reconstructed x [cm]", "y": "Reconstructed y [cm]", "r": "Reconstructed radius [cm]",
                   "z": "Depth below the gate from the drift time [cm] (negative)"}
EVENT_POSITIONS_DTYPE = np.dtype([TIME, ENDTIME] + [((title, name), "<f4") for name, title in POSITION_TITLES.items()])

# Field defaults where an event has no main S1 or S2 (as straxen: NaN / -1).
_MISSING = {"f": np.nan, "i": -1}


def main_peaks(events: np.ndarray, peak_basics: np.ndarray):
    """``(n_peaks, s1_index, s2_index)`` of each event, indices into ``peak_basics``."""
    pb = peak_basics
    p_time = np.ascontiguousarray(pb["time"], dtype=np.int64)
    first = np.searchsorted(p_time, events["time"], side="left").astype(np.int64)
    stop = np.searchsorted(p_time, events["endtime"], side="left").astype(np.int64)
    return kernels().event_peaks(first, stop, np.ascontiguousarray(events["endtime"], dtype=np.int64),
                                 p_time, np.ascontiguousarray(pb["endtime"], dtype=np.int64),
                                 np.ascontiguousarray(pb["type"], dtype=np.int64),
                                 np.ascontiguousarray(pb["area"], dtype=np.float64))


def drift_times(peak_basics, s1, s2) -> np.ndarray:
    ok = (s1 >= 0) & (s2 >= 0)
    center = peak_basics["center_time"]
    return np.where(ok, center[np.maximum(s2, 0)] - center[np.maximum(s1, 0)], -1)


class Events(DetectorPlugin):
    """One event per S2 above the trigger threshold, from the maximum drift time before it
    to a little after it; overlapping windows merge into one event."""

    provides = "events"
    depends_on = ("peak_basics",)
    dtype = EVENTS_DTYPE
    options = (
        Option("trigger_min_area", 100.0, help="S2s with at least this area trigger an event [PE]", minimum=0),
        Option("event_left_extension_ns", 250_000,
               help="Event window starts this long before the triggering S2 [ns]", minimum=0),
        Option("event_right_extension_ns", 10_000,
               help="Event window ends this long after the triggering S2 ends [ns]", minimum=0),
    )

    def compute(self, inputs, config, span):
        pb = inputs["peak_basics"]
        trigger = pb[(pb["type"] == S2) & (pb["area"] >= config["trigger_min_area"])]
        if len(trigger) == 0:
            return np.zeros(0, dtype=self.dtype)
        start = np.maximum(trigger["time"] - int(config["event_left_extension_ns"]), span.start)
        end = np.minimum(trigger["endtime"] + int(config["event_right_extension_ns"]), span.end)
        group = kernels().cluster(start, end, -1)             # merge overlapping windows
        n = group[-1] + 1
        out = np.zeros(n, dtype=self.dtype)
        out["time"] = start[np.searchsorted(group, np.arange(n))]
        out["endtime"] = np.maximum.reduceat(end, np.searchsorted(group, np.arange(n)))
        out["n_peaks"] = main_peaks(out, pb)[0]
        return out


class EventBasics(DetectorPlugin):
    """The main S1 and S2 of each event and the drift time between them."""

    provides = "event_basics"
    depends_on = ("events", "peak_basics")
    data_kind = "events"
    dtype = EVENT_BASICS_DTYPE
    options = ()

    def compute(self, inputs, config, span):
        events, pb = inputs["events"], inputs["peak_basics"]
        out = np.zeros(len(events), dtype=self.dtype)
        if len(events) == 0:
            return out
        n_peaks, s1, s2 = main_peaks(events, pb)
        out["time"], out["endtime"], out["n_peaks"] = events["time"], events["endtime"], n_peaks
        for prefix, index in (("s1", s1), ("s2", s2)):
            found = index >= 0
            for field, _, _ in MAIN_PEAK_FIELDS:
                name = f"{prefix}_{field}"
                out[name] = _MISSING[out.dtype[name].kind]
                out[name][found] = pb[field][index[found]]
        out["drift_time"] = drift_times(pb, s1, s2)
        return out


class EventPositions(DetectorPlugin):
    """x, y: centre of gravity of the main S2's light on the top PMTs, scaled; z: drift time
    times drift velocity (NaN without an S1)."""

    provides = "event_positions"
    depends_on = ("events", "peak_basics", "peaks")
    data_kind = "events"
    dtype = EVENT_POSITIONS_DTYPE
    options = (
        Option("drift_velocity", DRIFT_VELOCITY, help="Electron drift velocity [cm/us]", exclusive_minimum=0),
        Option("top_pmt_positions", TOP_PMT_POSITIONS, help="(x, y) of PMTs 0-3 [cm]"),
        Option("position_scale", 1.9, help="Centre of gravity to position scale factor", exclusive_minimum=0),
    )

    def compute(self, inputs, config, span):
        events, pb, peaks = inputs["events"], inputs["peak_basics"], inputs["peaks"]
        out = np.zeros(len(events), dtype=self.dtype)
        if len(events) == 0:
            return out
        _, s1, s2 = main_peaks(events, pb)
        out["time"], out["endtime"] = events["time"], events["endtime"]
        xy = np.asarray(config["top_pmt_positions"], dtype=np.float64)
        top = peaks["area_per_channel"][np.maximum(s2, 0), :N_TOP_CHANNELS].astype(np.float64)
        total = top.sum(axis=1)
        ok = (s2 >= 0) & (total > 0)
        cog = top @ xy / np.where(ok, total, 1)[:, None] * config["position_scale"]
        out["x"] = np.where(ok, cog[:, 0], np.nan)
        out["y"] = np.where(ok, cog[:, 1], np.nan)
        out["r"] = np.hypot(out["x"], out["y"])
        drift = drift_times(pb, s1, s2)
        out["z"] = np.where(drift >= 0, -drift / 1000 * config["drift_velocity"], np.nan)
        return out


class EventInfo(DetectorPlugin):
    """``event_basics`` and ``event_positions`` in one row (as strax's MergeOnlyPlugin)."""

    provides = "event_info"
    depends_on = ("event_basics", "event_positions")
    data_kind = "events"
    dtype = np.dtype(EVENT_BASICS_DTYPE.descr
                     + [d for d in EVENT_POSITIONS_DTYPE.descr if d[0][1] not in ("time", "endtime")])
    options = ()

    def compute(self, inputs, config, span):
        out = np.zeros(len(inputs["event_basics"]), dtype=self.dtype)
        for data_type in self.depends_on:
            rows = inputs[data_type]
            for name in rows.dtype.names:
                out[name] = rows[name]
        return out
