"""Run ids and superrun names: the patterns they follow and why a given one is refused.

A regular run id never starts with ``_`` (that marks a superrun) and holds only letters,
digits, ``_`` and ``.``: no ``/`` (it would make a path), ``,``, ``-`` (strax's DataDirectory
rejects it) or white space. A superrun name is ``_`` followed by what a run id may hold;
strax would silently prepend the ``_``, we refuse a name without it.

Both are file names (``{data_dir}/{name}/{data_type}``, ``logs/.../{name}/...``), so they are
at most :data:`MAX_NAME_LENGTH` characters (a file name is at most 255 bytes on every common
file system; strax's own file names add the data type and a hash to the run id), and a run id
is none of the workflow's own folders in ``data_dir`` (:data:`RESERVED_RUN_IDS`). Two names
that differ only in case would share a file on a case-insensitive file system (macOS, Windows):
:func:`case_collisions` finds them so each registry can refuse them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "DATA_TYPE_PATTERN",
    "RUN_ID_PATTERN",
    "SUPERRUN_NAME_PATTERN",
    "MAX_NAME_LENGTH",
    "RESERVED_RUN_IDS",
    "case_collisions",
    "data_type_problem",
    "did_you_mean",
    "is_superrun_id",
    "run_id_problem",
    "superrun_name_problem",
]

#: A regular run id (no anchors, usable as a Snakemake wildcard constraint).
RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.]*"
#: A superrun name: ``_`` then what a run id may hold.
SUPERRUN_NAME_PATTERN = r"_[A-Za-z0-9][A-Za-z0-9_.]*"
#: Longest run id or superrun name, in characters (all ASCII, so bytes too).
MAX_NAME_LENGTH = 100
#: The workflow's own folders in ``data_dir`` (rules' outputs and logs), never run ids.
RESERVED_RUN_IDS = ("logs", "summary", "selections", "benchmarks", "report", "config")
#: A data type: it names files (``{run}/{data_type}-{lineage_hash}``, strax's
#: ``{run}-{data_type}-{hash}``), so letters, digits and ``_`` only.
DATA_TYPE_PATTERN = r"[A-Za-z][A-Za-z0-9_]*"
_RUN_ID_RE = re.compile(RUN_ID_PATTERN)
_DATA_TYPE_RE = re.compile(DATA_TYPE_PATTERN)
_SUPERRUN_RE = re.compile(SUPERRUN_NAME_PATTERN)


def is_superrun_id(run_id: str) -> bool:
    """True for a superrun name (starts with ``_``), as strax decides it."""
    return isinstance(run_id, str) and run_id.startswith("_")


def _not_a_string(run_id: Any) -> str:
    if isinstance(run_id, (int, float)) and not isinstance(run_id, bool):
        return (f"run id {run_id!r} is a number, not a string: YAML reads unquoted digits "
                f"as a number (000001 becomes 1, and 000010 the octal 8); quote it, e.g. "
                f'"000001"')
    return f"run id {run_id!r} is a {type(run_id).__name__}, not a string; quote it"


def run_id_problem(run_id: Any) -> str | None:
    """Why ``run_id`` is not a valid regular run id, or None when it is."""
    if isinstance(run_id, bool) or not isinstance(run_id, str):
        return _not_a_string(run_id)
    if not run_id:
        return "the run id is empty"
    if run_id.startswith("_"):
        return (f"run id {run_id!r} starts with '_', which marks a superrun; regular run ids "
                f"never do: rename the run (or define a superrun in superruns.yaml)")
    if len(run_id) > MAX_NAME_LENGTH:
        return _too_long("run id", run_id)
    if run_id.lower() in RESERVED_RUN_IDS:
        return (f"run id {run_id!r} is the name of one of the workflow's own folders in "
                f"data_dir ({', '.join(RESERVED_RUN_IDS)}, in any case); rename the run, e.g. "
                f"'run_{run_id}'")
    if not _RUN_ID_RE.fullmatch(run_id):
        bad = sorted({c for c in run_id if not (c.isascii() and (c.isalnum() or c in "_."))}
                     | ({run_id[0]} if run_id[0] == "." else set()))
        shown = ", ".join(repr(c) for c in bad)
        return (f"run id {run_id!r} holds {shown}; a run id starts with a letter or digit and "
                f"holds only letters, digits, '_' and '.' (no '/', ',', '-' or spaces: strax "
                f"rejects '-', use '_')")
    return None


def superrun_name_problem(name: Any) -> str | None:
    """Why ``name`` is not a valid superrun name, or None when it is."""
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        return _not_a_short_string("superrun name", name)
    if not name.startswith("_"):
        return (f"superrun name {name!r} does not start with '_' (strax would silently prepend "
                f"one; we refuse): call it '_{name}'")
    if not _SUPERRUN_RE.fullmatch(name):
        return (f"superrun name {name!r} is not '_' followed by a letter or digit and then only "
                f"letters, digits, '_' and '.': rename it, e.g. "
                f"'_{re.sub(r'[^A-Za-z0-9_.]', '_', name.lstrip('_')) or 'x'}'")
    return None


def data_type_problem(name: Any) -> str | None:
    """Why ``name`` cannot be a data type (a plugin's ``provides``), or None."""
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        return _not_a_short_string("data type", name)
    if not _DATA_TYPE_RE.fullmatch(name):
        return (f"data type {name!r} is not a letter followed by letters, digits and '_' (it names "
                f"files: {{run}}/{{data_type}}-{{lineage hash}}; '-', '/', '.' and spaces would "
                f"break them)")
    return None


def subrun_problem(sub: Any) -> str | None:
    """Why ``sub`` names neither a regular run nor a superrun (by its form), or None."""
    if isinstance(sub, str) and sub.startswith("_"):
        return superrun_name_problem(sub)
    return run_id_problem(sub)


def _not_a_short_string(what: str, name: Any) -> str:
    """Why ``name`` is not a string of at most :data:`MAX_NAME_LENGTH` characters."""
    if not isinstance(name, str):
        return f"{what} {name!r} is a {type(name).__name__}, not a string"
    return _too_long(what, name)


def _too_long(what: str, name: str) -> str:
    return (f"{what} {name[:40]!r}... is {len(name)} characters long; the limit is "
            f"{MAX_NAME_LENGTH} (it names files and folders, and a file name is at most 255 "
            f"bytes): shorten it")


def case_collisions(names: Iterable[str]) -> tuple[str, str] | None:
    """The first two of ``names`` that differ only in case, or None."""
    seen: dict[str, str] = {}
    for name in names:
        first = seen.setdefault(name.lower(), name)
        if first != name:
            return first, name
    return None


def did_you_mean(name: Any, known: Iterable[str]) -> str:
    """`` Did you mean '_sr1_v0.2'?`` for a mistyped ``name``: up to three of ``known`` that
    look like it (difflib's ratio, case ignored), or "" when none does. The one suggester of
    unknown names (runs, superruns, data types, commands)."""
    if not isinstance(name, str) or not name:
        return ""
    by_lower: dict[str, str] = {}
    for candidate in known:
        by_lower.setdefault(str(candidate).lower(), str(candidate))
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.75)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(by_lower[c]) for c in close) + "?"
