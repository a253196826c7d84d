"""The on-disk contract: what a superruns data file is, and the version of that contract.

A file holds the rows of one data type of one run (or superrun) as raw structured-array bytes
(``rows.tobytes()`` of a C-contiguous array, byte order as in the dtype) in a blosc2
contiguous frame with variable-size chunks (the byte layout is fenced in
:mod:`superruns.storage.blosc_layout`), and its metadata as one JSON object in the frame's
``vlmeta`` under :data:`METADATA_KEY`, with the CRC32 of that JSON under
:data:`METADATA_CRC_KEY`.

Words:

- A *logical chunk* is strax's chunk: a half-open time interval ``[start, end)`` and the rows
  in it, recorded as a :class:`ChunkRecord` (strax's field names) in the metadata's ``chunks``.
- A *frame* is one blosc2 chunk holding whole rows. A logical chunk is stored as zero (no
  rows) or more consecutive frames (``ChunkRecord.frames = [first, stop)``, indices into the
  metadata's ``frames`` list and into the blosc2 frame). Each :class:`FrameRecord` holds the
  frame's row count, sizes, the CRC32 of its compressed bytes and time statistics, so frames
  can be copied from file to file without recompression and a time range can skip frames
  without reading them.

Rows of a chunk ``[start, end)`` satisfy ``start <= time < end`` and ``endtime <= end`` and are
sorted by time; chunks are in time order and do not overlap (strax's rule with the half-open
interval made exact, as :func:`superruns.base.kernels.select_in_ranges` applies it).
"""

from __future__ import annotations

import ast
import functools
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.format import descr_to_dtype

from ..base.errors import SuperrunsError

__all__ = ["FORMAT_VERSION", "METADATA_KEY", "METADATA_CRC_KEY", "COMPRESSOR", "RESERVED_KEYS",
           "NOT_OURS", "REBUILD", "StorageError", "DataCorrupted", "DataFileMissing", "TimeRangeError", "NewerFormat",
           "Frame", "FrameRecord", "ChunkRecord",
           "dtype_to_str", "dtype_from_metadata", "to_json", "normalised", "parse_metadata",
           "layout_records"]

#: Bumped when a file written now could not be read correctly by an older reader.
FORMAT_VERSION = 1
METADATA_KEY = "superruns"
METADATA_CRC_KEY = "superruns_crc32"   # zlib.crc32 of the metadata JSON (UTF-8)
COMPRESSOR = "blosc2"
#: Keys the writer owns; callers cannot set them through the metadata they pass.
RESERVED_KEYS = frozenset({"chunks", "frames", "format_version", "writing_started", "writing_ended",
                           "compressor", "compression", "superruns_version"})
REBUILD = ("The file is damaged: move it aside (mv FILE FILE.damaged: it may tell what damaged it) and "
           "rebuild it (rerun snakemake for this target).")
#: What to do with a file superruns did not identify as its own data file: nothing destructive.
NOT_OURS = ("superruns did not write it as a data file, so it neither reads nor removes it: if it does "
            "not belong there, move it out of the data directory, then rebuild (rerun snakemake for this "
            "target); or point to the right file.")


class StorageError(SuperrunsError):
    """A file cannot be written or read as asked; the message names the file and the fix."""


class DataCorrupted(StorageError):
    """A file's bytes do not match what its metadata says (truncated, bit flips, ...)."""


class DataFileMissing(StorageError, FileNotFoundError):
    """No data file where one was asked for."""


class NewerFormat(StorageError):
    """A file written in a newer format version than this superruns reads: not damaged."""


class TimeRangeError(StorageError, ValueError):
    """A time range that selects nothing meaningful (start after end)."""


@dataclass(slots=True, frozen=True)
class FrameRecord:
    """One frame's entry in a file's ``frames`` list (field order = JSON key order)."""

    n: int
    nbytes: int
    csize: int
    crc32: int
    first_time: int
    first_endtime: int
    last_time: int
    last_endtime: int
    max_endtime: int

    def to_json(self) -> dict:
        return {"n": self.n, "nbytes": self.nbytes, "csize": self.csize, "crc32": self.crc32,
                "first_time": self.first_time, "first_endtime": self.first_endtime,
                "last_time": self.last_time, "last_endtime": self.last_endtime,
                "max_endtime": self.max_endtime}


_FRAME_KEYS = frozenset(FrameRecord.__dataclass_fields__)


@dataclass(slots=True, frozen=True)
class ChunkRecord:
    """One logical chunk's entry in a file's ``chunks`` list; the time statistics are those
    of its first and last rows (None for a chunk without rows, and then not stored)."""

    chunk_i: int
    start: int
    end: int
    n: int
    nbytes: int
    csize: int
    run_id: str | None
    subruns: dict | None
    frames: list
    first_time: int | None = None
    first_endtime: int | None = None
    last_time: int | None = None
    last_endtime: int | None = None

    def to_json(self) -> dict:
        entry = {"chunk_i": self.chunk_i, "start": self.start, "end": self.end, "n": self.n,
                 "nbytes": self.nbytes, "csize": self.csize, "run_id": self.run_id,
                 "subruns": self.subruns, "frames": list(self.frames)}
        if self.first_time is not None:
            entry.update(first_time=self.first_time, first_endtime=self.first_endtime,
                         last_time=self.last_time, last_endtime=self.last_endtime)
        return entry

    @classmethod
    def from_json(cls, entry: dict) -> "ChunkRecord":
        return cls(entry["chunk_i"], entry["start"], entry["end"], entry["n"], entry["nbytes"],
                   entry.get("csize", 0), entry.get("run_id"), entry.get("subruns"), entry["frames"],
                   entry.get("first_time"), entry.get("first_endtime"), entry.get("last_time"),
                   entry.get("last_endtime"))


@dataclass(frozen=True, slots=True)
class Frame:
    """One compressed frame as stored: whole rows, compressed by blosc2 (self-describing).

    ``first_endtime`` and ``max_endtime`` are filled by ``DataFile.frames``. A Frame built
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


# -- dtypes and JSON ------------------------------------------------------------------------------


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


#: What JSON metadata stores for values json cannot take as they are, checked in order.
_JSON_CONVERSIONS = ((np.integer, int), (np.floating, float), (np.bool_, bool),
                     (np.ndarray, np.ndarray.tolist), ((set, frozenset), sorted), (Path, str))


def _json_default(value):
    for types, convert in _JSON_CONVERSIONS:
        if isinstance(value, types):
            return convert(value)
    raise TypeError(f"{value!r} (type {type(value).__name__}) cannot be stored in JSON metadata")


def to_json(value) -> str:
    """The metadata's JSON text. Keys keep their order (strax sorts them; here the order of
    e.g. subruns is time order)."""
    return json.dumps(value, default=_json_default)


def normalised(value, what: str, path):
    """``value`` as it will read back from JSON (keys as strings, tuples as lists)."""
    try:
        return json.loads(to_json(value))
    except (TypeError, ValueError) as error:
        raise StorageError(f"{path}: {what} cannot be stored as JSON metadata: {error}") from None


# -- reading the contract back ------------------------------------------------------------------------


def parse_metadata(text, crc, path: str, *, check_crc: bool = True) -> dict:
    """The metadata dict from the stored JSON text and its CRC32 (unless ``check_crc`` is
    false), its version checked."""
    if text is None:
        raise StorageError(f"{path} has no superruns metadata: not a superruns data file. {NOT_OURS}")
    if not isinstance(text, str) or (check_crc and crc != zlib.crc32(text.encode())):
        raise DataCorrupted(f"{path}: its metadata does not match its checksum. {REBUILD}")
    try:
        metadata = json.loads(text)
        if not isinstance(metadata, dict):
            raise ValueError("not a JSON object")
    except (ValueError, TypeError) as error:
        raise DataCorrupted(f"{path}: its metadata is not valid JSON ({error}). {REBUILD}") from None
    version = metadata.get("format_version")
    if not isinstance(version, int):
        raise StorageError(f"{path}: its metadata has no format_version: not a superruns data file. {NOT_OURS}")
    if version > FORMAT_VERSION:
        raise NewerFormat(f"{path} was written in format version {version}, newer than this superruns "
                          f"reads ({FORMAT_VERSION}): the file is not damaged; upgrade superruns to "
                          "read it (do not delete it).")
    return metadata


def layout_records(metadata: dict, itemsize: int, nframes_stored: int,
                   path: str) -> tuple[list[ChunkRecord], list[FrameRecord]]:
    """The chunk and frame records of ``metadata``, checked against each other and against
    the number of frames the file holds; raise :class:`DataCorrupted` where they disagree."""
    frames = []
    for k, entry in enumerate(metadata["frames"]):
        if not _FRAME_KEYS <= set(entry) or not all(isinstance(entry[key], int) for key in _FRAME_KEYS):
            raise DataCorrupted(f"{path}: frame {k}'s metadata is incomplete. {REBUILD}")
        frames.append(FrameRecord(entry["n"], entry["nbytes"], entry["csize"], entry["crc32"],
                                  entry["first_time"], entry["first_endtime"], entry["last_time"],
                                  entry["last_endtime"], entry["max_endtime"]))
    chunks = [ChunkRecord.from_json(entry) for entry in metadata["chunks"]]
    expected = 0
    for i, c in enumerate(chunks):
        a, b = c.frames
        own = frames[a:b]
        if a != expected or b < a or b > len(frames) or c.chunk_i != i or \
                sum(f.n for f in own) != c.n or any(f.nbytes != f.n * itemsize for f in own):
            raise DataCorrupted(f"{path}: chunk {i}'s metadata does not match its frames. {REBUILD}")
        expected = b
    if expected != len(frames) or nframes_stored != len(frames):
        raise DataCorrupted(f"{path}: the metadata lists {len(frames)} frames, the file "
                            f"holds {nframes_stored}. {REBUILD}")
    return chunks, frames
