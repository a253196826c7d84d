"""Data quality: ``config/dq/{version}.yaml``, one file per DQ version (as ATLAS names the DQ
version in a Good Run List).

```yaml
subsystems: [tpc, muon_veto]          # every subsystem this version judges
runs:                                 # per run and subsystem: good or bad
  "000001": {tpc: good, muon_veto: good}
  "000002": {tpc: bad}
defects:                              # per subsystem: time ranges vetoed where it is required
  tpc:
    - [1546509700000000000, 1546509710000000000]   # int ns or ISO-8601 strings, [start, end)
```

A run is good for ``require: [tpc]`` when every required subsystem is ``good`` for it; a run
the file does not mention, or a subsystem it does not give, is not good (unknown is not
good). Defect ranges of required subsystems are vetoed from the runs they overlap. Versions
coexist; a definition pins one; the file's content hash goes into the spec hash of every
superrun using it, so editing the file rebuilds exactly those.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base.errors import SuperrunsError, brief
from ..base.intervals import intersect_spans, merge_spans
from ..base.times import parse_time_ns
from ..base.yamlio import yaml_load

__all__ = ["DQError", "DataQuality", "load_dq"]

FLAGS = ("good", "bad")
_KEYS = ("subsystems", "runs", "defects", "description")


class DQError(SuperrunsError, ValueError):
    """A bad or missing data-quality file; the message names the file and the fix."""


@dataclass(frozen=True)
class DataQuality:
    """One DQ version: flags per run and subsystem, defect spans per subsystem."""

    version: str
    path: Path
    subsystems: tuple[str, ...]
    flags: Mapping[str, Mapping[str, str]] = field(hash=False)
    defects: Mapping[str, list[list[int]]] = field(hash=False)
    hash: str = ""
    _merged: dict = field(default_factory=dict, hash=False, compare=False, repr=False)
    _ends: dict = field(default_factory=dict, hash=False, compare=False, repr=False)

    def check_require(self, require: Iterable[str]) -> str | None:
        """The first required subsystem this version does not know, or None."""
        return next((s for s in require if s not in self.subsystems), None)

    def is_good(self, run_id: str, require: Iterable[str]) -> bool:
        flags = self.flags.get(run_id, {})
        return all(flags.get(s) == "good" for s in require)

    def defect_spans(self, require: Iterable[str], run_id: str, start: int, end: int
                     ) -> list[list[int]]:
        """Defect ranges of the required subsystems inside ``[start, end)`` (merged);
        logarithmic in the number of defects (merged once per ``require``)."""
        key = tuple(sorted(require))
        merged = self._merged.get(key)
        if merged is None:
            merged = merge_spans(span for s in key for span in self.defects.get(s, ()))
            self._merged[key] = merged
            self._ends[key] = [e for _, e in merged]
        i = bisect.bisect_right(self._ends[key], start)
        j = i
        while j < len(merged) and merged[j][0] < end:
            j += 1
        return intersect_spans(merged[i:j], [[start, end]])


def load_dq(directory: str | Path, version: str) -> DataQuality:
    """Read and check ``{directory}/{version}.yaml``."""
    directory = Path(directory)
    path = directory / f"{version}.yaml"
    if not isinstance(version, str) or "/" in version or not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []
        raise DQError(f"{path}: no data-quality version {version!r} (known: "
                      f"{', '.join(known) or f'none in {directory}'}); fix: name a known "
                      f"version or write {path}")
    doc = yaml_load(path, DQError) or {}
    return _parse(doc, path, version)


def _parse(doc: Any, path: Path, version: str) -> DataQuality:
    if not isinstance(doc, Mapping) or set(doc) - set(_KEYS) or "subsystems" not in doc:
        raise DQError(f"{path}: the top level must be a mapping with subsystems:, runs: and "
                      f"defects: (found {brief(doc)}); fix the file")
    subsystems = doc["subsystems"]
    if not isinstance(subsystems, list) or not all(isinstance(s, str) for s in subsystems):
        raise DQError(f"{path}: subsystems: {brief(subsystems)} is not a list of names; fix: "
                      "give e.g. subsystems: [tpc, muon_veto]")
    flags: dict[str, dict[str, str]] = {}
    for run_id, entry in (doc.get("runs") or {}).items():
        if not isinstance(run_id, str) or not isinstance(entry, Mapping):
            raise DQError(f"{path}: runs: {run_id!r}: give a quoted run id mapped to "
                          "{subsystem: good|bad}")
        for sub, flag in entry.items():
            if sub not in subsystems or flag not in FLAGS:
                raise DQError(f"{path}: run {run_id!r}, {sub}: {brief(flag)}; fix: flags are "
                              f"good or bad, subsystems one of {subsystems}")
        flags[run_id] = dict(entry)
    defects = {sub: _defect_spans(path, sub, spans, subsystems)
               for sub, spans in (doc.get("defects") or {}).items()}
    # canonical JSON of what the file says (comments and layout do not count); json in C, as
    # hashablize walks 100,000 entries in Python for seconds
    text = json.dumps({"subsystems": subsystems, "runs": flags, "defects": defects},
                      sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return DataQuality(version, path, tuple(subsystems), flags, defects, digest)


def _defect_spans(path: Path, sub: Any, spans: Any, subsystems: list) -> list[list[int]]:
    if sub not in subsystems:
        raise DQError(f"{path}: defects: {sub!r} is not a subsystem of this version "
                      f"({subsystems}); fix: add it to subsystems: or fix the name")
    out = []
    for i, pair in enumerate(spans or ()):
        try:
            s, e = (parse_time_ns(x) for x in pair)
            if not s < e:
                raise ValueError("start is not before end")
        except (ValueError, TypeError) as exc:
            raise DQError(f"{path}: defects: {sub}[{i}]: {brief(pair)}: {exc}; fix: give "
                          "[start, end] as int ns or ISO-8601 times, start before end") from None
        out.append([s, e])
    return merge_spans(out)
