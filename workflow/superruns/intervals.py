"""Half-open ``[start, end)`` intervals of int ns: the one span merger of the package."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["merge_spans"]


def merge_spans(spans: Iterable) -> list[list[int]]:
    """Sorted ``[start, end]`` spans, overlapping or touching ones merged into one."""
    merged: list[list[int]] = []
    for start, end in sorted((int(s), int(e)) for s, e in spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
