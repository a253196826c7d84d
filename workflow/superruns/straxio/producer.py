"""strax Contexts as producers of subrun data types (rule ``strax_produce``; imports strax).

:func:`strax_data_types` declares the data types of the config's ``strax: {context:
"module:function", data_types: [...]}`` in a project's registry (kind, dtype, dependencies among
the workflow's data types, strax's lineage); :func:`produce` runs the Context for one run and
writes our file with strax's lineage and lineage hash and strax's chunks (rechunked as strax's
saver would).
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path

import numpy as np
import strax

from ..base.hashing import deterministic_hash
from ..build.metadata import output_metadata
from ..storage import DataWriter
from .frontend import SuperrunsFrontend
from .registry import StraxBridgeError, StraxDataType

log = logging.getLogger("superruns")

__all__ = ["make_context", "produce", "strax_output_metadata", "produce_job", "strax_data_types"]


def _plain(value):
    return json.loads(json.dumps(value))


def _layout(dtype: np.dtype):
    """Field names, types and offsets, titles aside."""
    return dtype.itemsize, [(name, dtype.fields[name][0], dtype.fields[name][1]) for name in dtype.names or ()]


def make_context(spec: dict) -> strax.Context:
    """Call the ``strax.context`` factory (``"module:function"``) of the config."""
    target = spec.get("context") or ""
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name:
        raise StraxBridgeError(f"strax.context {target!r} must be 'module:function' (a function returning a strax.Context)")
    try:
        factory = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise StraxBridgeError(f"strax.context {target!r} cannot be loaded ({error}); is the module on the "
                         "Python path?") from None
    context = factory()
    if not isinstance(context, strax.Context):
        raise StraxBridgeError(f"strax.context {target!r} returned a {type(context).__name__}, not a strax.Context")
    if context.context_config.get("use_per_run_defaults"):
        raise StraxBridgeError(f"strax.context {target!r}: per-run defaults (use_per_run_defaults=True) are not "
                         "supported for strax data types (as in strax's superruns); set the options instead")
    return context


def _nearest_listed(data_type: str, plugins: dict, listed: set) -> list[str]:
    """The data types ``data_type`` is computed from that the workflow stores: its strax
    dependencies, with those the Context computes on the fly replaced by theirs."""
    found, stack, seen = [], list(plugins[data_type].depends_on), set()
    while stack:
        dep = stack.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        if dep in listed:
            found.append(dep)
        else:
            stack.extend(plugins[dep].depends_on)
    return found


def strax_data_types(project, spec: dict, known=()) -> list[StraxDataType]:
    """The registry entries of ``spec["data_types"]``, taken from the strax Context (its
    plugins are instantiated and configured, never set up: no run-specific work)."""
    context = make_context(spec)
    listed = list(spec["data_types"])
    run_id = next(iter(project.runs), "0")
    result = []
    for data_type in listed:
        if data_type not in context._plugin_class_registry:
            raise StraxBridgeError(f"strax.data_types lists {data_type!r}, but the Context of {spec['context']} "
                             "has no plugin for it")
        plugins = context._get_plugins((data_type,), run_id)
        plugin = plugins[data_type]
        lineage = _plain(plugin.lineage)
        if deterministic_hash(lineage) != deterministic_hash(plugin.lineage):
            raise StraxBridgeError(f"{data_type}: strax's lineage does not survive JSON unchanged, so its hash "
                             "could not be kept; use options of plain types")
        result.append(StraxDataType(
            data_type, depends_on=_nearest_listed(data_type, plugins, set(listed) | set(known)),
            data_kind=plugin.data_kind_for(data_type), dtype=plugin.dtype_for(data_type), origin="context",
            lineage=lineage, chunk_target_size_mb=plugin.chunk_target_size_mb,
            plugin_name=type(plugin).__name__, version=plugin.version()))
    return result


def _checked_context(project, run_id: str, data_type: str, files: dict):
    """The config's strax Context, reading the job's input ``files`` (``{(run_id, data_type):
    path}``) first (its own frontends made read only: the job writes nothing else), after
    checking it still gives ``data_type`` the lineage the workflow expects."""
    from ..build.processing import ProcessingError

    context = make_context(project.config["strax"])
    for frontend in context.storage:
        frontend.readonly = True
    context.storage = [SuperrunsFrontend(project, files=files)] + list(context.storage)
    expected = deterministic_hash(project.lineage(run_id, data_type))
    key = context.key_for(run_id, data_type)
    if key.lineage_hash != expected:
        raise ProcessingError(f"Run {run_id}: the strax Context now gives {data_type} the lineage hash "
                              f"{key.lineage_hash}, the workflow expected {expected}; "
                              "rerun snakemake so that it reads the Context again")
    return context


def strax_output_metadata(project, run_id: str, data_type: str, plugin, *, rechunked: bool,
                          extra_metadata: dict | None = None) -> dict:
    """The metadata of a strax-made output: the package's common keys, then what strax made it."""
    made_by = {"context": project.config["strax"]["context"], "plugin": type(plugin).__name__,
               "strax_version": strax.__version__, "rechunked": rechunked}
    return output_metadata(project, run_id, data_type, data_kind=plugin.data_kind_for(data_type),
                           chunk_target_size_mb=plugin.chunk_target_size_mb,
                           fields={"strax": made_by}, extra=extra_metadata)


def _rows_of(chunk, dtype: np.dtype, run_id: str, data_type: str) -> np.ndarray:
    """A strax chunk's rows as the declared dtype (the same fields under other titles pass)."""
    from ..build.processing import ProcessingError

    rows = chunk.data
    if rows.dtype != dtype:
        if _layout(rows.dtype) != _layout(dtype):
            raise ProcessingError(f"Run {run_id}: the strax plugin of {data_type} returned rows "
                                  f"of dtype {rows.dtype}, not its declared {dtype}")
        rows = rows.view(dtype)
    return rows


def produce(project, run_id: str, data_type: str, inputs: dict, output, extra_metadata=None) -> None:
    """Run the strax Context for ``run_id`` and write ``data_type`` to ``output``.

    The Context reads the workflow's files of the inputs (paths or open files) through
    :class:`SuperrunsFrontend`. Chunks are rechunked as strax's saver would
    (``rechunk_on_save``), unless ``strax.rechunk`` is false.
    """
    from ..build.processing import check_input_lineages, open_inputs

    opened = open_inputs({dt: Path(item) if isinstance(item, str) else item for dt, item in inputs.items()})
    context = _checked_context(project, run_id, data_type,
                               {(run_id, dt): data.path for dt, data in opened.items()})
    check_input_lineages(project, run_id, opened)
    plugin = context._get_plugins((data_type,), run_id)[data_type]
    dtype = np.dtype(plugin.dtype_for(data_type))
    rechunk = bool(project.config["strax"].get("rechunk", True) and plugin.can_rechunk(data_type)
                   and context.context_config.get("allow_rechunk", True))
    rechunker = strax.Rechunker(rechunk=rechunk, run_id=run_id)
    metadata = strax_output_metadata(project, run_id, data_type, plugin, rechunked=rechunk,
                               extra_metadata=extra_metadata)
    with DataWriter(output, dtype, metadata) as writer:
        def write(chunks):
            for chunk in chunks:
                rows = _rows_of(chunk, dtype, run_id, data_type)
                writer.write_chunk(rows, chunk.start, chunk.end, run_id=run_id)

        for chunk in context.get_iter(run_id, data_type, progress_bar=False):
            write(rechunker.receive(chunk))
        write(rechunker.flush())


def _produce(job) -> None:
    from ..build.processing import open_inputs

    run_id, data_type = job.wildcards.run, job.wildcards.data_type
    log.info("strax %s, interpreter %s", strax.__version__, sys.executable)
    inputs = open_inputs(job.named_inputs())
    produce(job.project, run_id, data_type, inputs, job.output,
            extra_metadata=job.provenance(run_id, data_type, inputs.values()))


def produce_job(smk) -> None:
    """Snakemake job (rule ``strax_produce``): one strax data type of one regular run."""
    from ..orchestration.jobs import run_job

    run_job(smk, _produce)
