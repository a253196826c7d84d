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
from pathlib import Path

import numpy as np
import strax

from ..lineage import deterministic_hash
from ..storage import DataWriter
from .frontend import SuperrunsFrontend
from .registry import StraxDataType

__all__ = ["make_context", "produce", "produce_job", "strax_data_types"]


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
        raise ValueError(f"strax.context {target!r} must be 'module:function' (a function returning a strax.Context)")
    try:
        factory = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"strax.context {target!r} cannot be loaded ({error}); is the module on the "
                         "Python path?") from None
    context = factory()
    if not isinstance(context, strax.Context):
        raise ValueError(f"strax.context {target!r} returned a {type(context).__name__}, not a strax.Context")
    if context.context_config.get("use_per_run_defaults"):
        raise ValueError(f"strax.context {target!r}: per-run defaults (use_per_run_defaults=True) are not "
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
            raise ValueError(f"strax.data_types lists {data_type!r}, but the Context of {spec['context']} "
                             "has no plugin for it")
        plugins = context._get_plugins((data_type,), run_id)
        plugin = plugins[data_type]
        lineage = _plain(plugin.lineage)
        if deterministic_hash(lineage) != deterministic_hash(plugin.lineage):
            raise ValueError(f"{data_type}: strax's lineage does not survive JSON unchanged, so its hash "
                             "could not be kept; use options of plain types")
        result.append(StraxDataType(
            data_type, depends_on=_nearest_listed(data_type, plugins, set(listed) | set(known)),
            data_kind=plugin.data_kind_for(data_type), dtype=plugin.dtype_for(data_type), origin="context",
            lineage=lineage, chunk_target_size_mb=plugin.chunk_target_size_mb,
            plugin_name=type(plugin).__name__, version=plugin.version()))
    return result


def produce(project, run_id: str, data_type: str, inputs: dict, output, extra_metadata=None) -> None:
    """Run the strax Context for ``run_id`` and write ``data_type`` to ``output``.

    The Context reads the workflow's files of the inputs through :class:`SuperrunsFrontend`
    (its own frontends are made read only: the job writes nothing else). Chunks are rechunked
    as strax's saver would (``rechunk_on_save``), unless ``strax.rechunk`` is false.
    """
    from ..processing import ProcessingError, check_input_lineages, open_inputs

    spec = project.config["strax"]
    context = make_context(spec)
    for frontend in context.storage:
        frontend.readonly = True
    context.storage = [SuperrunsFrontend(project)] + list(context.storage)
    expected = project.lineage(run_id, data_type)
    key = context.key_for(run_id, data_type)
    if key.lineage_hash != deterministic_hash(expected):
        raise ProcessingError(f"Run {run_id}: the strax Context now gives {data_type} the lineage hash "
                              f"{key.lineage_hash}, the workflow expected {deterministic_hash(expected)}; "
                              "rerun snakemake so that it reads the Context again")
    check_input_lineages(project, run_id, open_inputs({dt: Path(p) for dt, p in inputs.items()}))
    plugin = context._get_plugins((data_type,), run_id)[data_type]
    dtype = np.dtype(plugin.dtype_for(data_type))
    rechunk = (spec.get("rechunk", True) and plugin.can_rechunk(data_type)
               and context.context_config.get("allow_rechunk", True))
    rechunker = strax.Rechunker(rechunk=rechunk, run_id=run_id)
    metadata = {
        "run_id": run_id, "data_type": data_type, "data_kind": plugin.data_kind_for(data_type),
        "lineage": expected, "lineage_hash": key.lineage_hash,
        "chunk_target_size_mb": plugin.chunk_target_size_mb,
        "run_metadata": project.run_metadata(run_id),
        "strax": {"context": spec["context"], "plugin": type(plugin).__name__,
                  "strax_version": strax.__version__, "rechunked": bool(rechunk)},
    } | (extra_metadata or {})
    with DataWriter(output, dtype, metadata) as writer:
        def write(chunks):
            for chunk in chunks:
                rows = chunk.data
                if rows.dtype != dtype:
                    if _layout(rows.dtype) != _layout(dtype):
                        raise ProcessingError(f"Run {run_id}: the strax plugin of {data_type} returned rows "
                                              f"of dtype {rows.dtype}, not its declared {dtype}")
                    rows = rows.view(dtype)          # the same fields, other titles
                writer.write_chunk(rows, chunk.start, chunk.end, run_id=run_id)

        for chunk in context.get_iter(run_id, data_type, progress_bar=False):
            write(rechunker.receive(chunk))
        write(rechunker.flush())


def produce_job(smk) -> None:
    """Snakemake job (rule ``strax_produce``): one strax data type of one regular run."""
    from ..jobs import job_log
    from ..project import Project

    with job_log(smk.log[0] if smk.log else None):
        project = Project(smk.config)
        produce(project, smk.wildcards.run, smk.wildcards.data_type, dict(smk.input.items()), Path(smk.output[0]))
