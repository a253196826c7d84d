"""Exposure: the exact livetime a superrun holds, and what its vetoes removed.

``livetime`` is the measure of the held intervals after vetoes (strax's ``define_run`` adds
each subrun's whole ``end - start`` even when only ranges were taken: see docs/datasets.md).
``span`` is ``end - start`` of the whole superrun; ``vetoed`` the time ``veto:`` and DQ
defects removed from what the query, set operation or sample held, ``dq_cut`` the part of it
the DQ defects removed (where a veto and a defect overlap, the defect's). All in seconds
(float; the int ns sums are exact, the division by 1e9 is the only rounding).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .derive import Resolution
from .graph import Flat

__all__ = ["exposure"]


def exposure(flat: Flat, resolution: Resolution | None) -> dict[str, Any]:
    """``{span, livetime, vetoed, dq_cut, per_subrun: {run: {livetime, vetoed, dq_cut}}}`` (seconds)."""
    # Sums over the flat arrays: a million event windows make no Python object each.
    lengths = np.zeros(len(flat.run_ids), dtype=np.int64)
    np.add.at(lengths, flat.run_index, flat.ends - flat.starts)
    present, first = np.unique(flat.run_index, return_index=True)
    held = {flat.run_ids[i]: int(lengths[i]) for i in present[np.argsort(first)].tolist()}
    vetoed = dict(resolution.vetoed) if resolution is not None else {}
    dq_cut = dict(resolution.dq_cut) if resolution is not None else {}
    per_subrun = {run_id: {"livetime": held.get(run_id, 0) / 1e9,
                           "vetoed": vetoed.get(run_id, 0) / 1e9,
                           "dq_cut": dq_cut.get(run_id, 0) / 1e9}
                  for run_id in list(held) + [r for r in vetoed if r not in held]}
    return {"span": (int(flat.ends.max()) - int(flat.starts[0])) / 1e9,
            "livetime": sum(held.values()) / 1e9,
            "vetoed": sum(vetoed.values()) / 1e9,
            "dq_cut": sum(dq_cut.values()) / 1e9,
            "per_subrun": per_subrun}
