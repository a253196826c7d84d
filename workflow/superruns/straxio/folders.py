"""A strax folder read like one of our data files (:class:`StraxFolderFile`), for builds from
data read in place (:mod:`superruns.straxio.inplace`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..base import kernels
from ..storage import FRAME_SIZE, ChunkRecord, DataFile, Frame, FrameRecord, dtype_from_metadata
from ..storage.reader import Chunk
from .format import StraxFolder, StraxFormatError, checked_folder_metadata, read_folder_chunk

__all__ = ["StraxFolderFile"]


def _folder_at(path) -> StraxFolder:
    path = Path(path)
    parts = path.name.split("-")
    if len(parts) != 3 or not path.is_dir():
        raise StraxFormatError(f"{path} is not a strax data folder ({{run}}-{{data_type}}-{{lineage_hash}})")
    return StraxFolder(path, *parts)


def _frame_record(rows: np.ndarray, ends: np.ndarray) -> FrameRecord:
    return FrameRecord(len(rows), rows.nbytes, 0, 0, int(rows["time"][0]), int(ends[0]), int(rows["time"][-1]),
                       int(ends[-1]), int(ends.max()))


class StraxFolderFile(DataFile):
    """A strax folder read as one of our data files (read only): its chunks are strax's; each
    is decoded on first use and offered as frames of decoded rows (at most ``FRAME_SIZE``
    bytes each), which a build selects from and recompresses (``carries_frames`` is False:
    strax's compressed chunk files are not frames of ours)."""

    carries_frames = False

    def __init__(self, path, *, verify: bool = True, nthreads: int | None = None):
        self.path = os.fspath(path)
        self.verify, self.nthreads, self.frames_read, self._closed = verify, 1, 0, False
        self.folder = _folder_at(path)
        self.strax_metadata = md = checked_folder_metadata(self.folder)
        self.dtype = dtype_from_metadata(md)
        self.chunks = [ChunkRecord(i, info["start"], info["end"], info["n"], info["n"] * self.dtype.itemsize,
                                   info.get("filesize", 0), info.get("run_id"), info.get("subruns"),
                                   [i, i + 1] if info["n"] else [i, i], info.get("first_time"),
                                   info.get("first_endtime"), info.get("last_time"), info.get("last_endtime"))
                       for i, info in enumerate(md["chunks"])]
        self.frame_table = []
        self.metadata = self._our_metadata(md)
        self._decoded: tuple[int, np.ndarray, np.ndarray] | None = None

    def _our_metadata(self, md: dict) -> dict:
        """What our reader would say of the folder (run, data type, lineage, chunk table), and
        where it is: ``strax_folder`` (the provenance record names it)."""
        chunks = [c.to_json() for c in self.chunks]
        frames = [{"n": c.n, "nbytes": c.nbytes, "csize": c.csize, "crc32": None} for c in self.chunks if c.n]
        start = md.get("start", self.chunks[0].start if self.chunks else None)
        end = md.get("end", self.chunks[-1].end if self.chunks else None)
        return {"run_id": md["run_id"], "data_type": md["data_type"], "data_kind": md["data_kind"],
                "dtype": md["dtype"], "lineage": md["lineage"], "lineage_hash": md["lineage_hash"],
                "start": start, "end": end, "chunk_target_size_mb": md.get("chunk_target_size_mb"),
                "chunks": chunks, "frames": frames, "strax_folder": self.path,
                "strax": {"compressor": md["compressor"], "strax_version": md.get("strax_version")}}

    def close(self) -> None:
        self._closed, self._decoded = True, None

    # -- rows: one strax chunk decoded at a time

    def _rows(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if self._decoded is None or self._decoded[0] != i:
            info = self.strax_metadata["chunks"][self.chunk(i).chunk_i]
            rows = read_folder_chunk(self.folder, info, self.strax_metadata["compressor"], self.dtype)
            self._decoded = (i, rows, kernels.endtime(rows))
            self.frames_read += 1
        return self._decoded[1], self._decoded[2]

    def _bounds(self, i: int) -> list[tuple[int, int]]:
        n, per_frame = self.chunk(i).n, max(1, FRAME_SIZE // self.dtype.itemsize)
        return [(a, min(a + per_frame, n)) for a in range(0, n, per_frame)]

    def frame_records(self, i: int) -> list[FrameRecord]:
        rows, ends = self._rows(i)
        return [_frame_record(rows[a:b], ends[a:b]) for a, b in self._bounds(i)]

    def frames(self, i: int, which=None) -> list[Frame]:
        rows, ends = self._rows(i)
        bounds = self._bounds(i)
        picked = range(len(bounds)) if which is None else which
        return [_RowsFrame(b"", b - a, rows[a:b].nbytes, 0, int(rows["time"][a]), int(rows["time"][b - 1]),
                           int(ends[b - 1]), int(ends[a]), int(ends[a:b].max()), rows=rows[a:b])
                for a, b in (bounds[j] for j in picked)]

    def decode_frame(self, frame: Frame) -> np.ndarray:
        return frame.rows

    def read_chunk(self, i: int) -> np.ndarray:
        return self._rows(i)[0]

    def iter_chunks(self, time_range=None):
        time_range = self._check_range(time_range)
        for i in self._chunks_in(time_range):
            c = self.chunks[i]
            rows = self._rows(i)[0]
            start, end = c.start, c.end
            if time_range is not None:
                rows = rows[kernels.select_in_ranges(rows, [time_range])]
                start, end = max(start, time_range[0]), min(end, time_range[1])
            yield Chunk(chunk_i=i, start=start, end=end, subruns=c.subruns, run_id=c.run_id, rows=rows)

    def load(self, time_range=None) -> np.ndarray:
        parts = [chunk.rows for chunk in self.iter_chunks(time_range)]
        return np.concatenate(parts) if parts else np.empty(0, self.dtype)


@dataclass(frozen=True, slots=True, eq=False)
class _RowsFrame(Frame):
    """A frame of rows already decoded (never carried over compressed)."""

    rows: np.ndarray | None = None
