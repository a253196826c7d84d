"""Half-open ``[start, end)`` intervals of int ns: the one span merger of the package, and the
set operations on merged span lists (sorted, disjoint, non-touching) that superrun set algebra,
vetoes and data quality use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["intersect_spans", "measure", "merge_span_arrays", "merge_spans", "subtract_spans"]


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


def intersect_spans(a: Sequence, b: Sequence) -> list[list[int]]:
    """The time both merged span lists hold (a merged span list); linear in their lengths."""
    out: list[list[int]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        (s1, e1), (s2, e2) = a[i], b[j]
        s, e = max(s1, s2), min(e1, e2)
        if s < e:
            out.append([s, e])
        if e1 <= e2:
            i += 1
        else:
            j += 1
    return out


def subtract_spans(a: Sequence, b: Sequence) -> list[list[int]]:
    """The time merged span list ``a`` holds and ``b`` does not; linear in their lengths."""
    out: list[list[int]] = []
    j = 0
    for s, e in a:
        while j < len(b) and b[j][1] <= s:
            j += 1
        k = j
        while k < len(b) and b[k][0] < e:
            if b[k][0] > s:
                out.append([s, b[k][0]])
            s = max(s, b[k][1])
            if s >= e:
                break
            k += 1
        if s < e:
            out.append([s, e])
    return out


def measure(spans: Iterable) -> int:
    """Total length (ns) of disjoint spans."""
    return sum(int(e) - int(s) for s, e in spans)
