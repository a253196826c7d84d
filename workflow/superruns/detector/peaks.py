"""``peaks`` (records clustered across channels) and ``peak_basics`` (their properties)."""

from __future__ import annotations

import numpy as np

from ..model.plugins import Option
from .common import (
    DT,
    ENDTIME,
    LENGTH,
    N_CHANNELS,
    N_TOP_CHANNELS,
    PEAK_SAMPLES,
    PMT_GAINS_PER_RUN,
    TIME,
    DetectorPlugin,
    empty,
    kernels,
)

UNKNOWN, S1, S2 = 0, 1, 2

PEAKS_DTYPE = np.dtype([
    TIME, LENGTH, DT,
    (("Classification of the peak (0 unknown, 1 S1, 2 S2)", "type"), "i1"),
    (("Integral across channels [PE]", "area"), "<f4"),
    (("Integral per channel [PE]", "area_per_channel"), "<f4", (N_CHANNELS,)),
    (("Number of records (hits) in the peak", "n_hits"), "<i4"),
    (("Number of channels contributing", "n_channels"), "<i2"),
    (("Summed waveform [PE per sample]", "data"), "<f4", (PEAK_SAMPLES,)),
])

PEAK_BASICS_DTYPE = np.dtype([
    TIME, ENDTIME,
    (("Area-weighted mean time since unix epoch [ns]", "center_time"), "<i8"),
    (("Peak integral [PE]", "area"), "<f4"),
    (("Fraction of the area seen by the top PMT array", "area_fraction_top"), "<f4"),
    (("Width (central 50% of the area) [ns]", "range_50p_area"), "<f4"),
    (("Time from 10% to 50% of the area [ns]", "rise_time"), "<f4"),
    (("Number of channels contributing", "n_channels"), "<i2"),
    (("Number of records (hits) in the peak", "n_hits"), "<i4"),
    (("Classification of the peak (0 unknown, 1 S1, 2 S2)", "type"), "i1"),
])


def _i8(a):
    return np.ascontiguousarray(a, dtype=np.int64)


class Peaks(DetectorPlugin):
    """Records of all channels clustered by time gaps, summed into one waveform in PE."""

    provides = "peaks"
    depends_on = ("raw_records",)
    dtype = PEAKS_DTYPE
    options = (
        Option("pmt_gains", default_per_run=PMT_GAINS_PER_RUN,
               help="PMT gains used to convert ADC to PE [ADC counts (summed) per PE]", exclusive_minimum=0),
        Option("peak_gap_threshold_ns", 500, help="Records further apart than this split peaks [ns]", minimum=0),
        Option("peak_min_channels", 2, help="Peaks seen by fewer channels are dropped", minimum=1),
    )

    def compute(self, inputs, config, span):
        rec = inputs["raw_records"]
        if len(rec) == 0:
            return empty(self.dtype)
        rec_time = _i8(rec["time"])
        rec_end = rec_time + rec["length"].astype(np.int64) * rec["dt"]
        channel = _i8(rec["channel"])
        to_pe = 1.0 / np.asarray(config["pmt_gains"], dtype=np.float64)

        # Cluster, then drop clusters seen by too few channels.
        cid = kernels().cluster(rec_time, rec_end, int(config["peak_gap_threshold_ns"]))
        n_clusters = cid[-1] + 1
        seen = np.zeros((n_clusters, N_CHANNELS), dtype=bool)
        seen[cid, channel] = True
        keep = seen.sum(axis=1) >= config["peak_min_channels"]
        new_index = np.cumsum(keep) - 1
        rec_peak = np.where(keep[cid], new_index[cid], -1)
        n = int(keep.sum())
        out = np.zeros(n, dtype=self.dtype)
        if n == 0:
            return out
        selected = rec_peak >= 0
        p = rec_peak[selected]
        start = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(start, p, rec_time[selected])
        stop = np.zeros(n, dtype=np.int64)
        np.maximum.at(stop, p, rec_end[selected])

        # Sample width: the records' (all alike here), times the downsampling factor.
        base_dt = int(rec["dt"][0])
        n_samples = -(-(stop - start) // base_dt)
        factor = np.maximum(1, -(-n_samples // PEAK_SAMPLES))
        out["time"] = start
        out["dt"] = base_dt * factor
        out["length"] = -(-n_samples // factor)
        # Keep [time, time + length * dt) inside the chunk (rounding up could overshoot).
        over = out["time"] + out["length"].astype(np.int64) * out["dt"] > span.end
        out["length"][over] = (span.end - out["time"][over]) // out["dt"][over]

        data = np.zeros((n, PEAK_SAMPLES), dtype=np.float32)
        kernels().sum_waveforms(rec_time, _i8(rec["length"]), _i8(rec["dt"]), channel,
                                np.ascontiguousarray(rec["data"]), _i8(rec_peak), to_pe,
                                _i8(out["time"]), _i8(out["dt"]), data)
        out["data"] = data
        rec_area = rec["data"].sum(axis=1, dtype=np.float64) * to_pe[channel]
        area_per_channel = np.zeros((n, N_CHANNELS))
        np.add.at(area_per_channel, (p, channel[selected]), rec_area[selected])
        out["area_per_channel"] = area_per_channel
        out["area"] = area_per_channel.sum(axis=1)
        out["n_hits"] = np.bincount(p, minlength=n)
        out["n_channels"] = seen[keep].sum(axis=1)
        out["type"] = UNKNOWN
        return out


class PeakBasics(DetectorPlugin):
    """Area, widths and top fraction of each peak, and its type: an S1 is narrow and rises
    fast (scintillation light), an S2 is wide and large (light of the extracted electrons)."""

    provides = "peak_basics"
    depends_on = ("peaks",)
    data_kind = "peaks"
    dtype = PEAK_BASICS_DTYPE
    options = (
        Option("s1_max_width_ns", 150, help="S1s are narrower than this (50% area width) [ns]", minimum=0),
        Option("s1_max_rise_time_ns", 100, help="S1s rise (10% to 50% area) faster than this [ns]", minimum=0),
        Option("s2_min_width_ns", 150, help="S2s are at least this wide (50% area width) [ns]", minimum=0),
        Option("s2_min_area", 10.0, help="S2s have at least this area [PE]", minimum=0),
    )

    def compute(self, inputs, config, span):
        peaks = inputs["peaks"]
        out = np.zeros(len(peaks), dtype=self.dtype)
        if len(peaks) == 0:
            return out
        dt = peaks["dt"].astype(np.float64)
        out["time"] = peaks["time"]
        out["endtime"] = peaks["time"] + peaks["length"].astype(np.int64) * peaks["dt"]
        out["area"] = peaks["area"]
        apc = peaks["area_per_channel"].astype(np.float64)
        area = apc.sum(axis=1)
        top = apc[:, :N_TOP_CHANNELS].sum(axis=1)
        out["area_fraction_top"] = np.where(area > 0, top / np.where(area > 0, area, 1), np.nan)
        q10, q25, q50, q75 = kernels().area_quantile_times(peaks["data"], dt, (0.1, 0.25, 0.5, 0.75)).T
        out["range_50p_area"] = q75 - q25
        out["rise_time"] = q50 - q10
        w = np.clip(peaks["data"].astype(np.float64), 0, None)
        total = w.sum(axis=1)
        bin_center = (np.arange(PEAK_SAMPLES) + 0.5) * dt[:, None]
        mean = (w * bin_center).sum(axis=1) / np.where(total > 0, total, 1)
        out["center_time"] = peaks["time"] + np.rint(mean).astype(np.int64)
        out["n_channels"] = peaks["n_channels"]
        out["n_hits"] = peaks["n_hits"]
        out["type"] = classify(out["range_50p_area"], out["rise_time"], out["area"], config)
        return out


def classify(width, rise_time, area, config) -> np.ndarray:
    """1 (S1) for narrow, fast peaks, 2 (S2) for wide ones of enough area, else 0."""
    is_s1 = (width < config["s1_max_width_ns"]) & (rise_time < config["s1_max_rise_time_ns"])
    is_s2 = (width >= config["s2_min_width_ns"]) & (area >= config["s2_min_area"])
    return np.where(is_s1, S1, np.where(is_s2, S2, UNKNOWN)).astype(np.int8)
