"""The metadata every output file carries: the one place it is assembled.

Per-run processing, superrun builds and strax-made outputs all call
:func:`output_metadata`, so every file names its run, data type, kind, lineage (and hash),
chunk target and run document under the same keys and in the same order (the order is part
of the bytes written, which rebuilds must reproduce exactly).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model.lineage import lineage_hash as _lineage_hash

if TYPE_CHECKING:
    from ..model.seam import ProjectView

__all__ = ["output_metadata"]


def output_metadata(project: ProjectView, run_id: str, data_type: str, *, data_kind: str,
                    chunk_target_size_mb: float, lineage: dict | None = None,
                    run_metadata: dict | None = None, fields: dict | None = None, extra: dict | None = None) -> dict:
    """The metadata of the output ``run_id/data_type``.

    ``lineage`` and ``run_metadata`` default to the project's (given, they spare recomputing
    what the caller has already); ``fields`` are the output's
    own further keys (a superrun's spec, a strax plugin's name, ...), placed after the common
    ones; ``extra`` is what the job adds (its provenance record) and overrides everything.
    """
    if lineage is None:
        lineage = project.lineage(run_id, data_type)
    metadata = {
        "run_id": run_id,
        "data_type": data_type,
        "data_kind": data_kind,
        "lineage": lineage,
        "lineage_hash": _lineage_hash(lineage),
        "chunk_target_size_mb": chunk_target_size_mb,
        "run_metadata": project.run_metadata(run_id) if run_metadata is None else run_metadata,
    }
    metadata.update(fields or {})
    return metadata | (extra or {})
