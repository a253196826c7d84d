"""Running a superrun-level plugin over one superrun (or run) into its file.

The inputs are the superrun's own stored files (concatenations built as usual, or other
superrun-level types): a streaming plugin reads them chunk by chunk in lockstep (they must
share chunk boundaries: one data kind), an exhaust plugin loads them whole and computes once.
Everything that can refuse the job -- options that differ across subruns, inputs of kinds a
streaming plugin cannot align, inputs of another lineage, a memory estimate over the
configured cap -- is checked before a row is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..model.plugins import plugin_code
from ..model.superrun_plugins import (
    SuperrunPlugin,
    SuperrunPluginError,
    SuperrunSpan,
    memory_estimate_mb,
    uniform_options,
)
from ..storage import DataFile, DataWriter
from .concatenation import subrun_entry
from .metadata import output_metadata
from .processing import check_input_lineages, input_chunks, open_inputs

if TYPE_CHECKING:
    from ..model.seam import ProjectView

__all__ = ["check_alignable", "check_memory", "process_superrun_level", "superrun_span"]

#: The run-document keys a superrun-level file records (editing the definition changes them).
SPEC_KEYS = ("sub_run_spec", "sub_run_spec_flat", "sub_run_spec_hash", "registry_spans_hash")


def check_alignable(run_id: str, plugin: SuperrunPlugin, files: dict[str, DataFile]) -> None:
    """A streaming plugin reads its inputs chunk by chunk together: they must be of one kind."""
    kinds = {f.metadata.get("data_kind") for f in files.values()}
    if not plugin.exhaust and len(kinds) > 1:
        listing = ", ".join(f"{dt} ({f.metadata.get('data_kind')})" for dt, f in files.items())
        raise SuperrunPluginError(
            f"Plugin {plugin.name} ({plugin.provides}) streams over {run_id} chunk by chunk, but its "
            f"inputs {listing} are of different data kinds, whose chunks do not align. Fix: make it an "
            "exhaust plugin (exhaust = True) or depend on data types of one kind.")


def check_memory(project: ProjectView, run_id: str, plugin: SuperrunPlugin, files: dict[str, DataFile]) -> int:
    """The job's memory estimate (MB); refused when over ``superrun_plugins.max_memory_mb``."""
    estimate = memory_estimate_mb(plugin, files.values())
    cap = (project.config.get("superrun_plugins") or {}).get("max_memory_mb")
    if cap is not None and estimate > cap:
        size = sum(c.nbytes for f in files.values() for c in f.chunks) / 1e6
        raise SuperrunPluginError(
            f"Plugin {plugin.name} ({plugin.provides}) over {run_id} would need about {estimate} MB "
            f"({size:.0f} MB of input rows held at once), over superrun_plugins.max_memory_mb = {cap} of "
            f"{project.source}. Nothing was computed. Fix: raise the cap (on a machine with that memory), "
            "or compute over smaller superruns.")
    return estimate


def superrun_span(project: ProjectView, run_id: str) -> SuperrunSpan:
    """The (super)run's ``[start, end)`` and leaf segments."""
    document = project.run_metadata(run_id)
    if project.is_superrun(run_id):
        segments = tuple((s.run_id, s.start, s.end) for s in project.definitions.segments(run_id))
    else:
        segments = ((run_id, document["start"], document["end"]),)
    return SuperrunSpan(run_id, int(document["start"]), int(document["end"]), segments)


def chunk_subruns(span: SuperrunSpan, start: int, end: int) -> dict | None:
    """What a superrun chunk ``[start, end)`` holds, as concatenated chunks say it (strax's
    ``subruns``: ``{leaf: {"start", "end"}}``, ``ranges`` when a leaf has several parts);
    None for a regular run."""
    if not span.run_id.startswith("_"):
        return None
    parts: dict[str, list[tuple[int, int]]] = {}
    for run_id, seg_start, seg_end in span.segments:
        if seg_start < end and seg_end > start:
            parts.setdefault(run_id, []).append((max(seg_start, start), min(seg_end, end)))
    return {run_id: subrun_entry(*np.asarray(pieces, dtype=np.int64).T) for run_id, pieces in parts.items()}


def _metadata(project: ProjectView, run_id: str, plugin: SuperrunPlugin, estimate: int, extra: dict | None) -> dict:
    document = project.run_metadata(run_id)
    fields = {key: document[key] for key in SPEC_KEYS if key in document}
    fields["superrun_level"] = {"exhaust": plugin.exhaust, "memory_estimate_mb": estimate}
    return output_metadata(project, run_id, plugin.provides, data_kind=plugin.data_kind,
                           chunk_target_size_mb=plugin.chunk_target_size_mb, run_metadata=document,
                           fields=fields, extra=extra)


def process_superrun_level(project: ProjectView, run_id: str, data_type: str, inputs: dict[str, Path | DataFile],
                           output: Path, extra_metadata: dict | None = None) -> None:
    """Compute the superrun-level ``data_type`` over ``run_id`` from its input files."""
    plugin = project.registry[data_type]
    files = open_inputs(inputs)
    missing = set(plugin.depends_on) - set(files)
    if missing:
        raise SuperrunPluginError(f"{run_id}: {data_type} needs {', '.join(sorted(missing))} as input.")
    files = {dt: files[dt] for dt in plugin.depends_on}
    config = uniform_options(project, run_id, data_type)
    check_alignable(run_id, plugin, files)
    check_input_lineages(project, run_id, files)
    estimate = check_memory(project, run_id, plugin, files)
    span = superrun_span(project, run_id)
    with DataWriter(output, plugin.dtype, _metadata(project, run_id, plugin, estimate, extra_metadata)) as writer:
        who = f"plugin {plugin.name} ({plugin.provides})"
        if plugin.exhaust:
            inputs = {dt: f.load() for dt, f in files.items()}
            with plugin_code(who, run_id):
                rows = plugin.compute_superrun(inputs, config, span)
            writer.write_chunk(np.asarray(rows, dtype=plugin.dtype), span.start, span.end, run_id=run_id,
                               subruns=chunk_subruns(span, span.start, span.end))
            return
        for chunk, rows in input_chunks(run_id, files):
            with plugin_code(who, run_id):
                out = plugin.compute_chunk(rows, config, chunk, span)
            writer.write_chunk(np.asarray(out, dtype=plugin.dtype), chunk.start, chunk.end, run_id=run_id,
                               subruns=chunk_subruns(span, chunk.start, chunk.end))
