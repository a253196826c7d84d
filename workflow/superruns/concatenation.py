"""Build a superrun's file from its subruns' files, streaming, in start-time order.

The subruns' rows are never all in memory: the build walks the leaf segments in time order
(:meth:`superruns.project.Project.superrun_sources`), takes the part of each source chunk that
falls in the segment (a :class:`Piece`), and groups consecutive pieces into output chunks of
about ``chunk_target_size_mb``. Compressed frames that lie wholly inside a segment are copied
as they are; only frames that a range cuts, and frames too small to keep on their own, are
decompressed and recompressed.

Output chunk boundaries depend only on the pieces' row counts and a per-kind row size, so
data types of one kind (same rows, same times) get identical chunk boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import kernels
from .errors import SuperrunsError
from .intervals import merge_spans
from .metadata import output_metadata
from .storage import DataFile, DataWriter, Frame, FrameRecord


class ConcatenationError(SuperrunsError, RuntimeError):
    """The subruns cannot be combined; the message names the superrun, the subrun and the fix."""


@dataclass(frozen=True)
class Source:
    """One leaf segment of the superrun and the file it is read from."""

    subrun: str          # the direct subrun whose file holds the segment
    path: Path
    leaf: str            # the leaf run the segment belongs to
    start: int
    end: int
    whole: bool          # take every row of the leaf (a subrun named whole), no selection rule
    taken_before: int | None = None   # rows starting before this were taken by an earlier segment


@dataclass
class Piece:
    """The rows of one source chunk that belong to one segment."""

    leaf: str
    start: int           # the part of the segment this piece covers: [start, end)
    end: int
    n: int = 0
    parts: list = field(default_factory=list)   # Carried frames and row arrays
    first_time: int | None = None
    last_time: int | None = None


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


# -- cutting sources into pieces ---------------------------------------------------------------


def frame_wholly_selected(frame: FrameRecord, chunk_end: int, source: Source, touching: bool) -> bool:
    """Whether every row of a frame (its metadata record) belongs to the source's segment.

    Rows of a chunk end no later than the chunk, so ``chunk_end`` bounds their end times.
    """
    if frame.first_time < source.start or frame.last_time >= source.end:
        return False
    return source.whole or touching or min(chunk_end, frame.max_endtime) <= source.end


def frame_wholly_outside(frame: FrameRecord, source: Source) -> bool:
    return frame.first_time >= source.end or (
        frame.max_endtime <= source.start and frame.last_time < source.start)


def select_rows(rows: np.ndarray, source: Source, touching: bool, max_length: int | None = None
                ) -> np.ndarray:
    """The rows of a decoded frame (sorted by time) that belong to ``source``'s segment.

    ``max_length`` (the frame's longest row) narrows the rows looked at to a binary-searched
    slice, so many ranges on one frame cost their own rows, not the frame's each time.
    """
    if max_length is not None:
        time = rows["time"]
        lo = int(np.searchsorted(time, source.start - max_length, side="left"))
        hi = int(np.searchsorted(time, source.end, side="right"))
        rows = rows[lo:hi]
        if not len(rows):
            return rows
    mask = kernels.select_in_ranges(rows, [(source.start, source.end)], touching=touching or source.whole)
    if source.taken_before is not None:
        # A row overlapping two segments of one run (touching mode) belongs to the first.
        mask &= rows["time"] >= source.taken_before
    return rows[mask]


class FrameCache:
    """One source file's frames for a build: each frame read and decompressed at most once.

    Sources come in time order, so a file's frames are needed in order: the frames read and
    decoded last are kept (a few), and those of many ranges on one frame come from memory.
    """

    KEEP = 4

    def __init__(self, data: DataFile):
        self.data = data
        self.chunk_ends = np.array([chunk.end for chunk in data.chunks], dtype=np.int64)
        self._frames: dict[tuple[int, int], Frame] = {}
        self._decoded: dict[tuple[int, int], tuple[np.ndarray, int]] = {}

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

    def decoded(self, chunk_i: int, j: int, frame: Frame) -> tuple[np.ndarray, int]:
        """The frame's rows and its longest row's length."""
        hit = self._decoded.get((chunk_i, j))
        if hit is None:
            rows = self.data.decode_frame(frame)
            longest = int((kernels.endtime(rows) - rows["time"]).max()) if len(rows) else 0
            hit = self._keep(self._decoded, (chunk_i, j), (rows, longest))
        return hit

    def _keep(self, cache: dict, key, value):
        cache[key] = value
        while len(cache) > self.KEEP:
            del cache[next(iter(cache))]
        return value


def pieces_of(source: Source, cache: FrameCache, settings: BuildSettings) -> Iterator[Piece]:
    """The part of each of the source's chunks that falls in its segment; only the frames a
    piece needs are read, and only those a range cuts are decompressed (once per build)."""
    data = cache.data
    for chunk_i in cache.chunks_overlapping(source.start, source.end):
        chunk = data.chunks[chunk_i]
        piece = Piece(source.leaf, max(chunk.start, source.start), min(chunk.end, source.end))
        records = data.frame_records(chunk_i)
        needed = [j for j, record in enumerate(records) if not frame_wholly_outside(record, source)]
        for j, frame in zip(needed, cache.frames(chunk_i, needed)):
            if frame_wholly_selected(records[j], chunk.end, source, settings.touching):
                add_to_piece(piece, Carried(frame, data), frame.n, frame.first_time, frame.last_time,
                             frame.max_endtime)
                continue
            rows, longest = cache.decoded(chunk_i, j, frame)
            rows = select_rows(rows, source, settings.touching, longest)
            if len(rows):
                add_to_piece(piece, rows, len(rows), int(rows["time"][0]), int(rows["time"][-1]),
                             int(kernels.endtime(rows).max()))
        yield piece


def add_to_piece(piece: Piece, part, n: int, first_time: int, last_time: int, max_endtime: int) -> None:
    piece.parts.append(part)
    piece.n += n
    if piece.first_time is None:
        piece.first_time = first_time
    piece.last_time = last_time
    # Rows taken by overlap (touching mode) may reach past the segment: the piece, and so the
    # chunk that holds it, must cover them.
    piece.start = min(piece.start, first_time)
    piece.end = max(piece.end, max_endtime)


# -- grouping pieces into output chunks -------------------------------------------------------


def group_pieces(pieces: Iterable[Piece], target_rows: int) -> Iterator[list[Piece]]:
    """Consecutive pieces, grouped while their rows fit ``target_rows``; never split a piece,
    and keep pieces that overlap in time (rows taken by overlap) in one group."""
    group, rows, group_end = [], 0, None
    for piece in pieces:
        if group and rows + piece.n > target_rows and piece.start >= group_end:
            yield group
            group, rows = [], 0
        group.append(piece)
        rows += piece.n
        group_end = piece.end if len(group) == 1 else max(group_end, piece.end)
    if group:
        yield group


def chunk_subruns(group: list[Piece]) -> dict:
    """``{leaf: {"start", "end"}}`` of what the chunk holds; ``ranges`` too when a leaf's part
    is not one interval (several time ranges of one run in one chunk)."""
    intervals: dict[str, list[tuple[int, int]]] = {}
    for piece in group:
        intervals.setdefault(piece.leaf, []).append((piece.start, piece.end))
    subruns = {}
    for leaf, pieces in intervals.items():
        spans = merge_spans(pieces)
        subruns[leaf] = {"start": spans[0][0], "end": spans[-1][1]}
        if len(spans) > 1:
            subruns[leaf]["ranges"] = spans
    return subruns


def chunk_parts(group: list[Piece], dtype: np.dtype, carry_over_min_bytes: int) -> list:
    """The parts of one output chunk: large frames as they are, the rest merged into arrays."""
    parts, pending = [], []
    for piece in group:
        for part in piece.parts:
            if isinstance(part, Carried) and part.nbytes >= carry_over_min_bytes:
                if pending:
                    parts.append(np.concatenate(pending, dtype=dtype))
                    pending = []
                parts.append(part.frame)
            else:
                pending.append(part.decode() if isinstance(part, Carried) else part)
    if pending:
        parts.append(np.concatenate(pending, dtype=dtype))
    return parts


# -- checks --------------------------------------------------------------------------------------


def check_dtypes(superrun: str, files: dict[Path, DataFile], sources: list[Source]) -> np.dtype:
    first = sources[0]
    dtype = files[first.path].dtype
    for source in sources[1:]:
        other = files[source.path].dtype
        if other != dtype:
            raise ConcatenationError(
                f"Superrun {superrun}: subrun {source.subrun} ({source.path}) has dtype {other}, but "
                f"{first.subrun} ({first.path}) has {dtype}. All subruns of a data type need the same "
                "dtype: rebuild the odd one with the current plugins.")
    return dtype


def check_order(superrun: str, previous: Piece | None, piece: Piece, source: Source) -> None:
    if previous is None or piece.first_time is None or previous.last_time is None:
        return
    if piece.first_time < previous.last_time:
        raise ConcatenationError(
            f"Superrun {superrun}: data of subrun {piece.leaf} (from {source.path}) start at "
            f"{piece.first_time} ns, before the previous data of {previous.leaf} end at "
            f"{previous.last_time} ns: the subruns overlap in time or their times go backwards. "
            "Check the run registry's start/end times and rebuild the subrun's data.")


def check_rows_sorted(superrun: str, rows: np.ndarray, source: Source) -> None:
    bad = kernels.first_unsorted_row(rows)
    if bad >= 0:
        raise ConcatenationError(
            f"Superrun {superrun}: rows of subrun {source.leaf} in {source.path} go backwards in time "
            f"at row {bad}. The subrun's file is not valid strax data: rebuild it.")


# -- the build --------------------------------------------------------------------------------------


def ordered_pieces(superrun: str, sources: list[Source], files: dict[Path, DataFile],
                   settings: BuildSettings) -> Iterator[Piece]:
    previous = None
    caches = {path: FrameCache(data) for path, data in files.items()}
    for source in sources:
        for piece in pieces_of(source, caches[source.path], settings):
            for part in piece.parts:
                if isinstance(part, np.ndarray):
                    check_rows_sorted(superrun, part, source)
            check_order(superrun, previous, piece, source)
            if piece.n:
                previous = piece
            yield piece


def build_superrun(superrun: str, sources: list[Source], output: Path, metadata: dict,
                   settings: BuildSettings, files: dict[Path, DataFile] | None = None) -> None:
    """Write the superrun file at ``output`` from ``sources`` (in time order)."""
    if not sources:
        raise ConcatenationError(f"Superrun {superrun} holds no data: its definition has no segments.")
    files = dict(files or {})
    for source in sources:
        if source.path not in files:
            files[source.path] = DataFile(source.path)
    dtype = check_dtypes(superrun, files, sources)
    target_rows = max(1, settings.chunk_target_bytes // settings.row_bytes)
    with DataWriter(output, dtype, metadata) as writer:
        pieces = ordered_pieces(superrun, sources, files, settings)
        for group in group_pieces(pieces, target_rows):
            writer.write_chunk_parts(chunk_parts(group, dtype, settings.carry_over_min_bytes),
                                     group[0].start, max(p.end for p in group), subruns=chunk_subruns(group),
                                     run_id=superrun)


# -- from a project's definitions ------------------------------------------------------------------


def leaf_spans(superrun: str, data: DataFile, leaf: str) -> list[tuple[int, int]]:
    """The intervals a file's data of ``leaf`` cover: the file's own span for the leaf run's
    file, or what its chunks' ``subruns`` record for a superrun's file.

    A subrun named whole keeps all its rows, even where its data reach past the run
    registry's start or end (imported strax data often begin a few ms before the run doc).
    """
    if data.run_id == leaf:
        return [(data.metadata["start"], data.metadata["end"])]
    parts = [part for chunk in data.chunks if (part := (chunk.subruns or {}).get(leaf)) is not None]
    spans = merge_spans(span for part in parts for span in part.get("ranges", [[part["start"], part["end"]]]))
    if not spans:
        raise ConcatenationError(f"Superrun {superrun}: {data.path} holds no data of run {leaf}, "
                                 "although the definitions say it does. Rebuild it (snakemake --forcerun).")
    return [(s, e) for s, e in spans]


def check_run_file_current(superrun: str, data: DataFile, segment) -> None:
    """Refuse a run's own file whose data lie wholly outside the run as the registry has it
    now: it was built before the run's start/end changed, and would contribute nothing."""
    start, end = data.metadata.get("start"), data.metadata.get("end")
    if data.run_id == segment.run_id and data.n_rows and start is not None and \
            (start >= segment.end or end <= segment.start):
        raise ConcatenationError(
            f"Superrun {superrun}: {data.path} holds data of run {segment.run_id} in [{start}, {end}), "
            f"but the run registry puts the run at [{segment.start}, {segment.end}): the file is "
            f"stale. Rebuild it: snakemake --forcerun {segment.run_id}/{data.data_type}")


def check_lineages(superrun: str, expected: dict, per_run_options: set[str],
                   sources: list[Source], files: dict[Path, DataFile]) -> dict[str, str]:
    """Refuse subruns whose lineage differs from the superrun's other than in per-run-default
    options; return the lineage hash of every direct subrun's file."""
    from .lineage import compare_lineages, format_differences

    hashes = {}
    for source in sources:
        if source.subrun in hashes:
            continue
        metadata = files[source.path].metadata
        differences = compare_lineages(expected, metadata["lineage"], per_run_options)
        if differences:
            raise ConcatenationError(
                f"Superrun {superrun}: subrun {source.subrun} ({source.path}) was built with a "
                f"different lineage than the superrun expects: {format_differences(differences)}. "
                f"Rebuild it (snakemake --forcerun {source.subrun}/{metadata['data_type']}) "
                "or make the configuration agree.")
        hashes[source.subrun] = metadata["lineage_hash"]
    return hashes


def per_run_defaults(project, data_type: str) -> dict:
    """``{option: {"default_per_run": spec, "hash": ...}}`` for the per-run options of a data type."""
    from .hashing import deterministic_hash
    from .options import per_run_spec

    defaults = {}
    for dependency in project.registry.dependencies(data_type):
        for option in project.registry[dependency].options:
            spec = per_run_spec(option, project.options)
            if spec is not None:
                defaults[option.name] = {"default_per_run": spec, "hash": deterministic_hash(spec)}
    return defaults


def build_from_project(project, superrun: str, data_type: str, output: Path,
                       extra_metadata: dict | None = None,
                       files: dict[Path, DataFile] | None = None) -> None:
    """Build ``superrun``'s ``data_type`` file as the project's definitions say."""
    plugin = project.registry[data_type]
    files = dict(files or {})    # inputs the caller has open already, by absolute path
    sources, previous_end = [], {}
    paths: dict[str, Path] = {}
    for subrun, segment, whole in project.superrun_sources(superrun):
        path = paths.get(subrun) or paths.setdefault(subrun, project.path(subrun, data_type))
        if path not in files:
            files[path] = DataFile(path)
        spans = [(segment.start, segment.end)]
        if whole:
            check_run_file_current(superrun, files[path], segment)
            spans = [span for span in leaf_spans(superrun, files[path], segment.run_id)
                     if span[0] < segment.end and span[1] > segment.start
                     and span[0] >= previous_end.get(segment.run_id, span[0])] or spans
        for start, end in spans:
            sources.append(Source(subrun, path, segment.run_id, start, end, whole,
                                  previous_end.get(segment.run_id)))
            previous_end[segment.run_id] = end
    expected = project.lineage(superrun, data_type)
    input_hashes = check_lineages(superrun, expected, project.per_run_options(data_type), sources, files)
    run_metadata = project.run_metadata(superrun)
    metadata = output_metadata(
        project, superrun, data_type, data_kind=plugin.data_kind,
        chunk_target_size_mb=project.storage["chunk_target_size_mb"], lineage=expected,
        run_metadata=run_metadata, extra=extra_metadata,
        fields={key: run_metadata[key] for key in ("sub_run_spec", "sub_run_spec_flat",
                                                   "sub_run_spec_hash", "selection")}
        | {"per_run_defaults": per_run_defaults(project, data_type), "input_lineage_hashes": input_hashes})
    kind_row_bytes = max(project.registry[dt].dtype.itemsize
                         for dt in project.registry.data_types_of_kind(plugin.data_kind))
    settings = BuildSettings(
        chunk_target_bytes=int(project.storage["chunk_target_size_mb"] * 1e6),
        row_bytes=kind_row_bytes,
        carry_over_min_bytes=int(project.storage["carry_over_min_mb"] * 1e6),
        touching=run_metadata["selection"] == "touching",
    )
    build_superrun(superrun, sources, output, metadata, settings, files)
