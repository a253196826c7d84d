"""Half-open ``[start, end)`` intervals of int ns: the one span merger of the package."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["merge_span_arrays", "merge_spans"]


def merge_spans(spans: Iterable) -> list[list[int]]:
    """Sorted ``[start, end]`` spans, overlapping or touching ones merged into one."""
    merged: list[list[int]] = []
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def merge_span_arrays(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`merge_spans` on arrays of starts and ends (int64): sorted, overlapping or
    touching spans merged, in O(n log n) numpy work instead of a Python loop."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    if not len(starts):
        return starts, ends
    order = np.lexsort((ends, starts))
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    new = np.ones(len(starts), dtype=bool)
    new[1:] = starts[1:] > reach[:-1]
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(starts)) - 1
    return starts[first], reach[last]
