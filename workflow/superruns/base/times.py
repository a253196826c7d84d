"""Times: int64 nanoseconds since the Unix epoch (UTC), parsed from and written as ISO-8601.

Every time in the package is such an int; this module is the one place that turns text,
datetimes and dates into it and back (messages, CLI output, reports, provenance).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

__all__ = ["INT64_MAX", "format_duration", "format_ns", "parse_time_ns", "utc_now_iso"]

INT64_MAX = 2**63 - 1
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_ISO_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<time>\d{1,2}:\d{2}(?::\d{2})?)(?:\.(?P<frac>\d{1,9}))?)?"
    r"[ \t]*(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)



def _datetime_ns(value: _dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def parse_time_ns(value: Any) -> int:
    """int ns since the epoch from an int, a datetime/date (naive = UTC) or an ISO-8601 string.

    ISO strings may carry up to 9 fractional digits (nanoseconds) and a zone (``Z``,
    ``+01:00``); without a zone they are UTC. Raises ``ValueError`` with the reason.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a boolean, not a time")
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in ("i", "u")):
        ns = int(value)
    elif isinstance(value, _dt.datetime):
        ns = _datetime_ns(value)
    elif isinstance(value, _dt.date):
        ns = _datetime_ns(_dt.datetime(value.year, value.month, value.day))
    elif isinstance(value, str):
        m = _ISO_RE.match(value.strip())
        if not m:
            raise ValueError(f"{value!r} is not an ISO-8601 time such as 2019-01-03T10:00:00Z")
        text = m["date"] + ("T" + m["time"] if m["time"] else "")
        if m["time"] and m["time"].count(":") == 1:
            text += ":00"
        tz = m["tz"]
        if tz and tz not in "Zz":
            if len(tz) == 3:
                tz += ":00"
            elif ":" not in tz:
                tz = tz[:3] + ":" + tz[3:]
            text += tz
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid time: {exc}") from None
        ns = _datetime_ns(parsed) + int((m["frac"] or "0").ljust(9, "0"))
    elif isinstance(value, float):
        raise ValueError(f"{value!r} is a float; give int nanoseconds (or an ISO-8601 time)")
    else:
        raise ValueError(f"{value!r} ({type(value).__name__}) is not a time")
    if not 0 <= ns <= INT64_MAX:
        raise ValueError(f"{value!r} is outside int64 nanoseconds since 1970")
    return ns


def format_ns(ns: int | None, *, fraction: bool = True, sep: str = "T", zone: str = "Z") -> str:
    """ISO-8601 UTC text of int ns, e.g. ``2019-01-03T10:00:00.000000001Z``.

    ``fraction=False`` drops the sub-second digits (tables, reports); ``sep`` and ``zone``
    give other spellings (``sep=" ", zone=""`` for a report's ``2019-01-03 10:00:00``).
    ``None`` (an unknown time) gives ``-``.
    """
    if ns is None:
        return "-"
    seconds, frac = divmod(int(ns), 1_000_000_000)
    text = (_EPOCH + _dt.timedelta(seconds=seconds)).strftime(f"%Y-%m-%d{sep}%H:%M:%S")
    if frac and fraction:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + zone


def format_duration(seconds: float | None) -> str:
    """A duration with its unit: ``1670.0 s``; from an hour on, also in hours or days
    (``4597410.0 s (53.2 d)``); below a second with three significant digits (``0.00173 s``).
    ``None`` gives ``-``."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    text = f"{seconds:.1f} s" if abs(seconds) >= 1 or seconds == 0 else f"{seconds:.3g} s"
    for unit, size in (("d", 86_400), ("h", 3_600)):
        if abs(seconds) >= size:
            return f"{text} ({seconds / size:.1f} {unit})"
    return text


def utc_now_iso() -> str:
    """The current UTC time to the microsecond, e.g. ``2026-12-05T17:15:35.123456Z``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
