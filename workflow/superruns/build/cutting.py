"""Cutting subruns' files into the pieces a superrun holds: cost grows with rows plus ranges.

A superrun's leaf segments come in time order; consecutive segments of one leaf run read from
one subrun's file form a :class:`Block` (arrays of starts and ends). Each source chunk a block
overlaps becomes one :class:`Piece`, whatever the number of segments in it: the frames of the
chunk are read at most once, a frame that lies wholly inside one segment is carried over
compressed, and every other frame is decompressed once and its rows assigned to the segments
in one kernel call (:func:`superruns.base.kernels.assign_to_ranges`). So 100,000 ranges on one
run's file cost one pass over its frames plus array work on the ranges, not a decompression
and a Python object per range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..base import kernels
from ..base.intervals import merge_span_arrays as merge_arrays
from ..storage import DataFile, Frame, FrameRecord

__all__ = ["Block", "BuildSettings", "Carried", "FrameCache", "Piece", "Source", "block_pieces",
           "blocks_of", "merge_arrays"]


@dataclass(frozen=True)
class Source:
    """One leaf segment of the superrun and the file it is read from."""

    subrun: str          # the direct subrun whose file holds the segment
    path: Path
    leaf: str            # the leaf run the segment belongs to
    start: int
    end: int
    whole: bool          # the file holds exactly the segment (a whole run, a superrun taken
                         # unchanged: Flat.as_stored): take every row, no selection rule
    taken_before: int | None = None   # rows starting before this were taken by an earlier segment


@dataclass(frozen=True, eq=False)
class Block:
    """Consecutive segments ``[starts[i], ends[i])`` (sorted, disjoint) of one leaf run, read
    from one subrun's file; rows starting before ``taken_before`` were taken earlier."""

    subrun: str
    path: Path
    leaf: str
    whole: bool
    starts: np.ndarray
    ends: np.ndarray
    taken_before: int | None = None

    @property
    def start(self) -> int:
        return int(self.starts[0])

    @property
    def end(self) -> int:
        return int(self.ends[-1])


def blocks_of(sources: Iterable[Source]) -> list[Block]:
    """Sources grouped into blocks: consecutive sources of one subrun file and leaf, each
    taking over where the previous one ended (``taken_before`` = the previous end, or None)."""
    blocks: list[Block] = []
    group: list[Source] = []

    def close() -> None:
        if group:
            blocks.append(Block(group[0].subrun, group[0].path, group[0].leaf, group[0].whole,
                                np.array([s.start for s in group], dtype=np.int64),
                                np.array([s.end for s in group], dtype=np.int64), group[0].taken_before))
            group.clear()

    for source in sources:
        last = group[-1] if group else None
        if last is None or (source.subrun, source.path, source.leaf, source.whole) != \
                (last.subrun, last.path, last.leaf, last.whole) or source.start < last.end or \
                source.taken_before not in (None, last.end):
            close()
        group.append(source)
    close()
    return blocks


@dataclass
class Piece:
    """The rows of one source chunk that belong to a block's segments; ``starts``/``ends``:
    the part of each segment the chunk covers (what the superrun holds there, recorded in the
    chunk's ``subruns``). Rows taken by overlap (``selection: touching``) may reach past it:
    :attr:`start`/:attr:`end` cover them too, so the chunk that holds the piece does."""

    leaf: str
    starts: np.ndarray
    ends: np.ndarray
    n: int = 0
    parts: list = field(default_factory=list)   # Carried frames and row arrays
    first_time: int | None = None
    last_time: int | None = None
    rows_end: int | None = None                 # the latest end of a row taken

    @property
    def start(self) -> int:
        held = int(self.starts.min())
        return held if self.first_time is None else min(held, self.first_time)

    @property
    def end(self) -> int:
        held = int(self.ends.max())
        return held if self.rows_end is None else max(held, self.rows_end)


@dataclass(frozen=True)
class Carried:
    """A compressed frame taken as it is from a source file."""

    frame: Frame
    data: DataFile

    @property
    def nbytes(self) -> int:
        return self.frame.nbytes

    def decode(self) -> np.ndarray:
        return self.data.decode_frame(self.frame)


@dataclass(frozen=True)
class BuildSettings:
    chunk_target_bytes: int
    row_bytes: int            # per-kind row size that turns the byte target into rows
    carry_over_min_bytes: int
    touching: bool = False    # selection rule for ranges: overlap instead of containment


class FrameCache:
    """One source file's frames for a build: each frame read and decompressed at most once.

    Blocks come in time order, so a file's frames are needed in order: the frames read and
    decoded last are kept (a few), for the next block that reads the same chunk.
    """

    KEEP = 4

    def __init__(self, data: DataFile):
        self.data = data
        self.chunk_ends = np.array([chunk.end for chunk in data.chunks], dtype=np.int64)
        self._frames: dict[tuple[int, int], Frame] = {}
        self._decoded: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def chunks_overlapping(self, start: int, end: int) -> Iterator[int]:
        """Indices of the chunks that overlap ``[start, end)`` (binary search, then a walk)."""
        chunks = self.data.chunks
        for i in range(int(np.searchsorted(self.chunk_ends, start, side="right")), len(chunks)):
            if chunks[i].start >= end:
                return
            if chunks[i].end > start:
                yield i

    def frames(self, chunk_i: int, which: list[int]) -> list[Frame]:
        found = {j: self._frames[(chunk_i, j)] for j in which if (chunk_i, j) in self._frames}
        missing = [j for j in which if j not in found]
        for j, frame in zip(missing, self.data.frames(chunk_i, missing) if missing else ()):
            found[j] = self._keep(self._frames, (chunk_i, j), frame)
        return [found[j] for j in which]

    def decoded(self, chunk_i: int, j: int, frame: Frame) -> tuple[np.ndarray, np.ndarray]:
        """The frame's rows and their end times."""
        hit = self._decoded.get((chunk_i, j))
        if hit is None:
            rows = self.data.decode_frame(frame)
            hit = self._keep(self._decoded, (chunk_i, j), (rows, kernels.endtime(rows)))
        return hit

    def _keep(self, cache: dict, key, value):
        cache[key] = value
        while len(cache) > self.KEEP:
            del cache[next(iter(cache))]
        return value


def frame_wholly_selected(frame: FrameRecord, chunk_end: int, start: int, end: int, whole: bool,
                          touching: bool) -> bool:
    """Whether every row of a frame (its metadata record) belongs to the segment
    ``[start, end)``. Rows of a chunk end no later than the chunk, so ``chunk_end`` bounds
    their end times."""
    if frame.first_time < start or frame.last_time >= end:
        return False
    return whole or touching or min(chunk_end, frame.max_endtime) <= end


def _frame_segments(frame: FrameRecord, starts: np.ndarray, ends: np.ndarray) -> tuple[int, int]:
    """``[a, b)``: the segments a frame's rows may belong to (none: ``a >= b``)."""
    a = int(np.searchsorted(ends, frame.first_time, side="right"))
    b = int(np.searchsorted(starts, max(frame.last_time + 1, frame.max_endtime), side="left"))
    return a, b


def block_pieces(block: Block, cache: FrameCache, settings: BuildSettings) -> Iterator[Piece]:
    """One piece per source chunk the block's segments overlap: only the frames a segment
    needs are read, only those a segment cuts are decompressed (once per build)."""
    data = cache.data
    touching = settings.touching or block.whole
    for chunk_i in cache.chunks_overlapping(block.start, block.end):
        chunk = data.chunks[chunk_i]
        lo = int(np.searchsorted(block.ends, chunk.start, side="right"))
        hi = int(np.searchsorted(block.starts, chunk.end, side="left"))
        if lo >= hi:
            continue      # the chunk lies in a gap between the block's segments
        starts, ends = block.starts[lo:hi], block.ends[lo:hi]
        piece = Piece(block.leaf, np.maximum(starts, chunk.start), np.minimum(ends, chunk.end))
        records = data.frame_records(chunk_i)
        needed = [j for j, record in enumerate(records) if _overlaps(_frame_segments(record, starts, ends))]
        for j, frame in zip(needed, cache.frames(chunk_i, needed)):
            a, b = _frame_segments(records[j], starts, ends)
            if b - a == 1 and data.carries_frames and frame_wholly_selected(
                    records[j], chunk.end, int(starts[a]), int(ends[a]), block.whole, settings.touching):
                _add(piece, Carried(frame, data), frame.n, frame.first_time, frame.last_time, frame.max_endtime)
                continue
            rows, endtime = cache.decoded(chunk_i, j, frame)
            _add_rows(piece, rows, endtime, starts, ends, a, b, touching,
                      block.taken_before if lo == 0 else None)
        yield piece


def _overlaps(ab: tuple[int, int]) -> bool:
    return ab[0] < ab[1]


def _add_rows(piece: Piece, rows: np.ndarray, endtime: np.ndarray, starts, ends, a: int, b: int,
              touching: bool, taken_before: int | None) -> None:
    """Add the rows of a decoded frame that belong to segments ``[a, b)`` of the piece."""
    time = rows["time"]
    # Only rows that can reach segments a..b-1 are looked at (binary search on time).
    longest = int((endtime - time).max()) if len(rows) else 0
    r0 = int(np.searchsorted(time, int(starts[a]) - longest, side="left"))
    r1 = int(np.searchsorted(time, int(ends[b - 1]), side="right"))
    which = kernels.assign_to_ranges(time[r0:r1], endtime[r0:r1], starts[a:b], ends[a:b], touching=touching)
    if taken_before is not None:
        # A row overlapping two segments of one run (touching mode) belongs to the first.
        which[time[r0:r1] < taken_before] = -1
    keep = np.flatnonzero(which >= 0)
    if not keep.size:
        return
    selected = rows[r0:r1][keep]
    sel_time = time[r0:r1][keep]
    _add(piece, selected, len(selected), int(sel_time[0]), int(sel_time[-1]), int(endtime[r0:r1][keep].max()))


def _add(piece: Piece, part, n: int, first_time: int, last_time: int, rows_end: int) -> None:
    piece.parts.append(part)
    piece.n += n
    if piece.first_time is None:
        piece.first_time = first_time
    piece.last_time = last_time
    # Rows taken by overlap (touching mode) may reach past their segment: the piece's
    # start/end, and so the chunk that holds it, cover them; its held spans stay as defined.
    piece.rows_end = rows_end if piece.rows_end is None else max(piece.rows_end, rows_end)
