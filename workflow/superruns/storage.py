"""The file format: one blosc2 contiguous frame per (run, data type).

A file holds the rows of one data type of one run (or superrun) as raw structured-array bytes
(``rows.tobytes()`` of a C-contiguous array, byte order as in the dtype) in a blosc2 ``SChunk``
with variable-size chunks, and its metadata as one JSON string in the frame's ``vlmeta`` under
:data:`METADATA_KEY`.

Words:

- A *logical chunk* is strax's chunk: a half-open time interval ``[start, end)`` and the rows
  in it. Its metadata (``chunks[i]``) keeps strax's field names.
- A *frame* is one blosc2 chunk holding whole rows, at most :data:`FRAME_SIZE` bytes
  uncompressed. A logical chunk is stored as zero (no rows) or more consecutive frames
  (``chunks[i]["frames"] = [first, stop)``, indices into the top-level ``frames`` list and into
  the SChunk). Each frame records its row count, sizes, the CRC32 of its compressed bytes
  and time statistics, so frames can be copied from one file into another without
  recompression (:meth:`DataFile.frames` -> :meth:`DataWriter.write_chunk_parts`) and a time
  range can skip frames without reading them.

Rows of a chunk ``[start, end)`` satisfy ``start <= time < end`` and ``endtime <= end`` and are
sorted by time; chunks are in time order and do not overlap. That is strax's rule (``time >=
start``, ``endtime <= end``) with the half-open interval made exact: a row belongs to exactly
the chunk that contains it by the same rule :func:`superruns.kernels.select_in_ranges` uses.

Writes are atomic: a hidden temporary file ``.{name}.tmp-{pid}-{random}`` in the target
directory, fsync, ``os.replace``, fsync of the directory. Nothing appears at the target path
unless the whole file was written.

Defaults were chosen by measurement (``benchmarks/storage_bench.py``; numbers in
``benchmarks/README.md``, "Storage"): on peaks-like rows lz4 at clevel 5 without a shuffle
filter compresses 4.3x (shuffle: 4.35x; zstd 1 + shuffle: 5.0x) and decompresses 2-4x faster
than with shuffle, so whole-file loads run at ~3.8 GB/s against ~2.8 with shuffle (2 threads,
page cache). Frames of 16 MiB keep compression streamed and give blosc2's threads enough blocks.
Reading with CRC checks: ``os.pread`` into a reused buffer + ``zlib.crc32`` + ``decompress2``
straight into the result's slice (10-30 % faster than ``SChunk.get_chunk``, which allocates).
"""

from __future__ import annotations

import ast
import functools
import json
import operator
import os
import secrets
import struct
import time as _time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import blosc2
import numpy as np
from numpy.lib.format import descr_to_dtype

from .errors import SuperrunsError
from . import kernels

__all__ = [
    "Frame", "Chunk", "DataWriter", "DataFile", "DataCorrupted", "StorageError",
    "read_metadata", "dtype_from_metadata", "dtype_to_str",
    "FORMAT_VERSION", "METADATA_KEY", "DEFAULT_CODEC", "DEFAULT_CLEVEL", "DEFAULT_FILTER",
    "DEFAULT_NTHREADS", "COMPRESSION_NTHREADS", "FRAME_SIZE",
]

FORMAT_VERSION = 1
METADATA_KEY = "superruns"
METADATA_CRC_KEY = "superruns_crc32"   # zlib.crc32 of the metadata JSON (UTF-8)
COMPRESSOR = "blosc2"

# Measured on peaks-like rows (benchmarks/README.md, "Storage").
DEFAULT_CODEC = "lz4"
DEFAULT_CLEVEL = 5
DEFAULT_FILTER = "nofilter"
DEFAULT_NTHREADS = 2
# blosc2 compressing with several threads writes the blocks of a chunk in the order they
# finish, so the same rows give different bytes from one build to the next. One thread keeps
# every build byte-identical (checked in tests/test_reproducibility.py); reading uses two.
COMPRESSION_NTHREADS = 1
# Bytes of uncompressed rows per frame, at most. A frame is the unit a time selection reads:
# 4 MiB keeps a 1% selection of a 1 GB file to ~1.7% of its bytes (16 MiB: 3.3%) while
# writing and loading as fast as 16 MiB frames; 1 MiB frames halve the write speed
# (benchmarks/README.md, "Minimum bias").
FRAME_SIZE = 4 * 2**20

_MAX_FRAME_SIZE = 2**31 - 2**20  # blosc2's limit on one chunk is just below 2 GiB
_FRAME_MAGIC = b"b2frame\x00"
_REBUILD = "The file is damaged: delete it and rebuild it (e.g. rerun snakemake for this target)."
# Keys the writer owns; callers cannot set them through ``metadata`` or ``update_metadata``.
_RESERVED = frozenset({"chunks", "frames", "format_version", "writing_started", "writing_ended",
                       "compressor", "compression", "superruns_version"})


class StorageError(SuperrunsError):
    """A file cannot be written or read as asked; the message names the file and the fix."""


class DataCorrupted(StorageError):
    """A file's bytes do not match what its metadata says (truncated, bit flips, ...)."""


@dataclass(frozen=True)
class Frame:
    """One compressed frame as stored: whole rows, compressed by blosc2 (self-describing).

    ``first_endtime`` and ``max_endtime`` are filled by :meth:`DataFile.frames`. A Frame built
    by hand may leave them ``None``; the writer then decompresses it once to compute them.
    """

    data: bytes
    n: int
    nbytes: int
    crc32: int
    first_time: int
    last_time: int
    last_endtime: int
    first_endtime: int | None = None
    max_endtime: int | None = None

    @property
    def csize(self) -> int:
        return len(self.data)

    def record(self) -> dict:
        """The frame's entry in a file's ``frames`` list."""
        return {"n": self.n, "nbytes": self.nbytes, "csize": len(self.data), "crc32": self.crc32,
                "first_time": self.first_time, "first_endtime": self.first_endtime,
                "last_time": self.last_time, "last_endtime": self.last_endtime,
                "max_endtime": self.max_endtime}


@dataclass
class Chunk:
    """A logical chunk as read: its interval, which subruns it holds, and its rows."""

    chunk_i: int
    start: int
    end: int
    subruns: dict | None
    run_id: str | None
    rows: np.ndarray


# -- dtypes and metadata --------------------------------------------------------------------------


def dtype_to_str(dtype) -> str:
    """strax's encoding of a dtype: ``repr(dtype.descr)`` (titles kept)."""
    return repr(np.dtype(dtype).descr)


def dtype_from_metadata(md) -> np.dtype:
    """The dtype from a metadata dict (or its ``dtype`` string), as strax encodes it.

    Padding entries ``('', '|Vn')`` become gaps (offsets) again, so the dtype is equal to the
    one written; strax's ``np.dtype(literal_eval(...))`` would turn them into fields ``f5``.
    """
    return _parse_dtype(md if isinstance(md, str) else md["dtype"])


@functools.lru_cache(maxsize=256)
def _parse_dtype(text: str) -> np.dtype:
    # Cached: a superrun opens thousands of subrun files that share one dtype.
    descr = ast.literal_eval(text)
    if isinstance(descr, str):
        return np.dtype(descr)
    return descr_to_dtype(descr)


def _json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{value!r} (type {type(value).__name__}) cannot be stored in JSON metadata")


def _to_json(value) -> str:
    # Keys keep their order (strax sorts them; here the order of e.g. subruns is time order).
    return json.dumps(value, default=_json_default)


def _normalised(value, what: str, path):
    """``value`` as it will read back from JSON (keys as strings, tuples as lists)."""
    try:
        return json.loads(_to_json(value))
    except (TypeError, ValueError) as error:
        raise StorageError(f"{path}: {what} cannot be stored as JSON metadata: {error}") from None


def _check_header(path: str) -> int:
    """Refuse, with a clear message, files that are not whole blosc2 frames (before blosc2
    reads them); return the frame's header length (where the first frame's bytes start)."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(24)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such data file") from None
    except IsADirectoryError:
        raise StorageError(f"{path} is a directory, not a superruns data file (a strax folder?)") from None
    if size == 0:
        raise DataCorrupted(f"{path}: the file is empty. {_REBUILD}")
    if len(head) < 24 or head[2:10] != _FRAME_MAGIC:
        if len(head) < 24 and _FRAME_MAGIC.startswith(head[2:10]):
            raise DataCorrupted(f"{path}: the file is truncated ({size} bytes). {_REBUILD}")
        raise StorageError(f"{path} is not a superruns data file (not a blosc2 frame). "
                           "Delete it and rebuild it, or point to the right file.")
    (header_len,) = struct.unpack(">i", head[11:15])
    (frame_size,) = struct.unpack(">Q", head[16:24])
    if frame_size != size:
        what = "truncated" if size < frame_size else "longer than its frame"
        raise DataCorrupted(f"{path}: the file is {what}: {size} bytes on disk, {frame_size} "
                            f"written. {_REBUILD}")
    return header_len


def _vlmeta_value(schunk, key: str, path: str):
    """``schunk.vlmeta[key]``, or None when the frame has no such key."""
    try:
        return schunk.vlmeta[key]
    except KeyError:
        return None
    except Exception as error:
        raise DataCorrupted(f"{path}: its metadata cannot be read ({error}). {_REBUILD}") from None


def _open_frame(path: str):
    header_len = _check_header(path)
    try:
        schunk = blosc2.open(path, mode="r")
    except Exception as error:
        raise DataCorrupted(f"{path}: blosc2 cannot open the frame ({error}). {_REBUILD}") from None
    if not isinstance(schunk, blosc2.SChunk) or type(schunk) is not blosc2.SChunk:
        raise StorageError(f"{path} is a blosc2 {type(schunk).__name__}, not a superruns data file.")
    # One vlmeta lookup per key: each lookup (and each `in` test) decodes the whole trailer,
    # which dominates opening the thousands of small files of a large superrun.
    text, crc = _vlmeta_value(schunk, METADATA_KEY, path), _vlmeta_value(schunk, METADATA_CRC_KEY, path)
    if text is None:
        raise StorageError(f"{path} has no superruns metadata: it was not written by superruns "
                           "(or its writing never finished). Delete it and rebuild it.")
    if not isinstance(text, str) or crc != zlib.crc32(text.encode()):
        raise DataCorrupted(f"{path}: its metadata does not match its checksum. {_REBUILD}")
    try:
        metadata = json.loads(text)
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
    except (ValueError, TypeError) as error:
        raise DataCorrupted(f"{path}: its metadata is not valid JSON ({error}). {_REBUILD}") from None
    version = metadata.get("format_version")
    if not isinstance(version, int):
        raise StorageError(f"{path}: its metadata has no format_version: not a superruns data file. "
                           "Delete it and rebuild it.")
    if version > FORMAT_VERSION:
        raise StorageError(f"{path} was written in format version {version}, newer than this superruns "
                           f"reads ({FORMAT_VERSION}): upgrade superruns.")
    nchunks = schunk.nchunks
    del schunk                  # an open SChunk holds a file descriptor: keep none open
    return metadata, header_len, nchunks


def read_metadata(path) -> dict:
    """The metadata of the file at ``path`` (reads only the frame's header and trailer)."""
    return _open_frame(os.fspath(path))[0]


def _time_stats(rows: np.ndarray, ends: np.ndarray) -> dict:
    return {"first_time": int(rows["time"][0]), "first_endtime": int(ends[0]),
            "last_time": int(rows["time"][-1]), "last_endtime": int(ends[-1]),
            "max_endtime": int(ends.max())}


def _codec(value) -> blosc2.Codec:
    if isinstance(value, blosc2.Codec):
        return value
    try:
        return blosc2.Codec[str(value).upper()]
    except KeyError:
        raise StorageError(f"Unknown codec {value!r}; use one of "
                           f"{', '.join(c.name.lower() for c in blosc2.Codec)}") from None


def _filter(value) -> blosc2.Filter:
    if isinstance(value, blosc2.Filter):
        return value
    try:
        return blosc2.Filter[str(value).upper()]
    except KeyError:
        raise StorageError(f"Unknown filter {value!r}; use shuffle, bitshuffle or nofilter") from None


def default_typesize(dtype) -> int:
    """The item size the shuffle filter groups bytes by: the element size (1, 2, 4 or 8) that
    holds most of the row's bytes (4 for peaks: float32 waveforms)."""
    weights: dict[int, int] = {}

    def visit(dt: np.dtype, count: int) -> None:
        if dt.fields:
            for name in dt.names:
                visit(dt.fields[name][0], count)
        elif dt.subdtype is not None:
            visit(dt.subdtype[0], count * int(np.prod(dt.subdtype[1])))
        else:
            size = dt.itemsize if dt.itemsize in (1, 2, 4, 8) else 1
            weights[size] = weights.get(size, 0) + dt.itemsize * count

    visit(np.dtype(dtype), 1)
    return max(weights, key=lambda s: (weights[s], s)) if weights else 1


# -- writing ---------------------------------------------------------------------------------------------


class DataWriter:
    """Write one data file, chunk by chunk, atomically.

    >>> with DataWriter(path, dtype, {"run_id": "000001", "data_type": "peaks", ...}) as w:
    ...     w.write_chunk(rows, start, end)

    Only the current chunk is in memory: each frame is compressed and appended to a hidden
    temporary file as it comes; the metadata (with the chunk list) is written once, at
    :meth:`close`, which then fsyncs and renames the file to ``path``. If the ``with`` block
    raises, or :meth:`close` fails, the temporary file is removed and nothing is at ``path``.

    ``metadata`` is kept as given (lineage, run metadata, ...), apart from the keys the writer
    owns (``chunks, frames, format_version, writing_started, writing_ended, compressor,
    compression``). A ``dtype`` in it must equal ``dtype``. ``codec``, ``clevel``,
    ``filter``, ``typesize`` and ``nthreads`` tune the compression of new frames (frames
    carried over keep theirs); ``frame_size`` caps the uncompressed bytes of one frame.
    """

    def __init__(self, path, dtype, metadata: dict, *, codec=None, clevel=None, nthreads=None,
                 filter=None, typesize=None, frame_size=None):
        self.path = os.fspath(path)
        self.dtype = np.dtype(dtype)
        self._tmp = None
        self._schunk = None
        self._closed = False
        self._failed = False
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
        metadata = _normalised(dict(metadata or {}), "the metadata", self.path)
        reserved = sorted(_RESERVED & set(metadata))
        for key in reserved:       # e.g. a source file's metadata passed on: the writer owns these
            del metadata[key]
        dtype_str = dtype_to_str(self.dtype)
        if "dtype" in metadata and metadata["dtype"] != dtype_str:
            raise StorageError(f"{self.path}: the metadata's dtype {metadata['dtype']} differs from the "
                               f"dtype to write {dtype_str}")
        metadata["dtype"] = dtype_str
        for key in ("run_id", "data_type", "data_kind", "lineage", "lineage_hash",
                    "chunk_target_size_mb"):
            metadata.setdefault(key, None)
        self.metadata = metadata

        self.codec = _codec(codec if codec is not None else DEFAULT_CODEC)
        self.clevel = int(clevel if clevel is not None else DEFAULT_CLEVEL)
        self.filter = _filter(filter if filter is not None else DEFAULT_FILTER)
        self.typesize = int(typesize if typesize is not None else default_typesize(self.dtype))
        self.nthreads = int(nthreads if nthreads is not None else COMPRESSION_NTHREADS)
        frame_size = int(frame_size if frame_size is not None else FRAME_SIZE)
        self.rows_per_frame = max(1, min(frame_size, _MAX_FRAME_SIZE) // self.dtype.itemsize)
        if self.dtype.itemsize > _MAX_FRAME_SIZE:
            raise StorageError(f"{self.path}: rows of {self.dtype.itemsize} bytes are too large for blosc2")
        self.cparams = blosc2.CParams(codec=self.codec, clevel=self.clevel, typesize=self.typesize,
                                      nthreads=self.nthreads, filters=[self.filter], filters_meta=[0])

        self._chunks: list[dict] = []
        self._frames: list[dict] = []
        self._last_end: int | None = None
        self._writing_started = _time.time()

        directory, name = os.path.split(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self._dir = directory
        self._tmp = os.path.join(directory, f".{name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            self._schunk = blosc2.SChunk(chunksize=0, contiguous=True, urlpath=self._tmp, mode="w",
                                         cparams=self.cparams)
        except Exception:
            self._discard()
            raise

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
        try:
            start, end = operator.index(start), operator.index(end)
        except TypeError:
            raise StorageError(f"{where}: start and end must be integers (ns), got {start!r}, {end!r}") from None
        if start > end:
            raise StorageError(f"{where}: start {start} is after end {end}")
        if self._last_end is not None and start < self._last_end:
            raise StorageError(f"{where}: starts at {start}, before the previous chunk ends at "
                               f"{self._last_end}; chunks must be written in time order without overlap")
        subruns = None if subruns is None else _normalised(subruns, f"chunk {chunk_i}'s subruns", self.path)
        if run_id is None:
            run_id = self.metadata.get("run_id")

        # Validate every part before writing any, so a refused chunk leaves no frames behind.
        prepared = []
        previous_time = None
        for p, part in enumerate(parts):
            if isinstance(part, Frame):
                stats = self._check_frame(part, f"{where}, part {p}")
                if part.n == 0:
                    continue
                prepared.append((part, stats))
            else:
                rows = self._check_rows(part, f"{where}, part {p}")
                if len(rows) == 0:
                    continue
                ends = kernels.endtime(rows)
                stats = self._check_times(rows, ends, f"{where}, part {p}")
                prepared.append((rows, (stats, ends)))
            first_time = stats["first_time"]
            if first_time < start or stats["last_time"] >= end or stats["max_endtime"] > end:
                raise StorageError(
                    f"{where}, part {p}: rows must lie inside the chunk [{start}, {end}) "
                    f"(start <= time < end and endtime <= end), but their times span "
                    f"[{first_time}, {stats['last_time']}] and end at up to {stats['max_endtime']}")
            if previous_time is not None and first_time < previous_time:
                raise StorageError(f"{where}, part {p}: starts at time {first_time}, before the previous "
                                   f"part's last row at {previous_time}; rows must be sorted by time")
            previous_time = stats["last_time"]

        first_frame = len(self._frames)
        try:
            for part, extra in prepared:
                if isinstance(part, Frame):
                    self._append(part.data, {**part.record(), **extra})
                else:
                    self._append_rows(part, *extra)
        except BaseException:
            self._failed = True
            raise
        frames = self._frames[first_frame:]
        chunk = {"chunk_i": chunk_i, "start": start, "end": end,
                 "n": sum(f["n"] for f in frames), "nbytes": sum(f["nbytes"] for f in frames),
                 "csize": sum(f["csize"] for f in frames), "run_id": run_id, "subruns": subruns,
                 "frames": [first_frame, len(self._frames)]}
        if frames:
            chunk.update(first_time=frames[0]["first_time"], first_endtime=frames[0]["first_endtime"],
                         last_time=frames[-1]["last_time"], last_endtime=frames[-1]["last_endtime"])
        self._chunks.append(chunk)
        self._last_end = end

    def update_metadata(self, **fields) -> None:
        """Add or overwrite top-level metadata fields before :meth:`close`."""
        self._check_open()
        reserved = sorted(_RESERVED & set(fields))
        if "dtype" in fields and fields["dtype"] != self.metadata["dtype"]:
            reserved.append("dtype")
        if reserved:
            raise StorageError(f"{self.path}: the writer sets {', '.join(reserved)} itself")
        self.metadata.update(_normalised(fields, "the metadata", self.path))

    @property
    def chunks(self) -> list[dict]:
        return self._chunks

    def close(self) -> None:
        """Write the metadata, fsync, and move the file to ``path`` (atomically)."""
        if self._closed:
            return
        if self._failed:
            self._discard()
            raise StorageError(f"{self.path}: an earlier write failed; the file was not written")
        try:
            metadata = self._final_metadata()
            text = _to_json(metadata)
            self._schunk.vlmeta[METADATA_KEY] = text
            self._schunk.vlmeta[METADATA_CRC_KEY] = zlib.crc32(text.encode())
            self._schunk = None          # frees the C frame; blosc2 has written through to disk
            fd = os.open(self._tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self._tmp, self.path)
            self._tmp = None
        except BaseException:
            self._discard()
            raise
        self._closed = True
        try:
            fd = os.open(self._dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass        # some file systems cannot fsync a directory; the rename is done

    def __enter__(self) -> "DataWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._discard()
        else:
            self.close()

    def __del__(self):
        # A writer dropped without close() (or a failed one) leaves no temporary file behind.
        if getattr(self, "_tmp", None) and not getattr(self, "_closed", True):
            try:
                self._discard()
            except Exception:
                pass

    # -- internals

    def _check_open(self) -> None:
        if self._closed or self._schunk is None:
            raise StorageError(f"{self.path}: the writer is closed")
        if self._failed:
            raise StorageError(f"{self.path}: an earlier write failed; discard this writer")

    def _discard(self) -> None:
        self._closed = True
        self._schunk = None
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            self._tmp = None

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

    def _check_times(self, rows: np.ndarray, ends: np.ndarray, where: str) -> dict:
        times = rows["time"]
        bad = kernels.first_unsorted_row(rows)
        if bad >= 0:
            raise StorageError(f"{where}: rows are not sorted by time: row {bad} has time {times[bad]}, "
                               f"after {times[bad - 1]}")
        return _time_stats(rows, ends)

    def _check_frame(self, frame: Frame, where: str) -> dict:
        """Check a carried frame against its own record; return stats the record lacks."""
        if frame.n == 0:
            return {}
        if frame.nbytes != frame.n * self.dtype.itemsize:
            raise StorageError(f"{where}: the frame holds {frame.nbytes} bytes for {frame.n} rows, "
                               f"but rows of this dtype have {self.dtype.itemsize} bytes (wrong dtype?)")
        if zlib.crc32(frame.data) != frame.crc32:
            raise DataCorrupted(f"{where}: the frame's bytes do not match its CRC32: it was damaged "
                                "after it was read. Reread it from its file.")
        nbytes, cbytes = _chunk_sizes(frame.data)
        if cbytes != len(frame.data):
            nbytes = None
        if nbytes != frame.nbytes:
            raise StorageError(f"{where}: the frame decompresses to {nbytes} bytes, its record says "
                               f"{frame.nbytes}")
        if frame.first_endtime is None or frame.max_endtime is None:
            rows = np.empty(frame.n, self.dtype)
            blosc2.decompress2(frame.data, dst=rows, nthreads=self.nthreads)
            ends = kernels.endtime(rows)
            stats = self._check_times(rows, ends, where)
            if (stats["first_time"], stats["last_time"], stats["last_endtime"]) != (
                    frame.first_time, frame.last_time, frame.last_endtime):
                raise StorageError(f"{where}: the frame's time statistics do not match its rows")
            return stats
        return {"first_time": frame.first_time, "last_time": frame.last_time,
                "max_endtime": frame.max_endtime}

    def _append(self, data: bytes, record: dict) -> None:
        if _is_special(data):
            # blosc2 stores an all-zero chunk as an index entry only, and a variable-size SChunk
            # then cannot return it (get_chunk fails): store such a frame uncompressed instead.
            rows = np.empty(record["nbytes"], np.uint8)
            blosc2.decompress2(data, dst=rows)
            data = blosc2.compress2(rows, cparams=blosc2.CParams(clevel=0, typesize=self.typesize,
                                                                 nthreads=self.nthreads))
            record = {**record, "csize": len(data), "crc32": zlib.crc32(data)}
        self._schunk.append_chunk(data)
        self._frames.append(record)

    def _append_rows(self, rows: np.ndarray, stats: dict, ends: np.ndarray) -> None:
        n = len(rows)
        k = -(-n // self.rows_per_frame)
        bounds = [(i * n) // k for i in range(k + 1)]      # k frames of nearly equal size
        times = rows["time"]
        for i0, i1 in zip(bounds[:-1], bounds[1:]):
            block = rows[i0:i1]
            data = blosc2.compress2(block, cparams=self.cparams)
            self._append(data, {"n": i1 - i0, "nbytes": block.nbytes, "csize": len(data),
                                "crc32": zlib.crc32(data),
                                "first_time": int(times[i0]), "first_endtime": int(ends[i0]),
                                "last_time": int(times[i1 - 1]), "last_endtime": int(ends[i1 - 1]),
                                "max_endtime": int(ends[i0:i1].max())})

    def _final_metadata(self) -> dict:
        from .version import __version__

        md = dict(self.metadata)
        if self._chunks:
            md["start"] = self._chunks[0]["start"]
            md["end"] = self._chunks[-1]["end"]
        else:
            md.setdefault("start", None)
            md.setdefault("end", None)
        md.update(
            format_version=FORMAT_VERSION,
            superruns_version=__version__,
            compressor=COMPRESSOR,
            compression={"codec": self.codec.name.lower(), "clevel": self.clevel,
                         "filter": self.filter.name.lower(), "typesize": self.typesize,
                         "frame_rows": self.rows_per_frame},
            chunks=self._chunks,
            frames=self._frames,
            writing_started=self._writing_started,
            writing_ended=_time.time(),
        )
        return md


# -- reading ---------------------------------------------------------------------------------------------


class DataFile:
    """Read a data file. Opening reads only the metadata; rows are read on request.

    With ``verify=True`` (the default) the CRC32 of each frame's compressed bytes is checked
    before it is decompressed; sizes and row counts are always checked. Problems raise
    :class:`DataCorrupted` naming the file, chunk and frame.

    Time ranges (``time_range=(t0, t1)``) select by containment: the rows with
    ``t0 <= time < t1`` and ``endtime <= t1``, i.e. whose ``[time, endtime)`` lies inside
    ``[t0, t1)`` (strax's ``fully_contained_in``, with a zero-length row at ``t1`` left to the
    next range, as :func:`superruns.kernels.select_in_ranges` does). Only the chunks whose
    interval overlaps ``[t0, t1)`` are touched, and in them only the frames whose time
    statistics allow a selected row; frames wholly inside are decompressed straight into the
    result.
    """

    def __init__(self, path, *, verify: bool = True, nthreads: int | None = None):
        self.path = os.fspath(path)
        self.verify = verify
        self.nthreads = int(nthreads if nthreads is not None else DEFAULT_NTHREADS)
        self.metadata, header_len, self._nframes_stored = _open_frame(self.path)
        self._schunk = None       # opened only if frames must be found by blosc2 (see _frame_bytes)
        self._closed = False
        try:
            self.dtype = dtype_from_metadata(self.metadata)
            self.chunks: list[dict] = self.metadata["chunks"]
            self._frames: list[dict] = self.metadata["frames"]
            self._check_layout()
            # Frames are appended one after the other behind the frame header and never
            # rewritten, so frame k starts at header_len + the sizes of the frames before it.
            # Reading them there with os.pread into a reused buffer is 10-30 % faster than
            # SChunk.get_chunk; each read is checked against the chunk header (sizes) and falls
            # back to get_chunk if the layout is not as expected.
            self._offsets = (header_len + np.cumsum([0] + [f["csize"] for f in self._frames])).tolist()
            self._direct = True
        except StorageError:
            raise
        except Exception as error:
            raise DataCorrupted(f"{self.path}: its metadata is inconsistent ({type(error).__name__}: "
                                f"{error}). {_REBUILD}") from None
        self.frames_read = 0      # frames decompressed or handed out so far (for tests, profiling)

    def _check_layout(self) -> None:
        keys = {"n", "nbytes", "csize", "crc32", "first_time", "first_endtime", "last_time",
                "last_endtime", "max_endtime"}
        for k, f in enumerate(self._frames):
            if not keys <= set(f) or not all(isinstance(f[key], int) for key in keys):
                raise DataCorrupted(f"{self.path}: frame {k}'s metadata is incomplete. {_REBUILD}")
        expected = 0
        for i, c in enumerate(self.chunks):
            a, b = c["frames"]
            frames = self._frames[a:b]
            if a != expected or b < a or b > len(self._frames) or c["chunk_i"] != i or \
                    sum(f["n"] for f in frames) != c["n"] or \
                    any(f["nbytes"] != f["n"] * self.dtype.itemsize for f in frames):
                raise DataCorrupted(f"{self.path}: chunk {i}'s metadata does not match its frames. {_REBUILD}")
            expected = b
        if expected != len(self._frames) or self._nframes_stored != len(self._frames):
            raise DataCorrupted(f"{self.path}: the metadata lists {len(self._frames)} frames, the file "
                                f"holds {self._nframes_stored}. {_REBUILD}")

    # -- properties

    @property
    def n_rows(self) -> int:
        return sum(c["n"] for c in self.chunks)

    @property
    def nbytes(self) -> int:
        return sum(c["nbytes"] for c in self.chunks)

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
        self._schunk = None

    def __enter__(self) -> "DataFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- frames

    def _chunk(self, i: int) -> dict:
        try:
            return self.chunks[i]
        except (IndexError, TypeError):
            raise IndexError(f"{self.path}: no chunk {i} (the file has {len(self.chunks)})") from None

    def _where(self, chunk_i, k) -> str:
        return f"{self.path}: chunk {chunk_i}, frame {k}"

    def _open_fd(self) -> int:
        if self._closed:
            raise StorageError(f"{self.path}: the file is closed")
        try:
            return os.open(self.path, os.O_RDONLY)
        except OSError as error:
            raise StorageError(f"{self.path}: cannot be read ({error})") from None

    def _frame_bytes(self, chunk_i: int, k: int, fd: int | None = None, buffer: bytearray | None = None):
        """The compressed bytes of frame ``k``, checked against its record (CRC32 if ``verify``).

        With ``fd`` the bytes are read with os.pread (into ``buffer`` if given: the result is
        then a view of it, valid until the next read into the same buffer)."""
        record = self._frames[k]
        csize = record["csize"]
        data = None
        if fd is not None and self._direct:
            try:
                if buffer is not None:
                    data = memoryview(buffer)[:csize]
                    got = os.preadv(fd, [data], self._offsets[k])
                else:
                    data = os.pread(fd, csize, self._offsets[k])
                    got = len(data)
            except OSError as error:
                raise DataCorrupted(f"{self._where(chunk_i, k)}: cannot be read ({error}). {_REBUILD}") from None
            if got != csize or _chunk_sizes(data) != (record["nbytes"], csize):
                self._direct = False        # not the layout expected: let blosc2 find the frames
                data = None
        if data is None:
            try:
                if self._schunk is None:
                    self._schunk = blosc2.open(self.path, mode="r")
                data = self._schunk.get_chunk(k)
            except Exception as error:
                raise DataCorrupted(f"{self._where(chunk_i, k)}: cannot be read ({error}). {_REBUILD}") from None
            if len(data) != csize:
                raise DataCorrupted(f"{self._where(chunk_i, k)}: {len(data)} compressed bytes, the metadata "
                                    f"says {csize}. {_REBUILD}")
        if self.verify and zlib.crc32(data) != record["crc32"]:
            raise DataCorrupted(f"{self._where(chunk_i, k)}: CRC32 mismatch, its bytes were damaged. {_REBUILD}")
        self.frames_read += 1
        return data

    def _decompress(self, data, dst: np.ndarray, where: str) -> None:
        nbytes = _chunk_sizes(data)[0]
        if nbytes != dst.nbytes:
            raise DataCorrupted(f"{where}: decompresses to {nbytes} bytes, expected {dst.nbytes} "
                                f"({len(dst)} rows). {_REBUILD}")
        try:
            blosc2.decompress2(data, dst=dst, nthreads=self.nthreads)
        except Exception as error:
            raise DataCorrupted(f"{where}: cannot be decompressed ({error}). {_REBUILD}") from None

    def frames(self, i: int, which: Iterable[int] | None = None) -> list[Frame]:
        """The compressed frames of chunk ``i`` (CRC-checked if ``verify``), for carry-over.

        ``which`` picks frames by their position in the chunk (see :meth:`frame_records`), so
        that a caller reads only the bytes it needs."""
        a, b = self._chunk(i)["frames"]
        ks = range(a, b) if which is None else [a + j for j in which]
        result = []
        if not ks:
            return result
        fd = self._open_fd()
        try:
            for k in ks:
                r = self._frames[k]
                result.append(Frame(data=bytes(self._frame_bytes(i, k, fd)), n=r["n"], nbytes=r["nbytes"],
                                    crc32=r["crc32"], first_time=r["first_time"], last_time=r["last_time"],
                                    last_endtime=r["last_endtime"], first_endtime=r["first_endtime"],
                                    max_endtime=r["max_endtime"]))
        finally:
            os.close(fd)
        return result

    def frame_records(self, i: int) -> list[dict]:
        """What the metadata says of each frame of chunk ``i`` (rows, sizes, times): enough to
        decide which frames a time selection needs before reading any bytes."""
        a, b = self._chunk(i)["frames"]
        return self._frames[a:b]

    def decode_frame(self, frame: Frame) -> np.ndarray:
        """The rows of a :class:`Frame` (e.g. one from :meth:`frames`), decompressed."""
        if self.verify and zlib.crc32(frame.data) != frame.crc32:
            raise DataCorrupted(f"{self.path}: a frame's bytes do not match its CRC32 (damaged in memory?)")
        rows = np.empty(frame.n, self.dtype)
        self._decompress(frame.data, rows, f"{self.path}: frame")
        return rows

    # -- rows

    def _plan(self, chunk_indices, time_range):
        """[(chunk_i, frame k, full?)] of the frames to read; ``full`` = every row selected."""
        plan = []
        for i in chunk_indices:
            a, b = self.chunks[i]["frames"]
            for k in range(a, b):
                if time_range is None:
                    plan.append((i, k, True))
                    continue
                t0, t1 = time_range
                f = self._frames[k]
                if f["last_time"] < t0 or f["first_time"] >= t1:
                    continue
                full = f["first_time"] >= t0 and f["last_time"] < t1 and f["max_endtime"] <= t1
                plan.append((i, k, full))
        return plan

    def _materialize(self, plan, time_range) -> np.ndarray:
        """Rows of the planned frames, in order, in one preallocated array: partial frames are
        decompressed and selected first, then full frames go straight into their slice."""
        if not plan:
            return np.empty(0, self.dtype)
        fd = self._open_fd()
        try:
            buffer = bytearray(max(self._frames[k]["csize"] for _, k, _ in plan))
            partial = {}
            total = 0
            for i, k, full in plan:
                if full:
                    total += self._frames[k]["n"]
                else:
                    rows = np.empty(self._frames[k]["n"], self.dtype)
                    self._decompress(self._frame_bytes(i, k, fd, buffer), rows, self._where(i, k))
                    keep = np.flatnonzero(kernels.select_in_ranges(rows, [time_range]))
                    partial[k] = _as_bytes(rows)[keep]       # whole rows, padding bytes included
                    total += len(keep)
            result = np.empty(total, self.dtype)
            offset = 0
            for i, k, full in plan:
                if full:
                    n = self._frames[k]["n"]
                    self._decompress(self._frame_bytes(i, k, fd, buffer), result[offset:offset + n],
                                     self._where(i, k))
                else:
                    n = len(partial[k])
                    _as_bytes(result[offset:offset + n])[:] = partial.pop(k)
                offset += n
        finally:
            os.close(fd)
        return result

    @staticmethod
    def _check_range(time_range):
        if time_range is None:
            return None
        t0, t1 = (int(t) for t in time_range)
        if t0 > t1:
            raise ValueError(f"time_range {time_range}: start after end")
        return t0, t1

    def _chunks_in(self, time_range) -> list[int]:
        if time_range is None:
            return list(range(len(self.chunks)))
        t0, t1 = time_range
        return [i for i, c in enumerate(self.chunks) if c["start"] < t1 and c["end"] > t0]

    def read_chunk(self, i: int) -> np.ndarray:
        """All rows of chunk ``i``."""
        self._chunk(i)
        return self._materialize(self._plan([i], None), None)

    def iter_chunks(self, time_range=None) -> Iterator[Chunk]:
        """The chunks in order, with their rows. With ``time_range``: the chunks whose interval
        overlaps it, each clipped to it (``start``, ``end`` and each subrun's interval) and
        holding only the selected rows (see the class docstring)."""
        time_range = self._check_range(time_range)
        for i in self._chunks_in(time_range):
            c = self.chunks[i]
            rows = self._materialize(self._plan([i], time_range), time_range)
            start, end, subruns = c["start"], c["end"], c.get("subruns")
            if time_range is not None:
                start, end = max(start, time_range[0]), min(end, time_range[1])
                subruns = _clip_subruns(subruns, start, end)
            yield Chunk(chunk_i=i, start=start, end=end, subruns=subruns, run_id=c.get("run_id"), rows=rows)

    def load(self, time_range=None) -> np.ndarray:
        """All rows (or those selected by ``time_range``) as one array, each frame decompressed
        straight into its slice of the preallocated result."""
        time_range = self._check_range(time_range)
        return self._materialize(self._plan(self._chunks_in(time_range), time_range), time_range)


def _chunk_sizes(data) -> tuple[int | None, int | None]:
    """(nbytes, cbytes) from a blosc2 chunk's header, (None, None) if it has none."""
    if len(data) < 16:
        return None, None
    head = bytes(data[:16])
    return int.from_bytes(head[4:8], "little"), int.from_bytes(head[12:16], "little")


def _is_special(data) -> bool:
    """Whether a blosc2 chunk is a "special value" chunk (zeros, NaNs, a repeated value, ...)."""
    return len(data) >= 32 and bool(data[31] & 0x70)


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
        if isinstance(spec.get("ranges"), list):
            clipped["ranges"] = [[max(a, start), min(b, end)] for a, b in spec["ranges"]
                                 if max(a, start) < min(b, end)]
        result[run_id] = clipped
    return result
