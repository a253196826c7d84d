"""Per-run processing: run one plugin over one run, chunk by chunk, into its file.

Every input file of a run shares the run's chunk boundaries (they all descend from the
source plugin's chunks), so the inputs are read in lockstep and each output chunk covers
exactly the same ``[start, end)``: data types of one kind share chunk boundaries.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from ..base.errors import SuperrunsError
from ..model.plugins import ChunkSpan, Plugin, SourcePlugin, plugin_code
from ..storage import DataFile, DataWriter
from ..storage.freshness import require_current
from ..storage.identity import check_identity
from .metadata import output_metadata

if TYPE_CHECKING:
    from ..model.seam import ProjectView


class ProcessingError(SuperrunsError, RuntimeError):
    """A run's inputs cannot be processed; the message names the run, files and fix."""


def check_input_lineages(project: ProjectView, run_id: str, files: dict[str, DataFile]) -> None:
    """Refuse inputs that are not ``run_id``'s own files of their data type, built with the
    lineage the configuration gives them now (:func:`superruns.storage.identity.check_identity`)
    and current in everything else (:func:`superruns.storage.freshness.require_current`: a
    definition or a registry span changed since)."""
    for data_type, data in files.items():
        check_identity(data, run_id, data_type, project.lineage_hash(run_id, data_type), reader="job")
        require_current(project, run_id, data_type, data)


def input_chunks(run_id: str, files: dict[str, DataFile]) -> Iterator[tuple[ChunkSpan, dict[str, np.ndarray]]]:
    """Yield each chunk span of the run with the rows of every input for it."""
    tables = {data_type: [(c.start, c.end) for c in f.chunks] for data_type, f in files.items()}
    reference_type, reference = next(iter(tables.items()))
    for data_type, table in tables.items():
        if table != reference:
            raise ProcessingError(
                f"Run {run_id}: the chunks of {files[data_type].path} do not line up with those of "
                f"{files[reference_type].path}; rebuild both from the same source data.")
    for i, (start, end) in enumerate(reference):
        yield ChunkSpan(run_id, start, end), {dt: f.read_chunk(i) for dt, f in files.items()}


def computed_chunks(plugin: Plugin, run, config: dict, files: dict[str, DataFile]):
    """``(span, rows)`` of each chunk the plugin computes; whatever its code raises is a
    :class:`~superruns.model.plugins.PluginFailed` naming it (:func:`plugin_code`)."""
    who = f"plugin {plugin.name} ({plugin.provides})"
    if isinstance(plugin, SourcePlugin):
        chunks = plugin.generate(run, config)
        while True:
            with plugin_code(who, run.run_id):
                item = next(chunks, None)
            if item is None:
                return
            yield item
    missing = set(plugin.depends_on) - set(files)
    if missing:
        raise ProcessingError(f"Run {run.run_id}: {plugin.provides} needs {', '.join(sorted(missing))} as input.")
    for span, rows in input_chunks(run.run_id, {dt: files[dt] for dt in plugin.depends_on}):
        with plugin_code(who, run.run_id):
            rows = plugin.compute(rows, config, span)
        yield span, rows


def open_inputs(inputs: dict[str, Path | DataFile]) -> dict[str, DataFile]:
    """Each input opened once (metadata only); already open ones are kept."""
    return {dt: item if isinstance(item, DataFile) else DataFile(item) for dt, item in inputs.items()}


def process_run(project: ProjectView, run_id: str, data_type: str, inputs: dict[str, Path | DataFile], output: Path,
                extra_metadata: dict | None = None) -> None:
    """Compute ``data_type`` for ``run_id`` from its input files and write ``output``."""
    plugin = project.registry[data_type]
    run = project.runs[run_id]
    config = project.resolved_options(run_id, data_type)
    inputs = open_inputs(inputs)
    check_input_lineages(project, run_id, inputs)
    metadata = output_metadata(project, run_id, data_type, data_kind=plugin.data_kind,
                               chunk_target_size_mb=plugin.chunk_target_size_mb, extra=extra_metadata)
    with DataWriter(output, plugin.dtype, metadata) as writer:
        for span, rows in computed_chunks(plugin, run, config, inputs):
            writer.write_chunk(np.asarray(rows, dtype=plugin.dtype), span.start, span.end, run_id=run_id)
