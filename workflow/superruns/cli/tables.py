"""What the ``superruns`` command prints for people: times in ISO-8601 UTC, durations and sizes
with their units, tables that fit :data:`WIDTH` columns, nested mappings indented.

``--json`` prints the values as they are (int ns, seconds as floats) for scripts; everything
else goes through :func:`human`, so no command prints a bare nanosecond count or a duration
without its unit.
"""

from __future__ import annotations

from typing import Any

from ..base.times import format_duration, format_ns
from ..base.units import format_size

__all__ = ["WIDTH", "fit", "human", "print_mapping", "print_table"]

#: The widest line a table prints (a terminal of 100 columns, or a pipe).
WIDTH = 100
#: Keys whose int values are times (ns since the epoch) and durations (s, or ns for ``*_ns``).
TIME_KEYS = frozenset({"start", "end", "time", "endtime", "first_time", "last_time"})
DURATION_KEYS = frozenset({"livetime", "span", "vetoed", "dq_cut", "livetime_s"})
DURATION_NS_KEYS = frozenset({"livetime_ns", "duration_ns"})
SIZE_KEYS = frozenset({"nbytes", "csize", "size", "bytes", "file_size"})
#: Ranges of one run shown by ``show`` before "... and N more".
MAX_RANGES = 5


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def human(key: str, value: Any) -> str:
    """``value`` of ``key`` in words: a time as ISO UTC, a duration or size with its unit, a
    list of names joined, a list of time ranges as ``start .. end (duration)``; None as ``-``."""
    if value is None:
        return "-"
    if key in TIME_KEYS and _is_int(value):
        return format_ns(value)
    if key in DURATION_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_duration(value)
    if key in DURATION_NS_KEYS and _is_int(value):
        return format_duration(value / 1e9)
    if key in SIZE_KEYS and _is_int(value):
        return format_size(value)
    if is_ranges(value):
        return "; ".join(range_text(r) for r in value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return fit([str(v) for v in value], WIDTH - 30, ", ") if value else "-"
    return str(value)


def is_ranges(value: Any) -> bool:
    """Whether ``value`` is a list of ``[start, end]`` int ns pairs (a ``sub_run_spec`` entry)."""
    return (isinstance(value, (list, tuple)) and bool(value)
            and all(isinstance(r, (list, tuple)) and len(r) == 2 and all(_is_int(t) for t in r)
                    for r in value))


def range_text(span) -> str:
    start, end = span
    return f"{format_ns(start)} .. {format_ns(end)} ({format_duration((end - start) / 1e9)})"


def _inline(mapping: dict) -> bool:
    """A small mapping of plain values is printed on one line (``livetime 180.0 s, vetoed 0.0 s``)."""
    return 0 < len(mapping) <= 4 and all(not isinstance(v, (dict, list, tuple)) for v in mapping.values())


def print_mapping(mapping: dict, out, indent: int = 0) -> None:
    """A nested mapping as indented ``key: value`` lines, every value through :func:`human`."""
    pad = " " * indent
    for key, value in mapping.items():
        if isinstance(value, dict) and _inline(value) and indent:
            print(f"{pad}{key}: " + ", ".join(f"{k} {human(k, v)}" for k, v in value.items()), file=out)
        elif isinstance(value, dict):
            print(f"{pad}{key}:", file=out)
            print_mapping(value, out, indent + 2)
        elif is_ranges(value) and len(value) > 1:
            print(f"{pad}{key}: {len(value)} ranges", file=out)
            for span in value[:MAX_RANGES]:
                print(f"{pad}  {range_text(span)}", file=out)
            if len(value) > MAX_RANGES:
                print(f"{pad}  ... and {len(value) - MAX_RANGES} more (--json lists them all)", file=out)
        else:
            print(f"{pad}{key}: {human(key, value)}", file=out)


def fit(items: list[str], width: int, sep: str = ",") -> str:
    """``items`` joined by ``sep`` in at most ``width`` characters, the rest counted (``+3 more``)."""
    text = sep.join(items)
    if len(text) <= width:
        return text
    for n in range(len(items) - 1, 0, -1):
        text = sep.join(items[:n]) + f" +{len(items) - n} more"
        if len(text) <= width:
            return text
    return f"{len(items)} items"


def _cut(cell, width: int) -> str:
    if isinstance(cell, list):
        return fit(cell, width) if cell else "-"
    return cell if len(cell) <= width else cell[:max(width - 3, 1)] + "..."


def print_table(rows: list[dict], columns: list[str], out, *, squeeze: str | None = None,
                width: int = WIDTH) -> None:
    """``rows`` as a table of ``columns``; a cell that is a list is joined by ``,``. The
    ``squeeze`` column takes what room the others leave, so no line is wider than ``width``."""
    cells = [[row[c] if isinstance(row[c], list) else str(row[c]) for c in columns] for row in rows]
    full = [[",".join(c) or "-" if isinstance(c, list) else c for c in r] for r in cells]
    widths = [max([len(c)] + [len(r[i]) for r in full]) for i, c in enumerate(columns)]
    if squeeze is not None and sum(widths) + 2 * (len(columns) - 1) > width:
        i = columns.index(squeeze)
        room = max(width - (sum(widths) - widths[i]) - 2 * (len(columns) - 1), len(squeeze), 12)
        for r, row in zip(full, cells):
            r[i] = _cut(row[i], room)
        widths[i] = max([len(squeeze)] + [len(r[i]) for r in full])
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(), file=out)
    for r in full:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip(), file=out)
