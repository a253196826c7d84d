"""Superrun-level demo plugins: accidental coincidences and peak rates over a whole superrun.

``accidental_events`` (exhaust) models the accidental-coincidence background the way
XENONnT/axidence does: isolated S1s and S2s (no other peak within
``accidental_isolation_ns``) of every subrun of a superrun are paired by a seeded shuffle
into synthetic events with the fields of ``event_basics``. Each pair is given a drift time
drawn (same generator) uniformly in ``[accidental_min_drift_ns, accidental_max_drift_ns]``:
the S1 is moved so that S2 centre time minus S1 centre time is that drift time, and the
event sits at the S2. Events that would start before the superrun are dropped.

``peak_rates`` (streaming) counts S1s, S2s and all peaks in time bins of ``rate_bin_ns``
(aligned to multiples of it since the epoch, clipped to the live segments of the superrun)
for data-quality plots; empty bins are kept (a rate of zero is data too).

:func:`accidental_events` is the whole algorithm on plain arrays: the strax parity test runs
it inside a strax ``ExhaustPlugin`` too.
"""

from __future__ import annotations

import numpy as np

from ..model.options import Option
from ..model.superrun_plugins import SuperrunPlugin
from .common import ENDTIME, TIME, DetectorPlugin
from .events import EVENT_BASICS_DTYPE, MAIN_PEAK_FIELDS
from .peaks import S1, S2

PEAK_RATES_DTYPE = np.dtype([
    TIME, ENDTIME,
    (("Number of S1s starting in the bin", "n_s1"), "<i4"),
    (("Number of S2s starting in the bin", "n_s2"), "<i4"),
    (("Number of peaks (any type) starting in the bin", "n_peaks"), "<i4"),
])

ACCIDENTAL_OPTIONS = (
    Option("accidental_isolation_ns", 100_000, help="An isolated peak has no other peak this close [ns]", minimum=0),
    Option("accidental_seed", 20190103, help="Seed of the pairing shuffle and the drift times"),
    Option("accidental_min_drift_ns", 2_000, help="Smallest drift time given to a pair [ns]", minimum=0),
    Option("accidental_max_drift_ns", 200_000, help="Largest drift time given to a pair [ns]", minimum=0),
)


def isolated(peaks: np.ndarray, window: int) -> np.ndarray:
    """Mask of peaks (sorted by time) with no other peak within ``window`` ns of them."""
    n = len(peaks)
    lonely = np.ones(n, dtype=bool)
    if n < 2:
        return lonely
    time, endtime = peaks["time"], peaks["endtime"]
    reach = np.maximum.accumulate(endtime)          # the latest end of this and earlier peaks
    lonely[1:] = time[1:] - reach[:-1] >= window
    del reach
    lonely[:-1] &= time[1:] - endtime[:-1] >= window
    return lonely


def accidental_events(peaks: np.ndarray, config: dict, start: int) -> np.ndarray:
    """Synthetic events (``event_basics`` fields) from the isolated S1s and S2s of
    ``peaks`` (one superrun's peak_basics, sorted by time); events before ``start`` dropped.

    Rows are picked by index and copied once, field by field, into the output in its final
    order (the peak memory is the input plus a few index arrays and the output)."""
    lonely = isolated(peaks, int(config["accidental_isolation_ns"]))
    s1s = np.flatnonzero(lonely & (peaks["type"] == S1))
    s2s = np.flatnonzero(lonely & (peaks["type"] == S2))
    del lonely
    n = min(len(s1s), len(s2s))
    rng = np.random.default_rng(int(config["accidental_seed"]))
    s1 = s1s[rng.permutation(len(s1s))[:n]]
    s2 = s2s[np.sort(rng.permutation(len(s2s))[:n])]
    drift = rng.integers(int(config["accidental_min_drift_ns"]), int(config["accidental_max_drift_ns"]),
                         size=n, endpoint=True, dtype=np.int64)
    shift = peaks["center_time"][s2] - drift - peaks["center_time"][s1]
    time = peaks["time"][s1] + shift
    keep = np.flatnonzero(time >= start)
    order = keep[np.argsort(time[keep], kind="stable")]
    s1, s2, shift, drift = s1[order], s2[order], shift[order], drift[order]
    out = np.zeros(len(order), dtype=EVENT_BASICS_DTYPE)
    for prefix, rows in (("s1", s1), ("s2", s2)):
        for field, _, _ in MAIN_PEAK_FIELDS:
            out[f"{prefix}_{field}"] = peaks[field][rows]
    out["s1_time"] += shift
    out["s1_center_time"] += shift
    out["time"] = out["s1_time"]
    out["endtime"] = np.maximum(peaks["endtime"][s1] + shift, peaks["endtime"][s2])
    out["n_peaks"] = 2
    out["drift_time"] = drift
    return out


def rate_bins(segments, start: int, end: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """``(bin starts, bin ends)`` of ``width``-ns bins aligned to multiples of ``width``,
    clipped to the parts of ``segments`` inside ``[start, end)``."""
    starts, ends = [], []
    for _, seg_start, seg_end in segments:
        lo, hi = max(seg_start, start), min(seg_end, end)
        if lo >= hi:
            continue
        edges = np.arange(lo // width * width, hi, width, dtype=np.int64)
        starts.append(np.maximum(edges, lo))
        ends.append(np.minimum(edges + width, hi))
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts), np.concatenate(ends)


class AccidentalEvents(SuperrunPlugin, DetectorPlugin):
    """Accidental-coincidence events from isolated S1s and S2s paired across the superrun."""

    provides = "accidental_events"
    depends_on = ("peak_basics",)
    dtype = EVENT_BASICS_DTYPE
    options = ACCIDENTAL_OPTIONS
    exhaust = True
    # Measured (benchmarks/superrun_plugins.md): peak RSS 2.3 GB over 1.0 GB of peak_basics
    # rows (the rows, the isolation arrays, the output): 2.2 x the input plus the overhead
    # keeps a margin.
    memory_per_input_byte = 2.2

    def compute_superrun(self, inputs, config, span):
        return accidental_events(inputs["peak_basics"], config, span.start)


class PeakRates(SuperrunPlugin, DetectorPlugin):
    """S1, S2 and peak counts in time bins over the superrun's live time (streaming)."""

    provides = "peak_rates"
    depends_on = ("peak_basics",)
    dtype = PEAK_RATES_DTYPE
    options = (Option("rate_bin_ns", 10_000_000_000, help="Width of a rate bin [ns]", exclusive_minimum=0),)
    memory_per_input_byte = 2.0

    def compute_chunk(self, inputs, config, chunk, span):
        peaks = inputs["peak_basics"]
        starts, ends = rate_bins(span.segments, chunk.start, chunk.end, int(config["rate_bin_ns"]))
        out = np.zeros(len(starts), dtype=self.dtype)
        out["time"], out["endtime"] = starts, ends
        for field, mask in (("n_s1", peaks["type"] == S1), ("n_s2", peaks["type"] == S2),
                            ("n_peaks", np.ones(len(peaks), dtype=bool))):
            times = peaks["time"][mask]
            out[field] = np.searchsorted(times, ends) - np.searchsorted(times, starts)
        return out
