"""Build a superrun's file from its subruns' files, streaming, in start-time order.

The subruns' rows are never all in memory: the build walks the leaf segments in time order
(the definitions' ``Flat``, as arrays), in blocks of consecutive
segments of one leaf run held by one subrun; takes the part of each source chunk that falls
in a block's segments (a :class:`Piece`, see :mod:`superruns.build.cutting`), and groups
consecutive pieces into output chunks of about ``chunk_target_size_mb``. Compressed frames that lie wholly inside a segment are copied
as they are; only frames that a range cuts, and frames too small to keep on their own, are
decompressed and recompressed.

Output chunk boundaries depend only on the pieces' row counts and a per-kind row size, so
data types of one kind (same rows, same times) get identical chunk boundaries.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping

import numpy as np

from ..base import kernels
from ..base.errors import SuperrunsError
from ..definitions.metadata import file_spec_fields
from ..definitions.records import Segment
from ..storage import DataFile, DataWriter
from .cutting import Block, BuildSettings, Carried, FrameCache, Piece, Source, block_pieces, blocks_of, merge_arrays
from .metadata import output_metadata

if TYPE_CHECKING:
    from ..model.seam import ProjectView

__all__ = ["Block", "BuildSettings", "Carried", "ConcatenationError", "MAX_CHUNK_RANGES", "Piece",
           "Source", "build_from_project", "build_superrun", "leaf_spans", "subrun_files"]

#: The most time ranges of one leaf run a chunk's ``subruns`` lists; beyond that the entry
#: holds a summary (``n_ranges``, ``livetime_ns``) and its ``start``/``end`` only, so chunk
#: metadata stays small whatever the number of ranges or events.
MAX_CHUNK_RANGES = 100


class ConcatenationError(SuperrunsError, RuntimeError):
    """The subruns cannot be combined; the message names the superrun, the subrun and the fix."""


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
    is not one interval (several time ranges of one run in one chunk), up to
    :data:`MAX_CHUNK_RANGES` of them; more are summarised as ``n_ranges`` and ``livetime_ns``."""
    intervals: dict[str, list[Piece]] = {}
    for piece in group:
        intervals.setdefault(piece.leaf, []).append(piece)
    return {leaf: subrun_entry(np.concatenate([p.starts for p in pieces]), np.concatenate([p.ends for p in pieces]))
            for leaf, pieces in intervals.items()}


def subrun_entry(starts: np.ndarray, ends: np.ndarray) -> dict:
    """One leaf's entry of a chunk's ``subruns`` from the spans it holds there (merged here):
    ``{"start", "end"}``, with ``ranges`` when there are several, summarised as ``n_ranges``
    and ``livetime_ns`` past :data:`MAX_CHUNK_RANGES` (a chunk's metadata stays compact)."""
    starts, ends = merge_arrays(starts, ends)
    entry = {"start": int(starts[0]), "end": int(ends[-1])}
    if len(starts) > MAX_CHUNK_RANGES:
        entry.update(n_ranges=len(starts), livetime_ns=int((ends - starts).sum()))
    elif len(starts) > 1:
        entry["ranges"] = np.stack([starts, ends], axis=1).tolist()
    return entry


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


def check_dtypes(superrun: str, files: dict[Path, DataFile], sources: list[Block]) -> np.dtype:
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


def check_order(superrun: str, previous: Piece | None, piece: Piece, source: Block) -> None:
    if previous is None or piece.first_time is None or previous.last_time is None:
        return
    if piece.first_time < previous.last_time:
        raise ConcatenationError(
            f"Superrun {superrun}: data of subrun {piece.leaf} (from {source.path}) start at "
            f"{piece.first_time} ns, before the previous data of {previous.leaf} end at "
            f"{previous.last_time} ns: the subruns overlap in time or their times go backwards. "
            "Check the run registry's start/end times and rebuild the subrun's data.")


def check_rows_sorted(superrun: str, rows: np.ndarray, source: Block) -> None:
    bad = kernels.first_unsorted_row(rows)
    if bad >= 0:
        raise ConcatenationError(
            f"Superrun {superrun}: rows of subrun {source.leaf} in {source.path} go backwards in time "
            f"at row {bad}. The subrun's file is not valid strax data: rebuild it.")


# -- the build --------------------------------------------------------------------------------------


def ordered_pieces(superrun: str, blocks: list[Block], files: dict[Path, DataFile],
                   settings: BuildSettings) -> Iterator[Piece]:
    previous = None
    caches = {path: FrameCache(data) for path, data in files.items()}
    for block in blocks:
        for piece in block_pieces(block, caches[block.path], settings):
            for part in piece.parts:
                if isinstance(part, np.ndarray):
                    check_rows_sorted(superrun, part, block)
            check_order(superrun, previous, piece, block)
            if piece.n:
                previous = piece
            yield piece


def build_superrun(superrun: str, sources: list[Source] | list[Block], output: Path, metadata: dict,
                   settings: BuildSettings, files: dict[Path, DataFile] | None = None) -> None:
    """Write the superrun file at ``output`` from ``sources`` (in time order): leaf segments
    (:class:`Source`) or blocks of them (:class:`Block`)."""
    if not sources:
        raise ConcatenationError(f"Superrun {superrun} holds no data: its definition has no segments.")
    blocks = sources if isinstance(sources[0], Block) else blocks_of(sources)
    files = dict(files or {})
    for block in blocks:
        if block.path not in files:
            files[block.path] = DataFile(block.path)
    dtype = check_dtypes(superrun, files, blocks)
    target_rows = max(1, settings.chunk_target_bytes // settings.row_bytes)
    with DataWriter(output, dtype, metadata) as writer:
        pieces = ordered_pieces(superrun, blocks, files, settings)
        for group in group_pieces(pieces, target_rows):
            writer.write_chunk_parts(chunk_parts(group, dtype, settings.carry_over_min_bytes),
                                     group[0].start, max(p.end for p in group), subruns=chunk_subruns(group),
                                     run_id=superrun)


# -- from a project's definitions ------------------------------------------------------------------


def leaf_spans(superrun: str, data: DataFile, leaf: str) -> list[tuple[int, int]]:
    """The intervals a file's data of ``leaf`` cover: the file's own span for the leaf run's
    file, or what its chunks' ``subruns`` record for a superrun's file (a chunk whose entry
    summarises its ranges counts with its whole ``[start, end)``).

    A run held whole keeps all its rows, even where its data reach past the run registry's
    start or end (imported strax data often begin a few ms before the run doc).
    """
    starts, ends = leaf_span_arrays(superrun, data, leaf)
    return [(int(s), int(e)) for s, e in zip(starts, ends)]


def leaf_span_arrays(superrun: str, data: DataFile, leaf: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`leaf_spans` as arrays of starts and ends."""
    if data.run_id == leaf:
        return (np.array([data.metadata["start"]], dtype=np.int64),
                np.array([data.metadata["end"]], dtype=np.int64))
    parts = [part for chunk in data.chunks if (part := (chunk.subruns or {}).get(leaf)) is not None]
    if not parts:
        raise ConcatenationError(f"Superrun {superrun}: {data.path} holds no data of run {leaf}, "
                                 "although the definitions say it does. Rebuild it (snakemake --forcerun).")
    spans = np.array([span for part in parts for span in part.get("ranges", [[part["start"], part["end"]]])],
                     dtype=np.int64).reshape(-1, 2)
    return merge_arrays(spans[:, 0], spans[:, 1])


def whole_spans(superrun: str, data: DataFile, leaf: str, starts: np.ndarray, ends: np.ndarray,
                after: int | None, before: int | None) -> tuple[np.ndarray, np.ndarray]:
    """What a file holding exactly these segments (``as_stored``: a run held whole, or a
    superrun taken unchanged) contributes for consecutive segments ``starts``/``ends`` of
    ``leaf``: the spans its file holds that overlap them, clipped to ``[after, before)`` (the
    neighbouring segments of the same leaf that other subruns hold), else the segments."""
    check_run_file_current(superrun, data, Segment(leaf, int(starts[0]), int(ends[-1])))
    s, e = leaf_span_arrays(superrun, data, leaf)
    keep = (s < ends[-1]) & (e > starts[0])
    s, e = s[keep], e[keep]
    if after is not None:
        s = np.maximum(s, after)
    if before is not None:
        e = np.minimum(e, before)
    ok = s < e
    return (s[ok], e[ok]) if ok.any() else (starts, ends)


def check_run_file_current(superrun: str, data: DataFile, segment) -> None:
    """Refuse a run's own file whose data lie wholly outside the run as the registry has it
    now: it was built before the run's start/end changed, and would contribute nothing."""
    start, end = data.metadata.get("start"), data.metadata.get("end")
    if data.run_id == segment.run_id and data.n_rows and start is not None and \
            (start >= segment.end or end <= segment.start):
        made_here = not (data.metadata.get("imported_from") or data.metadata.get("strax_folder"))
        fix = (f"the file is stale. Rebuild it: snakemake --forcerun {segment.run_id}/{data.data_type}" if made_here
               else "the workflow did not make it (imported, or read in place), so it cannot rebuild it: "
                    "correct the run's start/end in the run registry")
        raise ConcatenationError(
            f"Superrun {superrun}: {data.path} holds data of run {segment.run_id} in [{start}, {end}), "
            f"but the run registry puts the run at [{segment.start}, {segment.end}): {fix}")


def check_lineages(superrun: str, expected: dict, per_run_options: set[str],
                   sources: list[Source], files: dict[Path, DataFile]) -> dict[str, str]:
    """Refuse subruns whose lineage differs from the superrun's other than in per-run-default
    options; return the lineage hash of every direct subrun's file."""
    from ..model.lineage import compare_lineages, format_differences

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


def per_run_defaults(project: ProjectView, data_type: str) -> dict:
    """``{option: {"default_per_run": spec, "hash": ...}}`` for the per-run options of a data type."""
    from ..base.hashing import deterministic_hash
    from ..model.options import per_run_spec

    defaults = {}
    for dependency in project.registry.dependencies(data_type):
        for option in project.registry[dependency].options:
            spec = per_run_spec(option, project.options)
            if spec is not None:
                defaults[option.name] = {"default_per_run": spec, "hash": deterministic_hash(spec)}
    return defaults


def _segment_groups(project: ProjectView, superrun: str) -> list[tuple[str, str, bool, np.ndarray, np.ndarray]]:
    """``(subrun, leaf, as_stored, starts, ends)``: the superrun's sourced segments in time
    order, as the definitions resolve and flatten them (their ``Flat``, the one truth of what
    it holds), consecutive ones of one subrun and leaf together. ``as_stored``: the subrun's
    file holds exactly these segments' rows (a whole run, or a superrun taken unchanged)."""
    flat = project.definitions.flat(superrun)
    key = (flat.sub_index * max(1, len(flat.run_ids)) + flat.run_index) * 2 + flat.as_stored
    bounds = [0, *(np.flatnonzero(np.diff(key)) + 1).tolist(), len(flat)]
    groups = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        groups.append((flat.subruns[int(flat.sub_index[a])], flat.run_ids[int(flat.run_index[a])],
                       bool(flat.as_stored[a]), flat.starts[a:b], flat.ends[a:b]))
    return groups


def project_blocks(project: ProjectView, superrun: str, files: Mapping[str, DataFile]) -> list[Block]:
    """The superrun's blocks as the project's definitions say, read from ``files`` (the open
    file of each direct subrun)."""
    groups = _segment_groups(project, superrun)
    next_start: list[int | None] = [None] * len(groups)   # the leaf's next segment in another group
    first_seen: dict[str, int] = {}
    for i in range(len(groups) - 1, -1, -1):
        next_start[i] = first_seen.get(groups[i][1])
        first_seen[groups[i][1]] = int(groups[i][3][0])
    blocks, previous_end = [], {}
    for (subrun, leaf, as_stored, starts, ends), before in zip(groups, next_start):
        data = files[subrun]
        if as_stored:
            starts, ends = whole_spans(superrun, data, leaf, starts, ends, previous_end.get(leaf), before)
        blocks.append(Block(subrun, data.path, leaf, as_stored, starts, ends, previous_end.get(leaf)))
        previous_end[leaf] = int(ends[-1])
    return blocks


def subrun_files(project: ProjectView, superrun: str, data_type: str) -> dict[str, Path]:
    """``{direct subrun: its file of the current lineage}`` under the project's data_dir: for
    builds outside Snakemake (a Snakemake job opens exactly the inputs it is handed)."""
    return {subrun: project.path(subrun, data_type) for subrun in project.definitions.direct_subruns(superrun)}


def build_from_project(project: ProjectView, superrun: str, data_type: str, output: Path,
                       extra_metadata: dict | None = None,
                       inputs: Mapping[str, DataFile | Path] | None = None) -> None:
    """Build ``superrun``'s ``data_type`` file as the project's definitions say, from
    ``inputs``: each direct subrun's file (open, or its path); by default the current
    lineage's files under ``data_dir`` (:func:`subrun_files`)."""
    plugin = project.registry[data_type]
    given = inputs if inputs is not None else subrun_files(project, superrun, data_type)
    files = {subrun: f if isinstance(f, DataFile) else DataFile(f) for subrun, f in given.items()}
    missing = [s for s in project.definitions.direct_subruns(superrun) if s not in files]
    if missing:
        raise ConcatenationError(f"Superrun {superrun}: no input file for subrun(s) {', '.join(missing)}; "
                                 "the inputs must name every direct subrun's file.")
    sources = project_blocks(project, superrun, files)
    by_path = {data.path: data for data in files.values()}
    expected = project.lineage(superrun, data_type)
    input_hashes = check_lineages(superrun, expected, project.per_run_options(data_type), sources, by_path)
    run_metadata = project.run_metadata(superrun)
    spec_fields = file_spec_fields(run_metadata)   # many ranges: summarised, in both places
    metadata = output_metadata(
        project, superrun, data_type, data_kind=plugin.data_kind,
        chunk_target_size_mb=project.storage["chunk_target_size_mb"], lineage=expected,
        run_metadata=run_metadata | spec_fields, extra=extra_metadata,
        fields=spec_fields | {"per_run_defaults": per_run_defaults(project, data_type),
                              "input_lineage_hashes": input_hashes})
    build_superrun(superrun, sources, output, metadata, build_settings(project, plugin, run_metadata), by_path)


def build_settings(project: ProjectView, plugin, run_metadata: dict) -> BuildSettings:
    """How the superrun's file is cut and chunked: the storage settings, the per-kind row
    size that turns the chunk target into rows, and the selection rule."""
    kind_row_bytes = max(project.registry[dt].dtype.itemsize
                         for dt in project.registry.data_types_of_kind(plugin.data_kind))
    return BuildSettings(
        chunk_target_bytes=int(project.storage["chunk_target_size_mb"] * 1e6),
        row_bytes=kind_row_bytes,
        carry_over_min_bytes=int(project.storage["carry_over_min_mb"] * 1e6),
        touching=run_metadata["selection"] == "touching",
    )
