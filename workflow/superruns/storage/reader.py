"""Reading a data file (:class:`DataFile`): metadata on open, rows and frames on request."""

from __future__ import annotations

import os
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ..base import kernels
from ..base.files import FileAccessError, NotARegularFile, open_regular
from .blosc_layout import FrameReader, decompress_into, read_frame_file
from .compression import DEFAULT_NTHREADS
from .format import (
    METADATA_CRC_KEY,
    METADATA_KEY,
    REBUILD,
    ChunkRecord,
    DataCorrupted,
    Frame,
    FrameRecord,
    StorageError,
    TimeRangeError,
    dtype_from_metadata,
    layout_records,
    parse_metadata,
)

__all__ = ["DataFile", "Chunk", "FrameCursor", "FileChanged", "read_metadata"]


class FileChanged(StorageError):
    """A file was replaced or removed while it was being read (e.g. rebuilt by a job)."""


def _open_metadata(path: str) -> tuple[dict, int, int, tuple]:
    (text, crc), header_len, nchunks, st = read_frame_file(path, (METADATA_KEY, METADATA_CRC_KEY))
    return parse_metadata(text, crc, path), header_len, nchunks, _file_identity(st)


def _file_identity(st: os.stat_result) -> tuple:
    """What tells one file from its replacement at the same path (an atomic rebuild makes a
    new inode; an in-place change moves the size or the modification time)."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def read_metadata(path, *, checksum: bool = True) -> dict:
    """The metadata of the file at ``path`` (reads only the frame's header and trailer).
    ``checksum=False`` skips the metadata's CRC32 (one trailer lookup of two: for a campaign's
    status, which reads every file's metadata; ``verify`` and every read check it)."""
    if checksum:
        return _open_metadata(os.fspath(path))[0]
    path = os.fspath(path)
    (text,), _, _, _ = read_frame_file(path, (METADATA_KEY,))
    return parse_metadata(text, None, path, check_crc=False)


@dataclass(slots=True)
class Chunk:
    """A logical chunk as read: its interval, which subruns it holds, and its rows."""

    chunk_i: int
    start: int
    end: int
    subruns: dict | None
    run_id: str | None
    rows: np.ndarray


class FrameCursor:
    """Reads frames of one open :class:`DataFile` through one file descriptor and one reused
    buffer (so a returned frame's bytes are valid until the next :meth:`raw`)."""

    def __init__(self, data: "DataFile", fd: int, buffer: bytearray | None):
        self.data, self.fd, self.buffer = data, fd, buffer

    def raw(self, chunk_i: int, k: int):
        """The compressed bytes of frame ``k`` of chunk ``chunk_i``, checked against its record
        (sizes always, CRC32 if the file was opened with ``verify``)."""
        data = self.data
        record = data.frame_table[k]
        where = data.where(chunk_i, k)
        raw = data._reader.read(k, record.csize, record.nbytes, self.fd, self.buffer, where)
        if data.verify and zlib.crc32(raw) != record.crc32:
            raise DataCorrupted(f"{where}: CRC32 mismatch, its bytes were damaged. {REBUILD}")
        data.frames_read += 1
        return raw

    def decode_into(self, raw, rows: np.ndarray, where: str) -> None:
        """Decompress ``raw`` (from :meth:`raw`) into ``rows``, its size checked."""
        decompress_into(raw, rows, self.data.nthreads, where)


class DataFile:
    """Read a data file. Opening reads only the metadata; rows are read on request.

    With ``verify=True`` (the default) the CRC32 of each frame's compressed bytes is checked
    before it is decompressed; sizes and row counts are always checked. Problems raise
    :class:`DataCorrupted` naming the file, chunk and frame.

    Time ranges (``time_range=(t0, t1)``) select by containment: the rows with
    ``t0 <= time < t1`` and ``endtime <= t1``, i.e. whose ``[time, endtime)`` lies inside
    ``[t0, t1)`` (strax's ``fully_contained_in``, with a zero-length row at ``t1`` left to the
    next range, as :func:`superruns.base.kernels.select_in_ranges` does). Only the chunks whose
    interval overlaps ``[t0, t1)`` are touched, and in them only the frames whose time
    statistics allow a selected row; frames wholly inside are decompressed straight into the
    result.
    """

    chunks: list[ChunkRecord]          # the logical chunks, in time order
    frame_table: list[FrameRecord]     # every frame of the file, in file order
    #: Its frames are blosc2 frames a writer may copy as they are (data read in place from
    #: another format, e.g. strax folders, give decoded rows instead).
    carries_frames = True

    def __init__(self, path, *, verify: bool = True, nthreads: int | None = None):
        self.path = os.fspath(path)
        self.verify = verify
        self.nthreads = int(nthreads if nthreads is not None else DEFAULT_NTHREADS)
        self.metadata, header_len, nframes_stored, self._identity = self._read_head()
        self._closed = False
        try:
            self.dtype = dtype_from_metadata(self.metadata)
            self.chunks, self.frame_table = layout_records(self.metadata, self.dtype.itemsize,
                                                           nframes_stored, self.path)
            self._reader = self._frame_reader(header_len, [f.csize for f in self.frame_table])
        except StorageError:
            raise
        except Exception as error:
            raise DataCorrupted(f"{self.path}: its metadata is inconsistent ({type(error).__name__}: "
                                f"{error}). {REBUILD}") from None
        self.frames_read = 0      # frames decompressed or handed out so far (for tests, profiling)

    def _read_head(self):
        """``(metadata, header length, frames stored, identity)``: what opening reads."""
        return _open_metadata(self.path)

    def _frame_reader(self, header_len: int, csizes: list[int]):
        return FrameReader(self.path, header_len, csizes)

    # -- properties

    @property
    def n_rows(self) -> int:
        return sum(c.n for c in self.chunks)

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.chunks)

    @property
    def data_type(self) -> str | None:
        return self.metadata.get("data_type")

    @property
    def run_id(self) -> str | None:
        return self.metadata.get("run_id")

    def __repr__(self) -> str:
        return f"DataFile({self.path!r}: {self.run_id}/{self.data_type}, {len(self.chunks)} chunks, {self.n_rows} rows)"

    def close(self) -> None:
        self._closed = True
        self._reader.close()

    def __enter__(self) -> "DataFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def frame_offsets(self) -> list[int]:
        """Where each frame's compressed bytes start in the file (for tests and benchmarks)."""
        return self._reader.offsets

    # -- frames

    def chunk(self, i: int) -> ChunkRecord:
        try:
            return self.chunks[i]
        except (IndexError, TypeError):
            raise IndexError(f"{self.path}: no chunk {i} (the file has {len(self.chunks)})") from None

    def where(self, chunk_i, k) -> str:
        """How messages name frame ``k`` of chunk ``chunk_i``."""
        return f"{self.path}: chunk {chunk_i}, frame {k}"

    @contextmanager
    def cursor(self, buffer_bytes: int = 0) -> Iterator[FrameCursor]:
        """A :class:`FrameCursor` on this file (one file descriptor, closed on exit); with
        ``buffer_bytes``, frames are read into one reused buffer of that size."""
        if self._closed:
            raise StorageError(f"{self.path}: the file is closed")
        try:
            fd = open_regular(self.path, "a superruns data file")
        except FileNotFoundError:
            raise FileChanged(f"{self.path} was removed while it was being read (deleted or being "
                              "rebuilt). Load it again once it is rebuilt.") from None
        except (NotARegularFile, FileAccessError) as error:
            raise StorageError(str(error)) from None
        try:
            if _file_identity(os.fstat(fd)) != self._identity:
                raise FileChanged(
                    f"{self.path} changed while it was being read: it was replaced (rebuilt) since "
                    "it was opened, so the rows read so far belong to the old file. Nothing says "
                    "the new file is damaged: load it again.")
            yield FrameCursor(self, fd, bytearray(buffer_bytes) if buffer_bytes else None)
        finally:
            os.close(fd)

    def frames(self, i: int, which: Iterable[int] | None = None) -> list[Frame]:
        """The compressed frames of chunk ``i`` (CRC-checked if ``verify``), for carry-over.

        ``which`` picks frames by their position in the chunk (see :meth:`frame_records`), so
        that a caller reads only the bytes it needs."""
        a, b = self.chunk(i).frames
        ks = range(a, b) if which is None else [a + j for j in which]
        if not ks:
            return []
        with self.cursor() as cursor:
            return [self._frame(bytes(cursor.raw(i, k)), self.frame_table[k]) for k in ks]

    @staticmethod
    def _frame(data: bytes, r: FrameRecord) -> Frame:
        return Frame(data=data, n=r.n, nbytes=r.nbytes, crc32=r.crc32, first_time=r.first_time,
                     last_time=r.last_time, last_endtime=r.last_endtime, first_endtime=r.first_endtime,
                     max_endtime=r.max_endtime)

    def frame_records(self, i: int) -> list[FrameRecord]:
        """What the metadata says of each frame of chunk ``i`` (rows, sizes, times): enough to
        decide which frames a time selection needs before reading any bytes."""
        a, b = self.chunk(i).frames
        return self.frame_table[a:b]

    def decode_frame(self, frame: Frame) -> np.ndarray:
        """The rows of a :class:`Frame` (e.g. one from :meth:`frames`), decompressed."""
        if self.verify and zlib.crc32(frame.data) != frame.crc32:
            raise DataCorrupted(f"{self.path}: a frame's bytes do not match its CRC32 (damaged in memory?)")
        rows = np.empty(frame.n, self.dtype)
        decompress_into(frame.data, rows, self.nthreads, f"{self.path}: frame")
        return rows

    # -- rows

    def _plan(self, chunk_indices, time_range):
        """[(chunk_i, frame k, full?)] of the frames to read; ``full`` = every row selected."""
        plan = []
        for i in chunk_indices:
            a, b = self.chunks[i].frames
            for k in range(a, b):
                if time_range is None:
                    plan.append((i, k, True))
                    continue
                t0, t1 = time_range
                f = self.frame_table[k]
                if f.last_time < t0 or f.first_time >= t1:
                    continue
                plan.append((i, k, f.first_time >= t0 and f.last_time < t1 and f.max_endtime <= t1))
        return plan

    def _materialize(self, plan, time_range) -> np.ndarray:
        """Rows of the planned frames, in order, in one preallocated array: partial frames are
        decompressed and selected first, then full frames go straight into their slice."""
        if not plan:
            return np.empty(0, self.dtype)
        table = self.frame_table
        with self.cursor(max(table[k].csize for _, k, _ in plan)) as cursor:
            partial = {}
            total = 0
            for i, k, full in plan:
                if full:
                    total += table[k].n
                    continue
                rows = np.empty(table[k].n, self.dtype)
                cursor.decode_into(cursor.raw(i, k), rows, self.where(i, k))
                keep = np.flatnonzero(kernels.select_in_ranges(rows, [time_range]))
                partial[k] = _as_bytes(rows)[keep]       # whole rows, padding bytes included
                total += len(keep)
            result = np.empty(total, self.dtype)
            offset = 0
            for i, k, full in plan:
                if full:
                    n = table[k].n
                    cursor.decode_into(cursor.raw(i, k), result[offset:offset + n], self.where(i, k))
                else:
                    n = len(partial[k])
                    _as_bytes(result[offset:offset + n])[:] = partial.pop(k)
                offset += n
        return result

    @staticmethod
    def _check_range(time_range):
        if time_range is None:
            return None
        t0, t1 = (int(t) for t in time_range)
        if t0 > t1:
            raise TimeRangeError(f"time_range {time_range}: start after end")
        return t0, t1

    def _chunks_in(self, time_range) -> list[int]:
        if time_range is None:
            return list(range(len(self.chunks)))
        t0, t1 = time_range
        return [i for i, c in enumerate(self.chunks) if c.start < t1 and c.end > t0]

    def read_chunk(self, i: int) -> np.ndarray:
        """All rows of chunk ``i``."""
        self.chunk(i)
        return self._materialize(self._plan([i], None), None)

    def iter_chunks(self, time_range=None) -> Iterator[Chunk]:
        """The chunks in order, with their rows. With ``time_range``: the chunks whose interval
        overlaps it, each clipped to it (``start``, ``end`` and each subrun's interval) and
        holding only the selected rows (see the class docstring)."""
        time_range = self._check_range(time_range)
        for i in self._chunks_in(time_range):
            c = self.chunks[i]
            rows = self._materialize(self._plan([i], time_range), time_range)
            start, end, subruns = c.start, c.end, c.subruns
            if time_range is not None:
                start, end = max(start, time_range[0]), min(end, time_range[1])
                subruns = _clip_subruns(subruns, start, end)
            yield Chunk(chunk_i=i, start=start, end=end, subruns=subruns, run_id=c.run_id, rows=rows)

    def load(self, time_range=None) -> np.ndarray:
        """All rows (or those selected by ``time_range``) as one array, each frame decompressed
        straight into its slice of the preallocated result."""
        time_range = self._check_range(time_range)
        return self._materialize(self._plan(self._chunks_in(time_range), time_range), time_range)


def _as_bytes(rows: np.ndarray) -> np.ndarray:
    """A contiguous row array as an (n, itemsize) uint8 view: copies through it keep every
    byte (numpy's structured copies skip padding)."""
    return rows.view(np.uint8).reshape(len(rows), rows.dtype.itemsize)


def _clip_subruns(subruns, start: int, end: int):
    """Each subrun's ``[start, end)`` (and ``ranges``) cut to ``[start, end)``; subruns left empty
    are dropped. Subruns in another form are returned unchanged."""
    if not isinstance(subruns, dict):
        return subruns
    result = {}
    for run_id, spec in subruns.items():
        if not (isinstance(spec, dict) and "start" in spec and "end" in spec):
            return subruns
        s, e = max(spec["start"], start), min(spec["end"], end)
        if s >= e:
            continue
        clipped = {**spec, "start": s, "end": e}
        if "n_ranges" in spec and (s, e) != (spec["start"], spec["end"]):
            del clipped["n_ranges"], clipped["livetime_ns"]   # a summary of the unclipped chunk
        if isinstance(spec.get("ranges"), list):
            clipped["ranges"] = [[max(a, start), min(b, end)] for a, b in spec["ranges"]
                                 if max(a, start) < min(b, end)]
        result[run_id] = clipped
    return result
