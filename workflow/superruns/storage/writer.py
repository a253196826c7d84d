"""Writing a data file chunk by chunk, atomically (:class:`DataWriter`)."""

from __future__ import annotations

import operator
import os
import time as _time
import zlib
from typing import Sequence

import numpy as np

from ..base import kernels
from ..base.atomic import atomic_path
from ..base.version import __version__
from .blosc_layout import MAX_CHUNK_BYTES, FrameFileWriter, chunk_sizes, decompress_into
from .compression import Compression
from .format import (
    COMPRESSOR,
    FORMAT_VERSION,
    METADATA_CRC_KEY,
    METADATA_KEY,
    RESERVED_KEYS,
    ChunkRecord,
    DataCorrupted,
    Frame,
    FrameRecord,
    StorageError,
    dtype_to_str,
    normalised,
    to_json,
)

__all__ = ["DataWriter", "FRAME_SIZE"]

# Bytes of uncompressed rows per frame, at most. A frame is the unit a time selection reads:
# 4 MiB keeps a 1% selection of a 1 GB file to ~1.7% of its bytes (16 MiB: 3.3%) while
# writing and loading as fast as 16 MiB frames; 1 MiB frames halve the write speed
# (benchmarks/README.md, "Minimum bias").
FRAME_SIZE = 4 * 2**20

#: Keys every file's metadata has (None when the caller gives none).
_STANDARD_KEYS = ("run_id", "data_type", "data_kind", "lineage", "lineage_hash", "chunk_target_size_mb")


def _time_stats(rows: np.ndarray, ends: np.ndarray) -> dict:
    return {"first_time": int(rows["time"][0]), "first_endtime": int(ends[0]),
            "last_time": int(rows["time"][-1]), "last_endtime": int(ends[-1]),
            "max_endtime": int(ends.max())}


def _check_sorted(rows: np.ndarray, where: str) -> None:
    bad = kernels.first_unsorted_row(rows)
    if bad >= 0:
        times = rows["time"]
        raise StorageError(f"{where}: rows are not sorted by time: row {bad} has time {times[bad]}, "
                           f"after {times[bad - 1]}")


class DataWriter:
    """Write one data file, chunk by chunk, atomically.

    >>> with DataWriter(path, dtype, {"run_id": "000001", "data_type": "peaks", ...}) as w:
    ...     w.write_chunk(rows, start, end)

    Only the current chunk is in memory: each frame is compressed and appended to a hidden
    temporary file (:func:`superruns.base.atomic.atomic_path`) as it comes; the metadata (with the
    chunk list) is written once, at :meth:`close`, which then fsyncs and renames the file to
    ``path``. If the ``with`` block raises, or :meth:`close` fails, the temporary file is
    removed and nothing is at ``path``.

    ``metadata`` is kept as given (lineage, run metadata, ...), apart from the keys the writer
    owns (:data:`~superruns.storage.format.RESERVED_KEYS`). A ``dtype`` in it must equal
    ``dtype``. ``compression`` (a :class:`Compression`), or ``codec``, ``clevel``, ``filter``,
    ``typesize`` and ``nthreads``, tune the compression of new frames (frames carried over keep
    theirs); ``frame_size`` caps the uncompressed bytes of one frame.
    """

    def __init__(self, path, dtype, metadata: dict, *, codec=None, clevel=None, nthreads=None,
                 filter=None, typesize=None, frame_size=None, compression: Compression | None = None):
        self.path = os.fspath(path)
        self.dtype = np.dtype(dtype)
        self._closed = False
        self._failed = False
        self._atomic = None
        self._file = None
        self._check_dtype()
        self.metadata = self._initial_metadata(metadata)
        self.compression = compression or Compression.for_dtype(
            self.dtype, codec=codec, clevel=clevel, filter=filter, typesize=typesize, nthreads=nthreads)
        frame_size = int(frame_size if frame_size is not None else FRAME_SIZE)
        self.rows_per_frame = max(1, min(frame_size, MAX_CHUNK_BYTES) // self.dtype.itemsize)
        self._chunks: list[ChunkRecord] = []
        self._frames: list[FrameRecord] = []
        self._last_end: int | None = None
        self._writing_started = _time.time()
        # The atomic write spans the writer's life (until close or discard), not one block.
        self._atomic = atomic_path(self.path)
        temporary = self._atomic.__enter__()
        try:
            self._file = FrameFileWriter(str(temporary), self.compression, name=self.path)
        except BaseException:
            self._discard()
            raise

    def _check_dtype(self) -> None:
        if self.dtype.names is None or "time" not in self.dtype.names:
            raise StorageError(f"{self.path}: rows must be a structured dtype with a 'time' field, "
                               f"got {self.dtype}")
        try:
            kernels.endtime(np.zeros(0, self.dtype))
        except ValueError as error:
            raise StorageError(f"{self.path}: {error}") from None
        if not np.issubdtype(self.dtype.fields["time"][0], np.integer):
            raise StorageError(f"{self.path}: the 'time' field must be an integer (ns), got "
                               f"{self.dtype.fields['time'][0]}")
        if self.dtype.itemsize > MAX_CHUNK_BYTES:
            raise StorageError(f"{self.path}: rows of {self.dtype.itemsize} bytes are too large for blosc2")

    def _initial_metadata(self, metadata: dict | None) -> dict:
        metadata = normalised(dict(metadata or {}), "the metadata", self.path)
        for key in sorted(RESERVED_KEYS & set(metadata)):   # e.g. a source file's metadata passed on
            del metadata[key]
        dtype_str = dtype_to_str(self.dtype)
        if "dtype" in metadata and metadata["dtype"] != dtype_str:
            raise StorageError(f"{self.path}: the metadata's dtype {metadata['dtype']} differs from the "
                               f"dtype to write {dtype_str}")
        metadata["dtype"] = dtype_str
        for key in _STANDARD_KEYS:
            metadata.setdefault(key, None)
        return metadata

    # -- public API

    def write_chunk(self, rows: np.ndarray, start: int, end: int, subruns: dict | None = None,
                    run_id: str | None = None) -> None:
        """Append a logical chunk ``[start, end)`` holding ``rows`` (compressed here)."""
        self.write_chunk_parts([rows], start, end, subruns=subruns, run_id=run_id)

    def write_chunk_parts(self, parts: Sequence, start: int, end: int, subruns: dict | None = None,
                          run_id: str | None = None) -> None:
        """Append a logical chunk made of ``parts`` in time order: row arrays (compressed here,
        split into frames) and :class:`Frame` objects (copied as they are, no recompression)."""
        self._check_open()
        chunk_i = len(self._chunks)
        where = f"{self.path}: chunk {chunk_i}"
        start, end = self._check_interval(start, end, where)
        subruns = None if subruns is None else normalised(subruns, f"chunk {chunk_i}'s subruns", self.path)
        # Every part is checked before any is written, so a refused chunk leaves no frames behind.
        prepared = self._prepare(parts, start, end, where)
        first_frame = len(self._frames)
        try:
            for part, extra in prepared:
                if isinstance(part, Frame):
                    self._append(part.data, self._carried_record(part, extra))
                else:
                    self._append_rows(part, extra)
        except BaseException:
            self._failed = True
            raise
        self._chunks.append(self._chunk_record(chunk_i, start, end, subruns, run_id, first_frame))
        self._last_end = end

    def update_metadata(self, **fields) -> None:
        """Add or overwrite top-level metadata fields before :meth:`close`."""
        self._check_open()
        reserved = sorted(RESERVED_KEYS & set(fields))
        if "dtype" in fields and fields["dtype"] != self.metadata["dtype"]:
            reserved.append("dtype")
        if reserved:
            raise StorageError(f"{self.path}: the writer sets {', '.join(reserved)} itself")
        self.metadata.update(normalised(fields, "the metadata", self.path))

    @property
    def chunks(self) -> list[ChunkRecord]:
        return self._chunks

    def close(self) -> None:
        """Write the metadata, fsync, and move the file to ``path`` (atomically)."""
        if self._closed:
            return
        if self._failed:
            self._discard()
            raise StorageError(f"{self.path}: an earlier write failed; the file was not written")
        try:
            text = to_json(self._final_metadata())
            self._file.set_meta(METADATA_KEY, text)
            self._file.set_meta(METADATA_CRC_KEY, zlib.crc32(text.encode()))
            self._file.close()
        except BaseException:
            self._discard()
            raise
        self._closed = True
        atomic, self._atomic = self._atomic, None
        atomic.__exit__(None, None, None)        # fsync, rename, fsync of the directory

    def __enter__(self) -> "DataWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._discard()
        else:
            self.close()

    def __del__(self):
        # A writer dropped without close() (or a failed one) leaves no temporary file behind.
        if getattr(self, "_atomic", None) is not None:
            try:
                self._discard()
            except Exception:
                pass

    # -- checks

    def _check_open(self) -> None:
        if self._closed or self._file is None:
            raise StorageError(f"{self.path}: the writer is closed")
        if self._failed:
            raise StorageError(f"{self.path}: an earlier write failed; discard this writer")

    def _discard(self) -> None:
        self._closed = True
        if self._file is not None:
            self._file.close()
            self._file = None
        atomic, self._atomic = self._atomic, None
        if atomic is not None:            # removes the temporary file
            atomic.__exit__(StorageError, StorageError(f"{self.path}: discarded"), None)

    def _check_interval(self, start, end, where: str) -> tuple[int, int]:
        try:
            start, end = operator.index(start), operator.index(end)
        except TypeError:
            raise StorageError(f"{where}: start and end must be integers (ns), got {start!r}, {end!r}") from None
        if start > end:
            raise StorageError(f"{where}: start {start} is after end {end}")
        if self._last_end is not None and start < self._last_end:
            raise StorageError(f"{where}: starts at {start}, before the previous chunk ends at "
                               f"{self._last_end}; chunks must be written in time order without overlap")
        return start, end

    def _prepare(self, parts: Sequence, start: int, end: int, where: str) -> list:
        """``[(part, its time statistics (and end times, for rows))]`` of the non-empty parts,
        each checked to lie inside ``[start, end)`` and after the previous one."""
        prepared, previous_time = [], None
        for p, part in enumerate(parts):
            here = f"{where}, part {p}"
            if isinstance(part, Frame):
                stats = self._check_frame(part, here)
                if part.n == 0:
                    continue
                prepared.append((part, stats))
            else:
                rows = self._check_rows(part, here)
                if len(rows) == 0:
                    continue
                _check_sorted(rows, here)
                ends = kernels.endtime(rows)
                stats = _time_stats(rows, ends)
                prepared.append((rows, ends))
            if stats["first_time"] < start or stats["last_time"] >= end or stats["max_endtime"] > end:
                raise StorageError(
                    f"{here}: rows must lie inside the chunk [{start}, {end}) "
                    f"(start <= time < end and endtime <= end), but their times span "
                    f"[{stats['first_time']}, {stats['last_time']}] and end at up to {stats['max_endtime']}")
            if previous_time is not None and stats["first_time"] < previous_time:
                raise StorageError(f"{here}: starts at time {stats['first_time']}, before the previous "
                                   f"part's last row at {previous_time}; rows must be sorted by time")
            previous_time = stats["last_time"]
        return prepared

    def _check_rows(self, rows, where: str) -> np.ndarray:
        if not isinstance(rows, np.ndarray):
            raise StorageError(f"{where}: expected a numpy structured array or a Frame, "
                               f"got {type(rows).__name__}")
        if rows.dtype != self.dtype:
            raise StorageError(f"{where}: dtype mismatch: expected {dtype_to_str(self.dtype)}, "
                               f"got {dtype_to_str(rows.dtype)}")
        if rows.ndim != 1:
            raise StorageError(f"{where}: rows must be a 1-d array, got shape {rows.shape}")
        return np.ascontiguousarray(rows)

    def _check_frame(self, frame: Frame, where: str) -> dict:
        """Check a carried frame against its own record; return its time statistics."""
        if frame.n == 0:
            return {}
        if frame.nbytes != frame.n * self.dtype.itemsize:
            raise StorageError(f"{where}: the frame holds {frame.nbytes} bytes for {frame.n} rows, "
                               f"but rows of this dtype have {self.dtype.itemsize} bytes (wrong dtype?)")
        if zlib.crc32(frame.data) != frame.crc32:
            raise DataCorrupted(f"{where}: the frame's bytes do not match its CRC32: it was damaged "
                                "after it was read. Reread it from its file.")
        nbytes, cbytes = chunk_sizes(frame.data)
        if cbytes != len(frame.data):
            nbytes = None
        if nbytes != frame.nbytes:
            raise StorageError(f"{where}: the frame decompresses to {nbytes} bytes, its record says "
                               f"{frame.nbytes}")
        if frame.first_endtime is None or frame.max_endtime is None:
            return self._frame_stats_from_rows(frame, where)
        return {"first_time": frame.first_time, "first_endtime": frame.first_endtime,
                "last_time": frame.last_time, "last_endtime": frame.last_endtime,
                "max_endtime": frame.max_endtime}

    def _frame_stats_from_rows(self, frame: Frame, where: str) -> dict:
        rows = np.empty(frame.n, self.dtype)
        decompress_into(frame.data, rows, self.compression.nthreads, where)
        _check_sorted(rows, where)
        stats = _time_stats(rows, kernels.endtime(rows))
        if (stats["first_time"], stats["last_time"], stats["last_endtime"]) != (
                frame.first_time, frame.last_time, frame.last_endtime):
            raise StorageError(f"{where}: the frame's time statistics do not match its rows")
        return stats

    # -- appending frames

    @staticmethod
    def _carried_record(frame: Frame, stats: dict) -> FrameRecord:
        return FrameRecord(frame.n, frame.nbytes, len(frame.data), frame.crc32, stats["first_time"],
                           stats["first_endtime"], stats["last_time"], stats["last_endtime"],
                           stats["max_endtime"])

    def _append(self, data: bytes, record: FrameRecord) -> None:
        stored = self._file.storable(data, record.nbytes)
        if stored is not None:
            data = stored
            record = FrameRecord(record.n, record.nbytes, len(data), zlib.crc32(data), record.first_time,
                                 record.first_endtime, record.last_time, record.last_endtime,
                                 record.max_endtime)
        self._file.append(data)
        self._frames.append(record)

    def _append_rows(self, rows: np.ndarray, ends: np.ndarray) -> None:
        n = len(rows)
        k = -(-n // self.rows_per_frame)
        bounds = [(i * n) // k for i in range(k + 1)]      # k frames of nearly equal size
        times = rows["time"]
        for i0, i1 in zip(bounds[:-1], bounds[1:]):
            block = rows[i0:i1]
            data = self._file.compress(block)
            self._append(data, FrameRecord(i1 - i0, block.nbytes, len(data), zlib.crc32(data),
                                           int(times[i0]), int(ends[i0]), int(times[i1 - 1]),
                                           int(ends[i1 - 1]), int(ends[i0:i1].max())))

    def _chunk_record(self, chunk_i, start, end, subruns, run_id, first_frame) -> ChunkRecord:
        frames = self._frames[first_frame:]
        first, last = (frames[0], frames[-1]) if frames else (None, None)
        return ChunkRecord(
            chunk_i, start, end, sum(f.n for f in frames), sum(f.nbytes for f in frames),
            sum(f.csize for f in frames), self.metadata.get("run_id") if run_id is None else run_id,
            subruns, [first_frame, len(self._frames)],
            first and first.first_time, first and first.first_endtime,
            last and last.last_time, last and last.last_endtime)

    def _final_metadata(self) -> dict:
        md = dict(self.metadata)
        if self._chunks:
            md["start"] = self._chunks[0].start
            md["end"] = self._chunks[-1].end
        else:
            md.setdefault("start", None)
            md.setdefault("end", None)
        md.update(
            format_version=FORMAT_VERSION,
            superruns_version=__version__,
            compressor=COMPRESSOR,
            compression=self.compression.record(self.rows_per_frame),
            chunks=[c.to_json() for c in self._chunks],
            frames=[f.to_json() for f in self._frames],
            writing_started=self._writing_started,
            writing_ended=_time.time(),
        )
        return md
