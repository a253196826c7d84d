"""Drawing the figures of the summary pages (:mod:`superruns.stored.figures` says which) as PNG
files, with matplotlib's object API (no pyplot, no global state, no display).

Each figure reads only what it is handed: the superrun's definition (livetime, exposure) or
the one data file its rule names as input, streamed chunk by chunk where it reads every row
(rates), or only the first frame of rows (waveforms). A figure of no rows still draws, saying
so. PNG bytes are reproducible: no time stamp, no software tag.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..base.atomic import write_atomic
from ..base.times import format_duration, format_ns
from ..storage import DataFile
from .figures import DATA_FIGURES, SUPERRUN_FIGURES

__all__ = ["draw_data_figure", "draw_superrun_figure", "LiveAxis"]

COLOURS = {"live": "#4c78a8", "veto": "#f58518", "dq": "#e45756", "s1": "#54a24b", "s2": "#4c78a8"}
#: At most this many bars in the livetime figure: more subruns are grouped.
MAX_BARS = 40


def _figure(width: float = 8.0, height: float = 3.6, ncols: int = 1, nrows: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _save(fig, output) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    write_atomic(output, buffer.getvalue())


def _nothing(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes, fontsize=12)
    ax.set_xticks([])
    ax.set_yticks([])


class LiveAxis:
    """Times mapped onto the superrun's live time: its leaf segments end to end, gaps removed."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray, labels: list[str]):
        order = np.argsort(starts, kind="stable")
        self.starts, self.ends = starts[order].astype(np.int64), ends[order].astype(np.int64)
        self.labels = [labels[i] for i in order]
        self.offsets = np.concatenate([[0], np.cumsum(self.ends - self.starts)])
        self.total_s = float(self.offsets[-1]) / 1e9

    @classmethod
    def of(cls, project, superrun: str) -> "LiveAxis":
        flat = project.definitions.flat(superrun)
        return cls(np.asarray(flat.starts), np.asarray(flat.ends),
                   [flat.run_ids[i] for i in np.asarray(flat.run_index)])

    def seconds(self, times: np.ndarray) -> np.ndarray:
        """Live time (s) of each time; a time outside every segment is clipped to the nearest."""
        i = np.clip(np.searchsorted(self.starts, times, side="right") - 1, 0, len(self.starts) - 1)
        inside = np.clip(times - self.starts[i], 0, self.ends[i] - self.starts[i])
        return (self.offsets[i] + inside) / 1e9

    def edges(self) -> np.ndarray:
        """Bin edges (s of live time): about one bin per 10 s, between 10 and 150 bins."""
        n = int(min(150, max(10, self.total_s / 10)))
        return np.linspace(0.0, max(self.total_s, 1e-9), n + 1)

    def mark_subruns(self, ax) -> None:
        """Dotted lines where each leaf run begins (up to 200 of them; labelled when few)."""
        firsts = [k for k in range(len(self.labels)) if k == 0 or self.labels[k] != self.labels[k - 1]]
        for k in firsts[1:] if len(firsts) <= 200 else []:
            ax.axvline(self.offsets[k] / 1e9, color="#999", linestyle=":", linewidth=0.8)
        if len(firsts) <= 12:
            top = ax.secondary_xaxis("top")
            top.set_xticks([self.offsets[k] / 1e9 for k in firsts], [self.labels[k] for k in firsts],
                           fontsize=7, rotation=30)
        ax.set_xlabel("live time since the superrun's start [s]")


# -- figures of the superrun (its definition) ------------------------------------------------

def _groups(names: list[str], n: int) -> list[list[str]]:
    size = -(-len(names) // n)
    return [names[i:i + size] for i in range(0, len(names), size)]


def _livetime(ax, run_md: dict) -> None:
    exposure = run_md.get("exposure") or {}
    per = exposure.get("per_subrun") or {}
    names = list(per)
    if not names:
        return _nothing(ax, "subruns")
    groups = _groups(names, MAX_BARS) if len(names) > MAX_BARS else [[n] for n in names]
    sums = {k: np.array([sum(per[n].get(k, 0.0) for n in g) for g in groups]) for k in ("livetime", "vetoed", "dq_cut")}
    labels = [g[0] if len(g) == 1 else f"{g[0]}..{g[-1]} ({len(g)})" for g in groups]
    y = np.arange(len(groups))[::-1]
    veto = sums["vetoed"] - sums["dq_cut"]
    ax.barh(y, sums["livetime"], color=COLOURS["live"], label="livetime")
    ax.barh(y, veto, left=sums["livetime"], color=COLOURS["veto"], label="removed by veto:")
    ax.barh(y, sums["dq_cut"], left=sums["livetime"] + veto, color=COLOURS["dq"], label="removed by DQ")
    ax.set_yticks(y, labels, fontsize=7 if len(groups) > 15 else 9)
    ax.set_xlabel("time [s]")
    ax.figure.legend(fontsize=8, loc="outside lower center", ncols=3, frameon=False)
    ax.set_title(f"livetime {format_duration(exposure.get('livetime'))}, vetoed "
                 f"{format_duration(exposure.get('vetoed'))} (DQ {format_duration(exposure.get('dq_cut', 0.0))})",
                 fontsize=9)


def _exposure(ax, axis: LiveAxis) -> None:
    if not len(axis.starts):
        return _nothing(ax, "segments")
    times = np.empty(2 * len(axis.starts) + 1, "datetime64[ns]")
    held = np.empty(len(times))
    times[0], held[0] = np.datetime64(int(axis.starts[0]), "ns"), 0.0
    times[1::2] = axis.starts.astype("datetime64[ns]")
    times[2::2] = axis.ends.astype("datetime64[ns]")
    held[1::2] = axis.offsets[:-1] / 1e9
    held[2::2] = axis.offsets[1:] / 1e9
    unit, scale = ("h", 3600.0) if axis.total_s >= 7200 else ("s", 1.0)
    ax.plot(times[1:], held[1:] / scale, color=COLOURS["live"], drawstyle="default")
    ax.fill_between(times[1:], held[1:] / scale, color=COLOURS["live"], alpha=0.15)
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("calendar time (UTC)")
    ax.set_ylabel(f"cumulative livetime [{unit}]")
    ax.set_title(f"{format_ns(int(axis.starts[0]), fraction=False)} to "
                 f"{format_ns(int(axis.ends.max()), fraction=False)}: {format_duration(axis.total_s)} held",
                 fontsize=9)


def draw_superrun_figure(project, superrun: str, figure: str, output) -> None:
    """``exposure`` of ``superrun`` (from its definition) to ``output`` (PNG): the livetime per
    subrun beside the cumulative exposure over calendar time."""
    spec = SUPERRUN_FIGURES[figure]
    n_bars = min(len(project.definitions.leaf_runs(superrun)), MAX_BARS)
    fig, axes = _figure(11.0, max(3.6, 1.4 + 0.28 * n_bars), ncols=2)
    _livetime(axes[0, 0], project.run_metadata(superrun))
    _exposure(axes[0, 1], LiveAxis.of(project, superrun))
    fig.suptitle(f"{superrun}: {spec.title}", fontsize=11)
    _save(fig, output)


# -- figures of a data type (its data) -------------------------------------------------------

def _rate(ax, path: Path, axis: LiveAxis) -> None:
    edges = axis.edges()
    counts = np.zeros(len(edges) - 1)
    for chunk in DataFile(path).iter_chunks():
        counts += np.histogram(axis.seconds(chunk.rows["time"]), edges)[0]
    if not counts.sum():
        return _nothing(ax, "rows")
    width = np.diff(edges)
    ax.errorbar((edges[:-1] + edges[1:]) / 2, counts / width, yerr=np.sqrt(counts) / width,
                fmt=".", markersize=3, color=COLOURS["live"], elinewidth=0.6)
    ax.set_ylabel("rate [Hz]")
    ax.set_ylim(bottom=0)
    axis.mark_subruns(ax)
    ax.set_title(f"{int(counts.sum())} rows in {format_duration(axis.total_s)} of live time: "
                 f"{counts.sum() / max(axis.total_s, 1e-9):.3g} Hz on average", fontsize=9)


def _log_bins(values: np.ndarray, n: int = 60) -> np.ndarray:
    positive = values[values > 0]
    if not len(positive):
        return np.logspace(0, 1, n)
    lo, hi = positive.min(), positive.max()
    return np.logspace(np.log10(lo), np.log10(hi if hi > lo else lo * 10), n)


def _spectra(axes, rows: np.ndarray) -> None:
    for ax, field, label in ((axes[0, 0], "s1_area", "S1"), (axes[0, 1], "s2_area", "S2")):
        values = rows[field][np.isfinite(rows[field]) & (rows[field] > 0)]
        if not len(values):
            _nothing(ax, f"events with an {label}")
            continue
        ax.hist(values, bins=_log_bins(values), color=COLOURS[label.lower()], histtype="stepfilled", alpha=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"{label} area [PE]")
        ax.set_ylabel("events per bin")
        ax.set_title(f"{len(values)} of {len(rows)} events", fontsize=9)


def _drift(ax, rows: np.ndarray) -> None:
    drift = rows["drift_time"][rows["drift_time"] > 0] / 1e3
    if not len(drift):
        return _nothing(ax, "events with an S1 and an S2")
    ax.hist(drift, bins=80, color=COLOURS["live"], histtype="stepfilled", alpha=0.8)
    ax.set_xlabel("drift time [µs]")
    ax.set_ylabel("events per bin")
    ax.set_title(f"{len(drift)} of {len(rows)} events; median {np.median(drift):.3g} µs", fontsize=9)


def _area_width(ax, rows: np.ndarray) -> None:
    from matplotlib.colors import LogNorm

    ok = (rows["area"] > 0) & (rows["range_50p_area"] > 0)
    if not ok.any():
        return _nothing(ax, "peaks with a positive area and width")
    area, width = rows["area"][ok], rows["range_50p_area"][ok]
    image = ax.hist2d(area, width, bins=[_log_bins(area), _log_bins(width)], norm=LogNorm(), cmap="viridis")[3]
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("area [PE]")
    ax.set_ylabel("width (range of 50 % area) [ns]")
    ax.figure.colorbar(image, ax=ax, label="peaks per bin")
    ax.set_title(f"{int(ok.sum())} of {len(rows)} peaks", fontsize=9)


def _first_rows(path: Path) -> np.ndarray:
    """The rows of the file's first frame only (at most 4 MiB read)."""
    data = DataFile(path)
    frames = data.frames(0, [0]) if data.chunks and data.frame_records(0) else []
    return data.decode_frame(frames[0]) if frames else np.zeros(0, data.dtype)


def _row_title(row) -> str:
    names = row.dtype.names
    extra = [f"channel {row['channel']}" if "channel" in names else "",
             {1: "S1", 2: "S2"}.get(int(row["type"]), "") if "type" in names else "",
             f"{row['area']:.3g} PE" if "area" in names else ""]
    return " ".join(e for e in extra if e) or format_ns(int(row["time"]))


def _spread(amplitude: np.ndarray, n: int) -> list[int]:
    """``n`` rows from the largest summed amplitude to the smallest (evenly spaced ranks)."""
    order = np.argsort(amplitude, kind="stable")[::-1]
    ranks = np.unique(np.linspace(0, len(order) - 1, min(n, len(order))).round().astype(int))
    return [int(order[r]) for r in ranks]


def _waveforms(axes, rows: np.ndarray) -> None:
    flat = axes.ravel()
    if not len(rows):
        _nothing(flat[0], "rows")
        for ax in flat[1:]:
            ax.set_visible(False)
        return
    amplitude = np.array([np.abs(r["data"][:r["length"]]).sum() for r in rows])
    chosen = _spread(amplitude, len(flat))
    for ax, i in zip(flat, chosen):
        row = rows[i]
        n = int(min(row["length"], len(row["data"])))
        ax.plot(np.arange(n) * int(row["dt"]), row["data"][:n], color=COLOURS["live"], linewidth=0.8)
        ax.set_title(_row_title(row), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("time in row [ns]", fontsize=7)
    for ax in flat[len(chosen):]:
        ax.set_visible(False)
    field = rows.dtype.fields["data"]
    if len(field) > 2 and field[2]:               # the field's title, e.g. "... [PE per sample]"
        axes[0, 0].figure.supylabel(str(field[2]), fontsize=8)


def _peak_rates(ax, path: Path, axis: LiveAxis) -> None:
    rows = DataFile(path).load()
    seconds = (rows["endtime"] - rows["time"]) / 1e9
    ok = seconds > 0
    if not ok.any():
        return _nothing(ax, "bins")
    centre = axis.seconds((rows["time"][ok] + rows["endtime"][ok]) // 2)
    for field, label in (("n_s1", "S1"), ("n_s2", "S2")):
        ax.plot(centre, rows[field][ok] / seconds[ok], ".", markersize=3, color=COLOURS[label.lower()], label=label)
    ax.set_ylabel("rate [Hz]")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    axis.mark_subruns(ax)


def draw_data_figure(project, superrun: str, data_type: str, figure: str, source: Path, output) -> None:
    """Figure ``figure`` of ``superrun``'s ``data_type`` page, from the file ``source`` (the data
    type :func:`superruns.stored.figures.figure_source` names), to ``output`` (PNG)."""
    spec = DATA_FIGURES[figure]
    if figure == "area_spectra":
        fig, axes = _figure(9.0, 3.6, ncols=2)
        _spectra(axes, DataFile(source).load())
    elif figure == "waveforms":
        fig, axes = _figure(9.0, 4.6, ncols=3, nrows=2)
        _waveforms(axes, _first_rows(source))
    else:
        fig, axes = _figure()
        ax = axes[0, 0]
        if figure == "rate":
            _rate(ax, source, LiveAxis.of(project, superrun))
        elif figure == "peak_rates":
            _peak_rates(ax, source, LiveAxis.of(project, superrun))
        elif figure == "drift_time":
            _drift(ax, DataFile(source).load())
        else:
            _area_width(ax, DataFile(source).load())
    fig.suptitle(f"{superrun} / {data_type}: {spec.title}", fontsize=11)
    _save(fig, output)
