"""Row work of the detector plugins: numba kernels where a loop is needed, numpy elsewhere.

Two kernels only (``sum_waveforms``, ``event_peaks``), each with one signature, so the
first call compiles quickly and later processes load them from numba's disk cache.
"""

from __future__ import annotations

import numba
import numpy as np


def cluster(time: np.ndarray, endtime: np.ndarray, gap: int) -> np.ndarray:
    """Cluster index of each interval (sorted by ``time``): a new cluster starts where the
    interval begins more than ``gap`` ns after every earlier interval has ended."""
    if len(time) == 0:
        return np.zeros(0, dtype=np.int64)
    reach = np.maximum.accumulate(endtime)
    new = np.empty(len(time), dtype=bool)
    new[0] = True
    new[1:] = time[1:] - reach[:-1] > gap
    return np.cumsum(new) - 1


@numba.njit(cache=True, nogil=True)
def sum_waveforms(rec_time, rec_length, rec_dt, rec_channel, rec_data, rec_peak, to_pe,
                  peak_time, peak_dt, out):
    """Add each record's samples, in PE, into its peak's (downsampled) waveform ``out``.

    Records with ``rec_peak < 0`` are skipped; sample ``j`` of a record lands in bin
    ``(rec_time + j * rec_dt - peak_time) // peak_dt`` (the last bin takes any overflow).
    """
    n_bins = out.shape[1]
    for r in range(len(rec_time)):
        p = rec_peak[r]
        if p < 0:
            continue
        scale = to_pe[rec_channel[r]]
        offset = rec_time[r] - peak_time[p]
        for j in range(rec_length[r]):
            b = (offset + j * rec_dt[r]) // peak_dt[p]
            if b >= n_bins:
                b = n_bins - 1
            out[p, b] += rec_data[r, j] * scale


def area_quantile_times(data: np.ndarray, dt: np.ndarray, fractions) -> np.ndarray:
    """Time [ns after the peak start] at which each waveform reaches each area fraction,
    interpolated linearly within a sample; shape ``(len(data), len(fractions))``."""
    result = np.zeros((len(data), len(fractions)), dtype=np.float64)
    if len(data) == 0:
        return result
    w = np.clip(data.astype(np.float64), 0, None)
    cum = np.cumsum(w, axis=1)
    total = cum[:, -1]
    rows = np.arange(len(data))
    for i, f in enumerate(fractions):
        target = f * total
        b = np.argmax(cum >= target[:, None], axis=1)           # first bin reaching it
        before = np.where(b > 0, cum[rows, np.maximum(b - 1, 0)], 0.0)
        inside = w[rows, b]
        frac = np.where(inside > 0, (target - before) / np.where(inside > 0, inside, 1), 0.0)
        result[:, i] = (b + frac) * dt
    result[total <= 0] = 0
    return result


@numba.njit(cache=True, nogil=True)
def event_peaks(first, stop, ev_endtime, p_time, p_endtime, p_type, p_area):
    """For each event (peaks ``first..stop-1`` start inside it): the number of peaks fully
    inside, the main S2 (largest type-2 peak) and the main S1 (largest type-1 peak before
    the main S2); -1 where there is none."""
    n = len(first)
    n_peaks = np.zeros(n, dtype=np.int32)
    s1 = np.full(n, -1, dtype=np.int64)
    s2 = np.full(n, -1, dtype=np.int64)
    for e in range(n):
        for i in range(first[e], stop[e]):
            if p_endtime[i] > ev_endtime[e]:
                continue
            n_peaks[e] += 1
            if p_type[i] == 2 and (s2[e] < 0 or p_area[i] > p_area[s2[e]]):
                s2[e] = i
        for i in range(first[e], stop[e]):
            if p_endtime[i] > ev_endtime[e] or p_type[i] != 1:
                continue
            if s2[e] >= 0 and p_time[i] >= p_time[s2[e]]:
                continue
            if s1[e] < 0 or p_area[i] > p_area[s1[e]]:
                s1[e] = i
    return n_peaks, s1, s2
