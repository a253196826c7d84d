"""Deterministic benchmark data, identical for superruns and strax.

Two kinds of rows, each generated per (run, chunk) from a seed, so the superruns source
plugin (:mod:`benchmarks.plugins`) and the strax source plugin (:mod:`benchmarks.strax_plugins`)
produce the same bytes for the same run without sharing files:

- ``PEAKS_DTYPE`` (820 B/row): ``time``, ``length``, ``dt``, ``channel``, ``type`` and a
  200-sample float32 waveform (a pulse shape plus Gaussian noise, zeros after ``length``); it
  compresses about 4x with lz4, like real peaks.
- ``EVENTS_DTYPE`` (112 B/row, like the detector's ``event_info``): ``time``, ``endtime`` and
  dense float/int fields that barely compress.

Runs are laid out back to back: run ``i`` (id ``f"{i:06d}"``) starts at
``T0 + i * (duration + gap)``. Chunks split a run into equal time spans; rows keep a margin
from chunk edges so strax's rechunker finds gaps and no row crosses a chunk boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

T0 = 1_700_000_000_000_000_000  # ns since the epoch (2023-11-14)
SECOND = 1_000_000_000

PEAKS_DTYPE = np.dtype([
    ("time", "<i8"), ("length", "<i4"), ("dt", "<i4"), ("channel", "<i2"), ("type", "<i2"),
    ("data", "<f4", (200,)),
])
assert PEAKS_DTYPE.itemsize == 820

EVENTS_DTYPE = np.dtype(
    [("time", "<i8"), ("endtime", "<i8"), ("n_peaks", "<i4")]
    + [(f"{p}_{f}", t) for p in ("s1", "s2") for f, t in
       (("area", "<f4"), ("time", "<i8"), ("center_time", "<i8"), ("range_50p_area", "<f4"),
        ("rise_time", "<f4"), ("area_fraction_top", "<f4"), ("n_channels", "<i2"))]
    + [("drift_time", "<i8"), ("x", "<f4"), ("y", "<f4"), ("r", "<f4"), ("z", "<f4")])
assert EVENTS_DTYPE.itemsize == 112


@dataclass(frozen=True)
class Layout:
    """Where the runs of one data set lie, and how many rows each chunk holds."""

    kind: str                 # "peaks" or "events"
    n_runs: int
    chunks_per_run: int
    rows_per_chunk: int
    duration_ns: int
    gap_ns: int

    @property
    def dtype(self) -> np.dtype:
        return PEAKS_DTYPE if self.kind == "peaks" else EVENTS_DTYPE

    @property
    def run_ids(self) -> list[str]:
        return [run_id(i) for i in range(self.n_runs)]

    def run_span(self, i: int) -> tuple[int, int]:
        start = T0 + i * (self.duration_ns + self.gap_ns)
        return start, start + self.duration_ns

    def chunk_span(self, i: int, c: int) -> tuple[int, int]:
        start, end = self.run_span(i)
        step = self.duration_ns // self.chunks_per_run
        return start + c * step, (end if c == self.chunks_per_run - 1 else start + (c + 1) * step)

    @property
    def run_bytes(self) -> int:
        return self.chunks_per_run * self.rows_per_chunk * self.dtype.itemsize

    @property
    def total_bytes(self) -> int:
        return self.n_runs * self.run_bytes

    def chunk(self, i: int, c: int) -> tuple[int, int, np.ndarray]:
        """``(start, end, rows)`` of chunk ``c`` of run ``i``."""
        start, end = self.chunk_span(i, c)
        make = peaks_rows if self.kind == "peaks" else events_rows
        return start, end, make(np.random.default_rng([i, c]), self.rows_per_chunk, start, end)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "n_runs": self.n_runs, "chunks_per_run": self.chunks_per_run,
                "rows_per_chunk": self.rows_per_chunk, "duration_ns": self.duration_ns,
                "gap_ns": self.gap_ns}


def run_id(i: int) -> str:
    return f"{i:06d}"


def run_index(run: str) -> int:
    return int(run)


def _times(rng, n: int, start: int, end: int, max_len_ns: int) -> np.ndarray:
    """``n`` sorted start times in ``[start, end)``, each row (up to ``max_len_ns`` long) ending
    before the next starts and before ``end``; gaps between rows exceed 1000 ns."""
    margin = 2 * max_len_ns
    span = end - start - 2 * margin
    slot = span // n
    if slot < max_len_ns + 2000:
        raise ValueError(f"{n} rows do not fit in [{start}, {end}): make the runs longer")
    return start + margin + np.arange(n, dtype=np.int64) * slot + rng.integers(0, slot - max_len_ns - 1500, n)


def peaks_rows(rng, n: int, start: int, end: int) -> np.ndarray:
    rows = np.zeros(n, PEAKS_DTYPE)
    dt = 10
    rows["time"] = _times(rng, n, start, end, 200 * dt)
    length = np.clip(rng.lognormal(np.log(35), 0.6, n), 10, 200).astype(np.int32)
    rows["length"], rows["dt"] = length, dt
    rows["channel"] = rng.integers(0, 494, n)
    rows["type"] = rng.integers(0, 3, n)
    samples = np.arange(200, dtype=np.float32)
    area = rng.exponential(100, n).astype(np.float32)
    rise = rng.uniform(2, 10, n).astype(np.float32)[:, None]
    decay = rng.uniform(10, 60, n).astype(np.float32)[:, None]
    shape = (1 - np.exp(-samples / rise)) * np.exp(-samples / decay)
    wave = shape / shape.sum(axis=1, keepdims=True) * area[:, None]
    wave += rng.normal(0, 0.05, wave.shape).astype(np.float32)
    wave[samples[None, :] >= length[:, None]] = 0
    rows["data"] = wave
    return rows


def events_rows(rng, n: int, start: int, end: int) -> np.ndarray:
    rows = np.zeros(n, EVENTS_DTYPE)
    length = rng.integers(10_000, 500_000, n)
    rows["time"] = _times(rng, n, start, end, 500_000)
    rows["endtime"] = rows["time"] + length
    rows["n_peaks"] = rng.integers(1, 50, n)
    for p in ("s1", "s2"):
        rows[f"{p}_area"] = rng.exponential(1000, n)
        rows[f"{p}_time"] = rows["time"] + rng.integers(0, 10_000, n)
        rows[f"{p}_center_time"] = rows[f"{p}_time"] + rng.integers(0, 1000, n)
        rows[f"{p}_range_50p_area"] = rng.exponential(300, n)
        rows[f"{p}_rise_time"] = rng.exponential(100, n)
        rows[f"{p}_area_fraction_top"] = rng.uniform(0, 1, n)
        rows[f"{p}_n_channels"] = rng.integers(1, 8, n)
    rows["drift_time"] = rows["s2_center_time"] - rows["s1_center_time"]
    rows["x"], rows["y"] = rng.normal(0, 10, n), rng.normal(0, 10, n)
    rows["r"] = np.hypot(rows["x"], rows["y"])
    rows["z"] = -rng.uniform(0, 30, n)
    return rows


def build_layout(quick: bool = False) -> Layout:
    """20 subruns x 50 MB of peaks (5 chunks of 10 MB each); quick: 20 x 10 MB."""
    rows = 12_195 if not quick else 2_439                  # 10 MB (2 MB) per chunk of 820 B rows
    return Layout("peaks", n_runs=20, chunks_per_run=5, rows_per_chunk=rows,
                  duration_ns=10 * SECOND, gap_ns=5 * SECOND)


def small_layout(n_runs: int) -> Layout:
    """``n_runs`` subruns of ~100 KB of event_info-like rows (one chunk each)."""
    return Layout("events", n_runs=n_runs, chunks_per_run=1, rows_per_chunk=914,
                  duration_ns=60 * SECOND, gap_ns=1 * SECOND)
