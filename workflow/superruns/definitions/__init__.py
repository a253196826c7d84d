"""Superrun definitions: YAML files, validation, flattening to leaf segments, run metadata.

Definitions live in ``config/superruns.yaml`` and every ``*.yaml`` or ``*.yml`` in
``config/superruns.d/`` (sorted by name; hidden files and notes, ``*.md``, ``*.txt``,
``*.rst``, are skipped; anything else there, and a configured path that does not exist, is an
error: nothing is skipped silently). Each file maps superrun names to definitions:

```yaml
_background_january:
  description: background, January
  runs: ["000001", "000002", _other_superrun]  # whole runs and/or superruns, nested freely
_minbias:
  ranges:                                     # int ns since the epoch, half-open [start, end)
    "000001": [[1546509600000000000, 1546509601000000000]]
    _background_january: [[...]]             # ranges of a superrun cut its leaf segments
  runs: ["000003"]                            # mixable with whole runs
  selection: contained                        # or touching; default contained
_dm_candidates:
  events: selections/candidates.npy           # .npy record array or .csv (header row)
  from_run: "000001"                          # when the file has no run_id column
  pad_ns: 1000                                # widen each event window on both sides
```

Semantics (the choices made here, beyond strax):

* A superrun holds *segments*: ``[start, end)`` pieces of leaf (regular) runs. A whole run is
  one segment ``[run.start, run.end)``; each range of a run is one segment; a superrun named in
  ``runs:`` contributes all its segments; ranges of a superrun contribute its segments
  intersected with the ranges. Segments of one superrun must not overlap in time (so a leaf
  run reached twice through two nested superruns is an error) and are kept in time order.
  Adjacent segments are not merged: they stay as defined.
* A range of a regular run must lie inside ``[run.start, run.end)``. A range of a superrun must
  lie inside the superrun's span ``[first segment start, last segment end)`` and overlap at
  least one of its segments (a range that holds nothing is a mistake); it may cover gaps.
* Events: each event ``[time, endtime)`` (or ``time + length * dt``) must lie inside its run;
  its window is widened by ``pad_ns`` on both sides, clipped to the run, and overlapping or
  touching windows of one run are merged. Event run ids are regular runs (never superruns).
  ``from_run`` gives the run when the file has no ``run_id`` column; when it has one, every
  row must name ``from_run``. Events files are read lazily (only when that superrun is
  flattened), relative to ``base_dir`` (the working directory), because the workflow itself
  may produce them.
* ``selection`` says which rows are kept where a segment cuts a run: ``contained`` (default)
  or ``touching``. A superrun holding a superrun that cuts runs (or cutting it with ranges)
  must use the same selection: otherwise building it from the inner superrun's file and
  from the leaf runs would keep different rows.
* Subruns are ordered by the start of what they hold, never by their id string (strax's
  ``"10" < "8"`` bug).
* ``mode``, ``source`` and ``tags`` in :meth:`Definitions.run_metadata` are sorted unique
  non-empty values over the leaf runs (strax leaves set order and adds ``""``).
* Superrun names must start with ``_`` (strax silently prepends one; we refuse), are at most
  100 characters, and no two differ only in case. Superruns nest at most 100 levels.

Every problem raises :class:`DefinitionError` naming the file, the superrun, the entry and
the fix. Flattened results are cached; everything is linear in the number of segments.

The package, one module per concern (imports flow down this list, never up):

* :mod:`.errors`: :class:`DefinitionError`, :class:`UnknownSuperrunError`, message wording.
* :mod:`.records`: :class:`Superrun` (a definition as written), :class:`Segment`, constants.
* :mod:`.parsing`: YAML files to records (the JSON schema first, then by hand).
* :mod:`.events`: events files to merged time windows per run.
* :mod:`.graph`: references, cycles, and flattening to leaf and sourced segments.
* :mod:`.metadata`: the run document of a superrun (sub-run specs and their hash).
* :mod:`.catalog`: :class:`Definitions`, all definitions loaded and queried.
* :mod:`.define`: :func:`define_run`, writing a definition file.
"""

from __future__ import annotations

from .catalog import Definitions
from .define import define_run
from .errors import DefinitionError, UnknownSuperrunError
from .events import events_to_windows
from .records import DEFAULT_SELECTION, DEFINE_RUN_MARKER, EVENTS_SUFFIXES, SELECTIONS, Segment, Superrun

__all__ = [
    "DEFAULT_SELECTION",
    "DEFINE_RUN_MARKER",
    "EVENTS_SUFFIXES",
    "SELECTIONS",
    "DefinitionError",
    "Definitions",
    "Segment",
    "Superrun",
    "UnknownSuperrunError",
    "define_run",
    "events_to_windows",
]
