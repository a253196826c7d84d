"""The figures of the summary pages: which a page of each data type has, the one file each
reads (the rule's input, nothing else), captions, and drawing from rows (also from none).

The report of the demo rendered in Chromium: tests/e2e/test_report_screenshot.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from superruns.detector.events import EVENT_BASICS_DTYPE
from superruns.detector.peaks import PEAK_BASICS_DTYPE, PEAKS_DTYPE
from superruns.detector.simulation import RAW_RECORDS_DTYPE
from superruns.stored import figures

from support.workflows import REPO, SECOND, T0, Workflow, run_entry

#: What a physicist checks first, per data type of the shipped detector: figure -> data type read.
SHIPPED_PAGES = {
    "raw_records": {"rate": "raw_records", "waveforms": "raw_records"},
    "peaks": {"rate": "peaks", "area_width": "peak_basics", "waveforms": "peaks"},
    "peak_basics": {"rate": "peak_basics", "area_width": "peak_basics", "waveforms": "peaks"},
    "event_basics": {"rate": "event_basics", "area_spectra": "event_basics", "drift_time": "event_basics"},
    "event_positions": {"rate": "event_positions", "area_spectra": "event_basics", "drift_time": "event_basics"},
    "event_info": {"rate": "event_info", "area_spectra": "event_info", "drift_time": "event_info"},
    "peak_rates": {"peak_rates": "peak_rates"},
}


@pytest.fixture
def project(tmp_path):
    flow = Workflow(tmp_path)
    flow.write({"000001": run_entry(0, 20), "000002": run_entry(100, 20)},
               {"_ab": {"runs": ["000001", "000002"]}, "_cut": {"ranges": {"000001": [[T0, T0 + 5 * SECOND]]}}})
    return flow.project()


def test_each_page_has_the_figures_of_its_kind(project):
    for data_type, expected in SHIPPED_PAGES.items():
        assert figures.page_figures(project.registry, data_type) == list(expected), data_type
        for figure, source in expected.items():
            assert figures.figure_source(project.registry, data_type, figure) == source


def test_a_figure_reads_one_file_and_a_page_names_its_figures(project):
    assert figures.figure_inputs(project, "_ab", "peaks", "area_width") == {
        "peak_basics": project.relative_path("_ab", "peak_basics")}
    page = figures.page_inputs(project, "_ab", "raw_records")
    assert page == {"data": project.relative_path("_ab", "raw_records"),
                    "figures": ["summary/_ab/exposure.png", "summary/_ab/raw_records/rate.png",
                                "summary/_ab/raw_records/waveforms.png"]}
    with pytest.raises(figures.FigureError, match="the page of raw_records has: rate, waveforms"):
        figures.figure_inputs(project, "_ab", "raw_records", "drift_time")


def test_every_figure_has_a_caption_and_the_report_shows_it():
    for catalogue in (figures.SUPERRUN_FIGURES, figures.DATA_FIGURES):
        for name, spec in catalogue.items():
            assert spec.name == name and len(spec.caption) > 60 and spec.title
    assert "snakemake.params.caption" in (REPO / "report" / "figure.rst").read_text()
    assert figures.caption("_ab", "rate", "peaks").startswith("_ab, peaks: Rate over live time. Rows per second")


def rows_of(dtype, n: int, start: int = T0) -> np.ndarray:
    rng = np.random.default_rng(1)
    rows = np.zeros(n, dtype)
    rows["time"] = np.sort(rng.integers(start, start + 20 * SECOND, n))
    for name, value in (("s1_area", rng.lognormal(3, 1, n)), ("s2_area", rng.lognormal(8, 1, n)),
                        ("drift_time", rng.integers(1_000, 50_000, n)), ("area", rng.lognormal(4, 2, n)),
                        ("range_50p_area", rng.lognormal(5, 1, n)), ("length", np.full(n, 20)), ("dt", np.full(n, 10))):
        if name in dtype.names:
            rows[name] = value
    if "data" in dtype.names:
        rows["data"][:, :20] = rng.integers(0, 100, (n, 20))
    return rows


class RecordingFile:
    """A stand-in for DataFile that records every path opened and serves ``ROWS[path]``."""

    ROWS: dict = {}
    opened: list = []

    def __init__(self, path):
        self.path = Path(path)
        RecordingFile.opened.append(self.path)
        self.rows = self.ROWS[self.path]
        self.dtype, self.chunks = self.rows.dtype, [0] if len(self.rows) else []

    def load(self):
        return self.rows

    def iter_chunks(self):
        yield SimpleNamespace(rows=self.rows)

    def frame_records(self, i):
        return [0]

    def frames(self, i, which):
        return [self.rows]

    def decode_frame(self, frame):
        return frame


@pytest.mark.parametrize("data_type, dtype", [("event_info", EVENT_BASICS_DTYPE), ("peaks", PEAKS_DTYPE),
                                              ("peak_basics", PEAK_BASICS_DTYPE), ("raw_records", RAW_RECORDS_DTYPE)])
@pytest.mark.parametrize("n", [300, 0])
def test_each_figure_draws_from_its_one_file_only(project, tmp_path, monkeypatch, data_type, dtype, n):
    pytest.importorskip("matplotlib")
    from superruns.stored import plots

    monkeypatch.setattr(plots, "DataFile", RecordingFile)
    for figure in figures.page_figures(project.registry, data_type):
        source = figures.figure_source(project.registry, data_type, figure)
        path = tmp_path / f"{source}-file"
        source_dtype = {"peak_basics": PEAK_BASICS_DTYPE, "peaks": PEAKS_DTYPE}.get(source, dtype)
        RecordingFile.ROWS, RecordingFile.opened = {path: rows_of(source_dtype, n)}, []
        output = tmp_path / f"{data_type}-{figure}.png"
        plots.draw_data_figure(project, "_ab", data_type, figure, path, output)
        assert set(RecordingFile.opened) == {path}, figure
        assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and output.stat().st_size > 5_000


def test_the_exposure_figure_draws_from_the_definition(project, tmp_path):
    pytest.importorskip("matplotlib")
    from superruns.stored import plots

    output = tmp_path / "exposure.png"
    plots.draw_superrun_figure(project, "_cut", "exposure", output)
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and output.stat().st_size > 10_000


def test_the_live_axis_removes_the_gaps_between_subruns():
    from superruns.stored.plots import LiveAxis

    axis = LiveAxis(np.array([100, 10]) * SECOND, np.array([150, 20]) * SECOND, ["b", "a"])
    assert axis.total_s == 60 and axis.labels == ["a", "b"]
    times = np.array([10, 15, 20, 50, 100, 125, 200]) * SECOND      # 200: after the last, clipped
    assert list(axis.seconds(times)) == [0, 5, 10, 10, 10, 35, 60]


def test_the_figure_job_draws_from_the_input_snakemake_names(project, tmp_path, monkeypatch):
    from superruns.orchestration import jobs
    from superruns.stored import plots

    drawn = []
    monkeypatch.setattr(jobs, "_checked", lambda job, run_id, data_type, path: Path(path))
    monkeypatch.setattr(plots, "draw_data_figure", lambda *args: drawn.append(args))
    smk = SimpleNamespace(project=project, config=project.config, log=[], rule="superrun_figure",
                          input=SimpleNamespace(items=lambda: [("peak_basics", "given/peak_basics-x")]),
                          output=[str(tmp_path / "out.png")],
                          wildcards=SimpleNamespace(superrun="_ab", data_type="peaks", figure="area_width"))
    jobs.figure_job(smk)
    given = Path("given/peak_basics-x").absolute()          # the job's named input, nothing else
    assert drawn == [(project, "_ab", "peaks", "area_width", given, tmp_path / "out.png")]
