"""The lock: ``config/superruns.lock.yaml`` freezes what each query (or sample) resolved to.

As a SAM snapshot or a Belle II collection: "the same query may not always return the same
results", so the runs a ``query:`` or ``sample:`` superrun resolved to are written down, with
the definition they came from, a hash of those runs' registry entries and a hash of the entry
itself:

```yaml
lock_version: 1
superruns:
  _bg_sr1:
    definition: {query: {mode: [background], tags: [sr1]}}
    definition_hash: 1a2b3c4d5e
    runs: ["000001", "000002"]
    registry_hash: 6f7a8b9c0d
    locked_at: 2026-12-05T20:00:00Z
    hash: 0e1f2a3b4c          # of the entry's other keys: a hand edit is refused
```

Semantics (the workflow's mode, ``check``):

* a locked superrun resolves to its locked runs; if the live registry (or a changed
  definition, or changed registry entries of the locked runs) would resolve differently,
  parsing stops naming the runs added and removed and the command that accepts it,
  ``superruns lock --update NAME``; ``superruns diff NAME`` shows the same, stopping nothing;
* a locked run that disappeared from the registry is such a difference (removed): it stops;
* a superrun not locked yet is locked on first use, saying so on stderr: by a run of the
  workflow, before its first job (reading -- ``snakemake -n``, ``superruns list``, ``load`` --
  resolves it the same way and writes nothing);
* an entry whose hash does not match (edited by hand) is refused;
* entries of superruns no longer defined are kept (harmless) until ``superruns lock --prune``;
* the lock holds runs, not time: vetoes and DQ defect ranges are applied to the locked runs
  as the definition and the DQ file say now (both are versioned files; the spec hash covers
  them, so an edit rebuilds what it changes).

Mode ``live`` (``superruns lock`` and ``diff`` themselves) resolves from the registry and
records what it found, so the commands can compare and write.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..base.atomic import write_atomic
from ..base.errors import SuperrunsError
from ..base.hashing import deterministic_hash, to_jsonable
from ..base.times import utc_now_iso
from ..base.yamlio import yaml_load
from ..model.runs import RunRegistry
from .records import Superrun

__all__ = ["LOCK_VERSION", "Lock", "LockError", "diff_report", "entries_hash", "lock_definition", "lock_report"]

LOCK_VERSION = 1
_HEADER = ("# written by `superruns lock`: the runs each query (or sample) superrun resolved to.\n"
           "# Do not edit: each entry's hash refuses hand edits. Accept a change with\n"
           "# `superruns lock --update NAME`; see it with `superruns diff NAME`.\n")
_SHOWN = 20
_WRITING = threading.Lock()


class LockError(SuperrunsError, ValueError):
    """The lock refuses: a hand-edited entry, or a superrun that would resolve differently."""


def lock_definition(d: Superrun) -> dict[str, Any]:
    """What of ``d`` decides the runs it resolves to (not its veto: vetoes cut time, not runs)."""
    out: dict[str, Any] = {}
    if d.query is not None:
        out["query"] = dict(d.query)
    if d.set_operation is not None:
        out[d.set_operation] = list(d.operands)
    if d.runs:
        out["runs"] = list(d.runs)
    if d.ranges:
        out["ranges"] = {k: [list(r) for r in v] for k, v in d.ranges.items()}
    if d.events is not None:
        out["events"] = str(d.events)
    if d.sample is not None:
        out["sample"] = dict(d.sample)
    return to_jsonable(out)


def registry_hash(runs: RunRegistry, ids: list[str]) -> str:
    """A hash of the registry entries (times, mode, source, tags) of ``ids``."""
    return deterministic_hash([[r, runs[r].start, runs[r].end, runs[r].mode, runs[r].source,
                                sorted(runs[r].tags)] for r in ids if r in runs])


def _listed(ids: list[str]) -> str:
    if not ids:
        return "none"
    more = f" ... and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    return ", ".join(ids[:_SHOWN]) + more


class Lock:
    """The lock file's entries, checked on load."""

    def __init__(self, path: str | Path, entries: Mapping[str, dict] | None = None):
        self.path = Path(path)
        self.entries: dict[str, dict] = dict(entries or {})
        #: Entries whose hash did not match (only when loaded with ``strict=False``).
        self.edited: set[str] = set()
        #: Superruns locked on first use, not written yet (see :meth:`write_pending`).
        self.pending: list[str] = []
        #: Differences found by :meth:`check`, raised together by :meth:`raise_problems`.
        self.problems: list[str] = []
        self.stale: list[str] = []

    @classmethod
    def load(cls, path: str | Path, *, strict: bool = True) -> "Lock":
        """Read the lock (none yet: empty). ``strict``: refuse a hand-edited entry; otherwise
        note it in :attr:`edited` (so ``superruns lock --update`` can replace it)."""
        path = Path(path)
        if not path.exists():
            return cls(path)
        doc = yaml_load(path, LockError) or {}
        version = doc.get("lock_version") if isinstance(doc, Mapping) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > LOCK_VERSION:
            raise LockError(f"{path}: a lock of version {version}, written by a newer superruns (this "
                            f"one reads version {LOCK_VERSION}); the lock is not damaged: upgrade "
                            "superruns to use it, and keep the file as it is")
        if (not isinstance(doc, Mapping) or version != LOCK_VERSION
                or not isinstance(doc.get("superruns") or {}, Mapping)):
            raise LockError(f"{path}: not a superruns lock (lock_version {LOCK_VERSION} with "
                            "superruns:); fix: restore it from version control, or move it aside "
                            "and run `superruns lock` to lock the query superruns afresh")
        entries = dict(doc.get("superruns") or {})
        edited = {name for name, entry in entries.items()
                  if not isinstance(entry, Mapping) or entry.get("hash") != _entry_hash(entry)}
        for name in sorted(edited):
            if strict:
                raise LockError(f"{path}: superrun {name!r}: the entry does not match its hash, so "
                                "it was edited by hand (a lock is written only by `superruns "
                                "lock`); fix: restore the file from version control, or run "
                                f"`superruns lock --update {name}` to lock it afresh")
        lock = cls(path, {n: e for n, e in entries.items() if n not in edited})
        lock.edited = edited
        return lock

    def make_entry(self, d: Superrun, ids: list[str], runs: RunRegistry) -> dict[str, Any]:
        definition = lock_definition(d)
        entry = {"definition": definition, "definition_hash": deterministic_hash(definition),
                 "runs": list(ids), "registry_hash": registry_hash(runs, ids),
                 "locked_at": utc_now_iso()}
        entry["hash"] = _entry_hash(entry)
        return entry

    def differences(self, d: Superrun, ids: list[str], runs: RunRegistry) -> list[str]:
        """How live resolution ``ids`` differs from the lock (empty: it does not)."""
        entry = self.entries[d.name]
        locked = list(entry["runs"])
        out = []
        if entry["definition_hash"] != deterministic_hash(lock_definition(d)):
            out.append(f"its definition changed since it was locked (locked: {entry['definition']})")
        live = set(ids)
        added = [r for r in ids if r not in set(locked)]
        removed = [r for r in locked if r not in live]
        if added or removed:
            gone = [r for r in removed if r not in runs]
            out.append(f"runs added: {_listed(added)}; runs removed: {_listed(removed)}"
                       + (f" (no longer in the registry: {_listed(gone)})" if gone else ""))
        elif entry["registry_hash"] != registry_hash(runs, ids):
            out.append("the registry entries of its runs changed (start, end, mode, source or tags)")
        return out

    def check(self, d: Superrun, ids: list[str], runs: RunRegistry) -> list[str]:
        """The runs ``d`` resolves to under the lock (locked on first use, saying so)."""
        if d.name not in self.entries:
            self.entries[d.name] = self.make_entry(d, ids, runs)
            self.pending.append(d.name)
            return ids
        diff = self.differences(d, ids, runs)
        if diff:
            self.problems.append(
                f"superrun {d.name!r} is locked to {len(self.entries[d.name]['runs'])} run(s), "
                f"but resolving it now (registry {runs.source}) gives {len(ids)}: "
                f"{'; '.join(diff)}")
            self.stale.append(d.name)
            return ids    # resolution goes on, so one message can list every difference
        return list(self.entries[d.name]["runs"])

    def raise_problems(self) -> None:
        """Stop with every difference found (see :meth:`check`), naming the command."""
        if not self.problems:
            return
        problems, names = list(self.problems), " ".join(self.stale)
        self.problems.clear()
        self.stale.clear()
        raise LockError(f"{self.path}: {' | '.join(problems)}. The lock keeps the selection "
                        f"reproducible; fix: accept it with `superruns lock --update {names}`, "
                        "or restore the registry or definition")

    def flush(self) -> None:
        """Stop on any difference found so far. Entries locked on first use stay in memory:
        reading (``snakemake -n``, ``superruns list``, ``load``) writes nothing; a run of the
        workflow writes them (:meth:`write_pending`)."""
        self.raise_problems()

    def write_pending(self) -> None:
        """Write the entries locked on first use (once everything resolved without error, so
        a definition error leaves the file as it was), saying so on stderr: what a run of the
        workflow does before its first job."""
        self.raise_problems()
        with _WRITING:                # the first jobs of a run may start side by side
            if self.pending:
                self._write_pending()

    def _write_pending(self) -> None:
        self.write()
        for name in self.pending:
            print(f"superruns: locked {name} to {len(self.entries[name]['runs'])} run(s) in "
                  f"{self.path} (first use); commit it with the definitions", file=sys.stderr)
        self.pending.clear()

    def write(self) -> None:
        doc = {"lock_version": LOCK_VERSION,
               "superruns": {n: self.entries[n] for n in sorted(self.entries)}}
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)   # libyaml: 100x faster
        text = yaml.dump(to_jsonable(doc), Dumper=dumper, sort_keys=False,
                         default_flow_style=None, width=100)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, _HEADER + text)


def lock_report(lock: Lock, live: Mapping[str, tuple[Superrun, list[str]]], runs: RunRegistry, *,
                update: list[str] = (), prune: bool = False) -> list[str]:
    """``superruns lock``: lock what is not locked yet, replace the ``update`` entries, keep
    the others (saying which differ); ``live``: name -> (definition, runs it resolves to
    now). Writes the file when anything changed; returns one line per superrun."""
    lines, changed = [], False
    for name, (d, ids) in sorted(live.items()):
        if name in lock.edited and name not in update:
            lines.append(f"{name}: EDITED BY HAND (hash mismatch): run superruns lock --update {name}")
        elif name not in lock.entries or name in update:
            verb = "locked" if name not in lock.entries and name not in lock.edited else "updated"
            lock.entries[name] = lock.make_entry(d, ids, runs)
            lock.edited.discard(name)
            changed = True
            lines.append(f"{name}: {verb}: {len(ids)} run(s)")
        else:
            diff = lock.differences(d, ids, runs)
            lines.append(f"{name}: " + ("DIFFERS: " + "; ".join(diff) + f"; accept with "
                                        f"superruns lock --update {name}" if diff
                                        else f"unchanged: {len(ids)} run(s)"))
    for name in sorted(set(lock.entries) - set(live)):
        if prune:
            del lock.entries[name]
            changed = True
            lines.append(f"{name}: removed (no longer a query or sample superrun)")
        else:
            lines.append(f"{name}: kept, though no longer a query or sample superrun "
                         "(superruns lock --prune removes it)")
    if changed:
        lock.write()
        lines.append(f"wrote {lock.path}")
    return lines


def diff_report(lock: Lock, d: Superrun, ids: list[str], runs: RunRegistry) -> tuple[bool, list[str]]:
    """``superruns diff NAME``: (differs?, lines)."""
    if d.name in lock.edited:
        return True, [f"{d.name}: the lock entry was edited by hand; superruns lock --update {d.name}"]
    if d.name not in lock.entries:
        return True, [f"{d.name}: not locked yet; it would lock to {len(ids)} run(s): {_listed(ids)}"]
    diff = lock.differences(d, ids, runs)
    if not diff:
        return False, [f"{d.name}: as locked ({len(ids)} run(s), locked at "
                       f"{lock.entries[d.name]['locked_at']})"]
    return True, [f"{d.name}: {line}" for line in diff] + [
        f"accept with: superruns lock --update {d.name}"]


def entries_hash(lock: Lock) -> str:
    """A hash of what the lock's entries decide (the runs, the definition and registry hashes
    they were locked from; not when): equal for the entries a run wrote and the same entries
    still in memory (locked on first use)."""
    return deterministic_hash({name: [entry.get("runs"), entry.get("definition_hash"), entry.get("registry_hash")]
                               for name, entry in sorted(lock.entries.items())})


def _entry_hash(entry: Mapping) -> str:
    return deterministic_hash({k: v for k, v in entry.items() if k != "hash"})
