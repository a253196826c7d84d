"""Sizes in words: the one formatter of byte counts (CLI output, summary pages)."""

from __future__ import annotations

__all__ = ["format_size"]


def format_size(n: float | None) -> str:
    """Bytes in decimal units: ``512 B``, ``1.85 MB``; ``None`` gives ``-``."""
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return str(n)  # not reached
