"""The records of superrun definitions: a definition as written, and a leaf segment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DEFAULT_SELECTION", "DEFINE_RUN_MARKER", "DEFINITION_SUFFIXES", "EVENTS_SUFFIXES",
           "KEYS", "MAX_NESTING_DEPTH", "SELECTIONS", "SET_OPERATIONS", "Segment", "Superrun", "entry_of"]

SELECTIONS = ("contained", "touching")
DEFAULT_SELECTION = "contained"
EVENTS_SUFFIXES = (".npy", ".csv")
#: The files a definitions directory holds (both spellings of YAML, as most tools accept).
DEFINITION_SUFFIXES = (".yaml", ".yml")
#: Deepest nesting of superruns (a superrun of runs is depth 1); Snakemake plans each level
#: with several nested calls, and runs out of Python's recursion limit near 490 levels.
MAX_NESTING_DEPTH = 100
#: First line of every file written by :func:`define_run`; without it, define_run refuses
#: to overwrite a file (it was written or taken over by hand).
DEFINE_RUN_MARKER = "# written by superruns define_run"
#: The keys a definition may hold.
KEYS = ("description", "runs", "ranges", "events", "from_run", "pad_ns", "selection",
        "query", "union", "intersection", "difference", "veto", "sample")
#: Set operations over runs and superruns (docs/datasets.md).
SET_OPERATIONS = ("union", "intersection", "difference")


@dataclass(frozen=True, slots=True)
class Segment:
    """``[start, end)`` (int ns) of leaf run ``run_id`` held by a superrun."""

    run_id: str
    start: int
    end: int

    @property
    def duration_ns(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Superrun:
    """One definition as written (normalised: ranges as tuples of ``(start, end)``)."""

    name: str
    description: str = ""
    runs: tuple[str, ...] = ()
    ranges: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict, hash=False)
    events: Path | None = None
    from_run: str | None = None
    pad_ns: int = 0
    selection: str = DEFAULT_SELECTION
    source_file: Path | None = None
    #: ``query:`` as parsed (definitions.query), or None.
    query: Mapping | None = field(default=None, hash=False)
    #: ``union``, ``intersection`` or ``difference``, and its operands (runs and superruns).
    set_operation: str | None = None
    operands: tuple[str, ...] = ()
    #: ``veto:``: ``{run_id: ((start, end), ...)}`` or the path of a veto file.
    veto: Mapping | Path | None = field(default=None, hash=False)
    #: ``sample:``: ``{"fraction": float, "seed": int}``.
    sample: Mapping | None = field(default=None, hash=False)

    @property
    def derived(self) -> bool:
        """Defined by a query, a set operation, a veto or a sample (resolved to leaf runs)."""
        return (self.query is not None or self.set_operation is not None
                or self.veto is not None or self.sample is not None)

    def named_subruns(self) -> list[str]:
        """Subruns named in the definition itself (runs, range keys, from_run, set operands),
        file order."""
        out = list(self.runs) + [k for k in self.ranges if k not in self.runs]
        if self.from_run is not None and self.from_run not in out:
            out.append(self.from_run)
        out.extend(k for k in self.operands if k not in out)
        return out


def entry_of(d: Superrun, sub: str) -> str:
    """Where ``sub`` is named in ``d`` (for messages)."""
    if sub in d.ranges:
        return f"ranges[{sub!r}]"
    if sub in d.runs:
        return f"runs[{d.runs.index(sub)}] {sub!r}"
    if sub in d.operands:
        return f"{d.set_operation}[{d.operands.index(sub)}] {sub!r}"
    return "from_run"
