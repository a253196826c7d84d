"""The blosc2 byte layout: the only module of the storage package that imports blosc2.

A data file is one blosc2 contiguous frame (``SChunk``, variable-size chunks) whose chunks are
the file's frames, appended one after the other behind the frame header and never rewritten,
so frame ``k`` starts at the header length plus the compressed sizes of the frames before it.
:class:`FrameReader` reads them there with ``os.pread`` into a reused buffer (10-30 % faster
than ``SChunk.get_chunk``, which allocates), checks each against its chunk header, and falls
back to ``get_chunk`` if the layout is not as expected. Everything else uses blosc2's own API
(``vlmeta``, ``append_chunk``, ``compress2``/``decompress2``, ``get_cbuffer_sizes``); the
frame header is parsed by hand only to refuse truncated or foreign files before blosc2 reads
them.
"""

from __future__ import annotations

import os
import struct

import blosc2
import msgpack  # blosc2 encodes vlmeta with it (a dependency of blosc2 itself)
import numpy as np

from ..base.files import NotARegularFile, disk_error, open_regular, os_error_message
from .format import NOT_OURS, REBUILD, DataCorrupted, DataFileMissing, StorageError

__all__ = ["check_frame_file", "read_frame_file", "frame_bounds", "trailer_length", "vlmeta_from_trailer", "codec_name", "filter_name", "chunk_sizes",
           "compress", "decompress_into", "FrameFileWriter", "FrameReader"]

_FRAME_MAGIC = b"b2frame\x00"
#: blosc2's limit on one chunk is just below 2 GiB.
MAX_CHUNK_BYTES = 2**31 - 2**20


def check_frame_file(path: str) -> tuple[int, os.stat_result]:
    """Refuse, with a clear message, files that are not whole blosc2 frames (before blosc2
    reads them): anything but a regular file at once (a FIFO would hang the reader), empty,
    truncated or foreign files. Return the frame's header length (where the first chunk's
    bytes start) and the file's ``stat`` (to notice a file replaced while being read)."""
    try:
        fd = open_regular(path, "a superruns data file")
    except FileNotFoundError:
        raise DataFileMissing(f"{path}: no such data file") from None
    except NotARegularFile as error:
        raise StorageError(str(error)) from None
    try:
        st = os.fstat(fd)
        head = os.pread(fd, 24, 0)
    except OSError as error:
        raise StorageError(os_error_message(error, path)) from None
    finally:
        os.close(fd)
    return frame_bounds(head, st.st_size, path)[0], st


def frame_bounds(head: bytes, size: int, path: str) -> tuple[int, int]:
    """``(header length, frame length)`` from the first 24 bytes of a file of ``size`` bytes,
    refusing empty, truncated or foreign files (local or remote: ``path`` names it)."""
    if size == 0:
        raise DataCorrupted(f"{path}: the file is empty. {REBUILD}")
    if len(head) < 24 or head[2:10] != _FRAME_MAGIC:
        if len(head) < 24 and _FRAME_MAGIC.startswith(head[2:10]):
            raise DataCorrupted(f"{path}: the file is truncated ({size} bytes). {REBUILD}")
        raise StorageError(f"{path} is not a superruns data file (not a blosc2 frame). {NOT_OURS}")
    (header_len,) = struct.unpack(">i", head[11:15])
    (frame_size,) = struct.unpack(">Q", head[16:24])
    if frame_size != size:
        what = "truncated" if size < frame_size else "longer than its frame"
        raise DataCorrupted(f"{path}: the file is {what}: {size} bytes on disk, {frame_size} "
                            f"written. {REBUILD}")
    return header_len, frame_size


#: The frame's last bytes: the trailer's length (msgpack uint32) and its fingerprint (fixext16).
TRAILER_TAIL = 23


def trailer_length(tail: bytes, path: str) -> int:
    """The length of the frame's trailer (vlmeta and its index), from the frame's last
    :data:`TRAILER_TAIL` bytes or more (c-blosc2's README_CFRAME_FORMAT: the trailer ends with
    its own length and a 16-byte fingerprint)."""
    if len(tail) < TRAILER_TAIL or tail[-TRAILER_TAIL] != 0xCE or tail[-18] != 0xD8:
        raise DataCorrupted(f"{path}: the frame has no readable trailer. {REBUILD}")
    return struct.unpack(">I", tail[-22:-18])[0]


def vlmeta_from_trailer(trailer: bytes, keys: tuple[str, ...], path: str) -> list:
    """The vlmeta values of ``keys`` (None if absent) from the bytes of a frame's trailer,
    decoded as blosc2's ``SChunk.vlmeta`` does (each a blosc2-compressed msgpack value), without
    the rest of the frame: how a reader of a remote file gets the metadata in a request or two."""
    try:
        index = msgpack.unpackb(trailer, strict_map_key=False)[1][1]
        values = []
        for key in keys:
            at = index.get(key)
            if at is None:
                values.append(None)
                continue
            if trailer[at] != 0xC6:
                raise ValueError(f"no bin32 at trailer offset {at}")
            (n,) = struct.unpack(">I", trailer[at + 1:at + 5])
            values.append(msgpack.unpackb(blosc2.decompress(trailer[at + 5:at + 5 + n])))
        return values
    except Exception as error:
        raise DataCorrupted(f"{path}: its metadata cannot be read ({type(error).__name__}: {error}). "
                            f"{REBUILD}") from None


def _vlmeta_value(schunk, key: str, path: str):
    """``schunk.vlmeta[key]``, or None when the frame has no such key."""
    try:
        return schunk.vlmeta[key]
    except KeyError:
        return None
    except Exception as error:
        raise DataCorrupted(f"{path}: its metadata cannot be read ({error}). {REBUILD}") from None


def read_frame_file(path: str, keys: tuple[str, ...]) -> tuple[list, int, int, os.stat_result]:
    """``([vlmeta value of each key, None if absent], header length, number of chunks, stat)``.

    The frame is opened and closed again: an open SChunk holds a file descriptor, and a
    superrun job opens thousands of files."""
    header_len, st = check_frame_file(path)
    try:
        schunk = blosc2.open(path, mode="r")
    except Exception as error:
        raise DataCorrupted(f"{path}: blosc2 cannot open the frame ({error}). {REBUILD}") from None
    if type(schunk) is not blosc2.SChunk:
        raise StorageError(f"{path} is a blosc2 {type(schunk).__name__}, not a superruns data file.")
    # One vlmeta lookup per key: each lookup (and each `in` test) decodes the whole trailer,
    # which dominates opening the thousands of small files of a large superrun.
    values = [_vlmeta_value(schunk, key, path) for key in keys]
    nchunks = schunk.nchunks
    del schunk
    return values, header_len, nchunks, st


# -- compression --------------------------------------------------------------------------------------


def _member_name(enum, value, refusal: str) -> str:
    """The lower-case name of the member of ``enum`` that ``value`` is or names (any case)."""
    if isinstance(value, enum):
        return value.name.lower()
    try:
        return enum[str(value).upper()].name.lower()
    except KeyError:
        raise StorageError(refusal) from None


def codec_name(value) -> str:
    """The blosc2 codec ``value`` names (a name in any case, or a ``blosc2.Codec``), lower case."""
    return _member_name(blosc2.Codec, value, f"Unknown codec {value!r}; use one of "
                        f"{', '.join(c.name.lower() for c in blosc2.Codec)}")


def filter_name(value) -> str:
    """The blosc2 filter ``value`` names, lower case."""
    return _member_name(blosc2.Filter, value,
                        f"Unknown filter {value!r}; use shuffle, bitshuffle or nofilter")


def _cparams(compression) -> blosc2.CParams:
    return blosc2.CParams(codec=blosc2.Codec[compression.codec.upper()], clevel=compression.clevel,
                          typesize=compression.typesize, nthreads=compression.nthreads,
                          filters=[blosc2.Filter[compression.filter.upper()]], filters_meta=[0])


def chunk_sizes(data) -> tuple[int | None, int | None]:
    """(uncompressed, compressed) bytes from a blosc2 chunk's header; (None, None) if it has
    no readable header."""
    if len(data) < 16:
        return None, None
    try:
        nbytes, cbytes, _ = blosc2.get_cbuffer_sizes(data)
    except Exception:
        return None, None
    return nbytes, cbytes


def _is_special(data) -> bool:
    """Whether a blosc2 chunk is a "special value" chunk (zeros, NaNs, a repeated value, ...):
    bits 4-6 of the chunk header's ``blosc2_flags`` byte (no public API says it)."""
    return len(data) >= 32 and bool(data[31] & 0x70)


def compress(rows: np.ndarray, cparams) -> bytes:
    return blosc2.compress2(rows, cparams=cparams)


def decompress_into(data, dst: np.ndarray, nthreads: int, where: str) -> None:
    """Decompress a chunk straight into ``dst``, its size checked first."""
    nbytes = chunk_sizes(data)[0]
    if nbytes != dst.nbytes:
        raise DataCorrupted(f"{where}: decompresses to {nbytes} bytes, expected {dst.nbytes} "
                            f"({len(dst)} rows). {REBUILD}")
    try:
        blosc2.decompress2(data, dst=dst, nthreads=nthreads)
    except Exception as error:
        raise DataCorrupted(f"{where}: cannot be decompressed ({error}). {REBUILD}") from None


# -- writing ------------------------------------------------------------------------------------------


class FrameFileWriter:
    """A new contiguous frame at ``path``: chunks appended, vlmeta set, then closed."""

    def __init__(self, path: str, compression, name: str | None = None):
        self.compression = compression
        self.cparams = _cparams(compression)
        self.name = name or path              # how messages name the file (the final path)
        try:
            self._schunk = blosc2.SChunk(chunksize=0, contiguous=True, urlpath=path, mode="w",
                                         cparams=self.cparams)
        except (RuntimeError, OSError) as error:
            raise disk_error(self.name, error) from None

    def compress(self, rows: np.ndarray) -> bytes:
        return compress(rows, self.cparams)

    def storable(self, data: bytes, nbytes: int) -> bytes | None:
        """``None`` if the chunk ``data`` can be appended as it is, else the bytes to store.

        blosc2 stores a "special" chunk (all zeros, ...) as an index entry only, and a
        variable-size SChunk then cannot return it (get_chunk fails): such a frame is stored
        uncompressed instead."""
        if not _is_special(data):
            return None
        rows = np.empty(nbytes, np.uint8)
        blosc2.decompress2(data, dst=rows)
        return blosc2.compress2(rows, cparams=blosc2.CParams(
            clevel=0, typesize=self.compression.typesize, nthreads=self.compression.nthreads))

    def append(self, data: bytes) -> None:
        try:
            self._schunk.append_chunk(data)
        except (RuntimeError, OSError) as error:      # blosc2: "Could not append the desired chunk"
            raise disk_error(self.name, error, len(data)) from None

    def set_meta(self, key: str, value) -> None:
        try:
            self._schunk.vlmeta[key] = value
        except (RuntimeError, OSError) as error:
            raise disk_error(self.name, error, len(str(value))) from None

    def close(self) -> None:
        """Free the C frame; blosc2 has written everything through to the file."""
        self._schunk = None


# -- reading ------------------------------------------------------------------------------------------


class FrameReader:
    """Reads the compressed chunks of one file by index, by ``os.pread`` where the layout is
    as expected (see the module doc), else through blosc2."""

    def __init__(self, path: str, header_len: int, csizes: list[int]):
        self.path = path
        self.offsets = (header_len + np.cumsum([0] + csizes)).tolist()
        self.direct = True
        self._schunk = None

    def read(self, k: int, csize: int, nbytes: int, fd: int | None, buffer, where: str):
        """The compressed bytes of chunk ``k`` (``csize`` of them, decompressing to ``nbytes``).

        With ``fd`` the bytes are read with os.pread (into ``buffer`` if given: the result is
        then a view of it, valid until the next read into the same buffer)."""
        data = self._read_direct(k, csize, nbytes, fd, buffer, where) if fd is not None and self.direct else None
        if data is None:
            try:
                if self._schunk is None:
                    self._schunk = blosc2.open(self.path, mode="r")
                data = self._schunk.get_chunk(k)
            except Exception as error:
                raise DataCorrupted(f"{where}: cannot be read ({error}). {REBUILD}") from None
            if len(data) != csize:
                raise DataCorrupted(f"{where}: {len(data)} compressed bytes, the metadata "
                                    f"says {csize}. {REBUILD}")
        return data

    def _read_direct(self, k, csize, nbytes, fd, buffer, where):
        try:
            if buffer is not None:
                data = memoryview(buffer)[:csize]
                got = os.preadv(fd, [data], self.offsets[k])
            else:
                data = os.pread(fd, csize, self.offsets[k])
                got = len(data)
        except OSError as error:
            raise DataCorrupted(f"{where}: cannot be read ({error}). {REBUILD}") from None
        if got != csize or chunk_sizes(data) != (nbytes, csize):
            self.direct = False        # not the layout expected: let blosc2 find the frames
            return None
        return data

    def close(self) -> None:
        self._schunk = None
