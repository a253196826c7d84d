"""strax 2.2.3 plugins and context for the same data as :mod:`benchmarks.plugins`.

strax builds a superrun from the subruns' data of the first data type below the superrun
boundary (``allow_superrun=False``), stored per subrun, and computes everything above it at
superrun level (strax-reference.md section 2.2). So the strax graph is:

- ``records`` (or ``small_records``): a source plugin, ``allow_superrun=False``, saved per
  subrun, generating exactly the rows our source plugins generate (benchmarks.data);
- ``peaks`` (or ``event_info``): ``allow_superrun=True``, passes its input through, saved
  with ``write_superruns=True``, rechunked to ``chunk_target_size_mb`` (200, strax's default).

Chunking of the subrun data is the same as ours (``Layout.chunks_per_run`` chunks per run).
strax's default compressor (python-blosc, blosclz, clevel 9, typesize 8, no shuffle) is used.
"""

from __future__ import annotations

import datetime
import json
import os

import strax

from . import data

LAYOUT = "BENCH_STRAX_LAYOUT"      # JSON of the Layout, set by the workspace before the context


def _layout() -> data.Layout:
    return data.Layout(**json.loads(os.environ[LAYOUT]))


class _Source(strax.Plugin):
    depends_on: tuple = tuple()
    rechunk_on_save = False
    allow_superrun = False
    save_when = strax.SaveWhen.ALWAYS
    parallel = False
    __version__ = "0.0.1"

    def source_finished(self):
        return True

    def is_ready(self, chunk_i):
        return chunk_i < _layout().chunks_per_run

    def compute(self, chunk_i):
        start, end, rows = _layout().chunk(data.run_index(self.run_id), chunk_i)
        return self.chunk(start=start, end=end, data=rows)


class Records(_Source):
    provides = "records"
    data_kind = "records"
    dtype = data.PEAKS_DTYPE


class SmallRecords(_Source):
    provides = "small_records"
    data_kind = "small_records"
    dtype = data.EVENTS_DTYPE


class Peaks(strax.Plugin):
    provides = "peaks"
    data_kind = "peaks"
    depends_on = ("records",)
    dtype = data.PEAKS_DTYPE
    allow_superrun = True
    rechunk_on_save = True
    save_when = strax.SaveWhen.ALWAYS
    chunk_target_size_mb = 200
    __version__ = "0.0.1"

    def compute(self, records):
        return records


class EventInfo(Peaks):
    provides = "event_info"
    data_kind = "events"
    depends_on = ("small_records",)
    dtype = data.EVENTS_DTYPE

    def compute(self, small_records):
        return small_records


def context(root: str, layout: data.Layout) -> strax.Context:
    os.environ[LAYOUT] = json.dumps(layout.as_dict())
    st = strax.Context(storage=[strax.DataDirectory(root, provide_run_metadata=True)],
                       register=[Records, SmallRecords, Peaks, EventInfo])
    st.set_context_config({"write_superruns": True})
    return st


def _utc(ns: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.timezone.utc)


def write_run_docs(st: strax.Context, layout: data.Layout) -> None:
    frontend = st.storage[0]
    for i, run in enumerate(layout.run_ids):
        start, end = layout.run_span(i)
        frontend.write_run_metadata(run, {"name": run, "start": _utc(start), "end": _utc(end),
                                          "mode": "bench", "source": "none", "tags": [{"name": "bench"}]})


def superrun_dirs(root: str, superrun: str) -> list[str]:
    return [os.path.join(root, d) for d in os.listdir(root) if d.startswith(superrun + "_")]
