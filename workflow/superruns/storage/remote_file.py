"""A data file on remote storage read by byte ranges: :class:`RemoteDataFile`.

A data file is one blosc2 frame whose metadata (in its trailer) lists every frame's size, so
a reader fetches the first bytes and the trailer (two small requests), then exactly the byte
ranges of the frames a read needs, adjacent ones in one request: a time-range load of a large
superrun reads its metadata and the few frames that overlap the range, not the file
(benchmarks/remote_bench.py). Everything else (chunks, time selection, CRC checks, identity)
is :class:`~superruns.storage.reader.DataFile`'s.
"""

from __future__ import annotations

from .blosc_layout import TRAILER_TAIL, chunk_sizes, frame_bounds, trailer_length, vlmeta_from_trailer
from .format import METADATA_CRC_KEY, METADATA_KEY, REBUILD, DataCorrupted, StorageError, parse_metadata
from .reader import DataFile, FrameCursor
from .remote import Source

__all__ = ["RemoteDataFile", "TAIL_BYTES", "COALESCE_GAP"]

#: The first read of a file's end: its trailer (metadata) fits in it unless the file has many
#: thousands of frames, then a second request fetches the rest.
TAIL_BYTES = 1 << 16
#: Frames whose byte ranges are at most this far apart are fetched in one request.
COALESCE_GAP = 1 << 16


class _RangeFrameReader:
    """What :class:`~superruns.storage.reader.DataFile` asks for frames, served by ranges of a
    :class:`Source`; frames prefetched together (:meth:`prefetch`) are served from memory."""

    def __init__(self, source: Source, header_len: int, csizes: list[int]):
        self.source = source
        self.offsets = [header_len]
        for csize in csizes:
            self.offsets.append(self.offsets[-1] + csize)
        self._cached: dict[int, bytes] = {}

    def prefetch(self, ks) -> None:
        """Fetch the frames ``ks`` in as few requests as their places allow."""
        ks = sorted(set(k for k in ks if k not in self._cached))
        groups: list[list[int]] = []
        for k in ks:
            if groups and self.offsets[k] - self.offsets[groups[-1][-1] + 1] <= COALESCE_GAP:
                groups[-1].append(k)
            else:
                groups.append([k])
        for group in groups:
            start = self.offsets[group[0]]
            data = self.source.read(start, self.offsets[group[-1] + 1] - start)
            for k in group:
                self._cached[k] = data[self.offsets[k] - start:self.offsets[k + 1] - start]

    def read(self, k: int, csize: int, nbytes: int, fd, buffer, where: str):
        data = self._cached.pop(k, None)
        if data is None:
            data = self.source.read(self.offsets[k], csize)
        if len(data) != csize or chunk_sizes(data) != (nbytes, csize):
            raise DataCorrupted(f"{where}: the bytes at its place are not the frame its metadata "
                                f"describes. {REBUILD}")
        return data

    def close(self) -> None:
        self._cached.clear()
        self.source.close()


def _remote_metadata(source: Source) -> tuple[dict, int, int]:
    """``(metadata, header length, frames listed)`` of a remote file: its first bytes, then its
    last :data:`TAIL_BYTES` (the trailer), then more only if the trailer is longer."""
    url, size = source.url, source.size
    if size <= TAIL_BYTES:
        whole = source.read(0, size) if size else b""
        head, tail = whole[:24], whole
    else:
        head, tail = source.read(0, 24), source.read(size - TAIL_BYTES, TAIL_BYTES)
    header_len, _ = frame_bounds(head, size, url)
    length = trailer_length(tail, url)
    if length > size - header_len or length < TRAILER_TAIL:
        raise DataCorrupted(f"{url}: the frame's trailer length ({length}) does not fit the file. {REBUILD}")
    if length > len(tail):
        tail = source.read(size - length, length - len(tail)) + tail
    text, crc = vlmeta_from_trailer(tail[len(tail) - length:], (METADATA_KEY, METADATA_CRC_KEY), url)
    metadata = parse_metadata(text, crc, url)
    frames = metadata.get("frames") if isinstance(metadata.get("frames"), list) else []
    if header_len + sum(int(f.get("csize", 0)) for f in frames) > size - length:
        raise DataCorrupted(f"{url}: its frames, as its metadata lists them, do not fit the file. {REBUILD}")
    return metadata, header_len, len(frames)


class RemoteDataFile(DataFile):
    """A :class:`~superruns.storage.reader.DataFile` on remote storage: the same reads (whole,
    chunk by chunk, time ranges: only the frames they need), by byte ranges of ``source``.
    ``bytes_read`` and ``requests`` say what it cost so far."""

    def __init__(self, source: Source, *, verify: bool = True, nthreads: int | None = None):
        self.source = source
        super().__init__(source.url, verify=verify, nthreads=nthreads)

    def _read_head(self):
        metadata, header_len, nframes = _remote_metadata(self.source)
        return metadata, header_len, nframes, self.source.identity

    def _frame_reader(self, header_len: int, csizes: list[int]):
        return _RangeFrameReader(self.source, header_len, csizes)

    @property
    def bytes_read(self) -> int:
        return self.source.bytes_read

    @property
    def requests(self) -> int:
        return self.source.requests

    def cursor(self, buffer_bytes: int = 0):
        if self._closed:
            raise StorageError(f"{self.path}: the file is closed")
        return _NoClose(FrameCursor(self, None, None))

    def _materialize(self, plan, time_range):
        self._reader.prefetch(k for _, k, _ in plan)
        return super()._materialize(plan, time_range)


class _NoClose:
    """A context manager around an existing cursor (a remote file has no descriptor to close)."""

    def __init__(self, cursor: FrameCursor):
        self.cursor = cursor

    def __enter__(self) -> FrameCursor:
        return self.cursor

    def __exit__(self, *exc) -> None:
        pass
