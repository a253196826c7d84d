"""Exposure: the exact livetime a superrun holds, and what its vetoes removed.

``livetime`` is the measure of the held intervals after vetoes (strax's ``define_run`` adds
each subrun's whole ``end - start`` even when only ranges were taken: see docs/datasets.md).
``span`` is ``end - start`` of the whole superrun; ``vetoed`` the time ``veto:`` and DQ
defects removed from what the query, set operation or sample held. All in seconds (float;
the int ns sums are exact, the division by 1e9 is the only rounding).
"""

from __future__ import annotations

from typing import Any

from .derive import Resolution
from .graph import Flat

__all__ = ["exposure"]


def exposure(flat: Flat, resolution: Resolution | None) -> dict[str, Any]:
    """``{span, livetime, vetoed, per_subrun: {run: {livetime, vetoed}}}`` (seconds)."""
    segs = flat.segments
    held: dict[str, int] = {}
    for seg in segs:
        held[seg.run_id] = held.get(seg.run_id, 0) + (seg.end - seg.start)
    vetoed = dict(resolution.vetoed) if resolution is not None else {}
    per_subrun = {run_id: {"livetime": held.get(run_id, 0) / 1e9,
                           "vetoed": vetoed.get(run_id, 0) / 1e9}
                  for run_id in list(held) + [r for r in vetoed if r not in held]}
    return {"span": (max(s.end for s in segs) - segs[0].start) / 1e9,
            "livetime": sum(held.values()) / 1e9,
            "vetoed": sum(vetoed.values()) / 1e9,
            "per_subrun": per_subrun}
