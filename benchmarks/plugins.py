"""superruns plugins for the benchmark workflows: source plugins that generate the rows of
:mod:`benchmarks.data`, so a subrun's file has no inputs and Snakemake runs only the
superrun job. Used through ``plugins: [benchmarks.plugins]`` in a workspace's config (with
``PYTHONPATH`` holding the repository root)."""

from __future__ import annotations

from superruns.model.plugins import ChunkSpan, Option, SourcePlugin

from . import data


def _layout(config) -> data.Layout:
    return data.Layout(**config["bench_layout"])


class BenchPeaks(SourcePlugin):
    """820 B peaks-like rows (see benchmarks.data)."""

    provides = "peaks"
    data_kind = "peaks"
    version = "0.0.1"
    dtype = data.PEAKS_DTYPE
    options = (Option("bench_layout", default=data.build_layout().as_dict(), help="benchmarks.data.Layout"),)

    def generate(self, run, config):
        layout = _layout(config)
        i = data.run_index(run.run_id)
        for c in range(layout.chunks_per_run):
            start, end, rows = layout.chunk(i, c)
            yield ChunkSpan(run.run_id, start, end), rows


class BenchEventInfo(BenchPeaks):
    """112 B event_info-like rows."""

    provides = "event_info"
    data_kind = "events"
    dtype = data.EVENTS_DTYPE
    options = (Option("bench_small_layout", default=data.small_layout(100).as_dict(),
                      help="benchmarks.data.Layout"),)

    def generate(self, run, config):
        yield from super().generate(run, {"bench_layout": config["bench_small_layout"]})


PLUGINS = [BenchPeaks, BenchEventInfo]
