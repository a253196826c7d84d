"""What a campaign holds for the current configuration: per data type, how many runs and
superruns are done, stale or missing (``superruns status [NAME]``).

From file names and the metadata of the current lineage's files; no rows are read and
Snakemake is not asked (one directory listing per run, benchmarks/README.md):

- **done**: the file of the configuration's lineage exists (``{run}/{data_type}-{hash}``,
  :mod:`superruns.storage.layout`) and is current (:mod:`superruns.storage.freshness`: for a
  superrun built from its definition and its leaf runs' registry spans now, for a run's file
  from its registry span now);
- **stale**: not done, but a version of another lineage is stored (other options or plugin
  versions; a file of the layout before versions, ``{run}/{data_type}``, counts as one), or
  the current lineage's file is stale: Snakemake would build it again;
- **missing**: nothing of that run's data type is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base.errors import SuperrunsError
from ..base.names import did_you_mean
from ..project.lineages import current_lineages
from ..storage.layout import scan_run

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["DONE", "STALE", "MISSING", "STATES", "asked_data_types", "campaign_members", "status",
           "format_status"]

DONE, STALE, MISSING = "done", "stale", "missing"
STATES = (DONE, STALE, MISSING)


def campaign_members(project: Project, name: str | None = None) -> tuple[list[str], list[str]]:
    """``(runs, superruns)`` of a campaign: every one the configuration defines, or those
    ``name`` (a run or superrun) is built from, itself included."""
    if name is None:
        return list(project.runs), list(project.definitions.names)
    project.check_known(name)
    runs, superruns, stack, seen = [], [], [name], set()
    while stack:
        member = stack.pop()
        if member in seen:
            continue
        seen.add(member)
        if project.is_superrun(member):
            superruns.append(member)
            stack.extend(_direct_subruns(project, member))
        else:
            runs.append(member)
    return sorted(runs), sorted(superruns)


def asked_data_types(project: Project, data_types, command: str) -> list[str]:
    """The data types a command was asked for (default: every one), each checked to exist."""
    data_types = list(data_types or project.registry)
    for data_type in data_types:
        if data_type not in project.registry:
            raise SuperrunsError(f"{command}: unknown data type {data_type!r}; the registry knows "
                                 f"{', '.join(sorted(project.registry))}."
                                 + did_you_mean(data_type, project.registry))
    return data_types


def _direct_subruns(project: Project, superrun: str) -> list[str]:
    try:
        return project.definitions.direct_subruns(superrun)
    except SuperrunsError:      # defined by events not selected yet: its subruns are not known
        return []


def _state_of(project: Project, run_id: str, data_type: str, path) -> str:
    """DONE or STALE of the current lineage's file, as :func:`superruns.storage.freshness.freshness`
    (load, Snakemake's params and verify) decides it."""
    from ..definitions import DefinitionError
    from ..storage.freshness import freshness

    try:
        return DONE if freshness(project, run_id, data_type, path).current else STALE
    except DefinitionError:
        return DONE            # defined by events not selected yet: it cannot be compared
    except (SuperrunsError, OSError):
        return STALE           # unreadable, or not what its name says: verify says why


def _states(project: Project, data_dir: str, run_id: str, data_types: list[str], lineage_of):
    """``(data_type, state)`` of one run or superrun."""
    stored, others = scan_run(data_dir, run_id, as_paths=False)
    types_stored = {dt for dt, _ in stored} | others      # others: the layout before versions
    for data_type in data_types:
        try:
            lineage = lineage_of(run_id, data_type)
        except SuperrunsError:  # defined by events not selected yet: no version of it is current
            yield data_type, MISSING
            continue
        path = stored.get((data_type, lineage))
        if path is not None:
            state = _state_of(project, run_id, data_type, path)
        else:
            state = STALE if data_type in types_stored else MISSING
        yield data_type, state


def status(project: Project, name: str | None = None, data_types=None) -> dict:
    """``{"runs": {data_type: {done, stale, missing}}, "superruns": {...}, "n_runs",
    "n_superruns", "name", "data_types"}`` for the current configuration."""
    data_types = asked_data_types(project, data_types, "status")
    runs, superruns = campaign_members(project, name)
    result = {"name": name, "data_types": data_types, "n_runs": len(runs), "n_superruns": len(superruns)}
    lineage_of = current_lineages(project, runs, data_types)
    data_dir = str(project.data_dir)
    for group, members in (("runs", runs), ("superruns", superruns)):
        counts = {dt: dict.fromkeys(STATES, 0) for dt in data_types}
        for run_id in members:
            for data_type, state in _states(project, data_dir, run_id, data_types, lineage_of):
                counts[data_type][state] += 1
        result[group] = counts
    return result


def format_status(result: dict) -> list[str]:
    """The table ``superruns status`` prints."""
    lines = []
    for group, n in (("runs", result["n_runs"]), ("superruns", result["n_superruns"])):
        if not n:
            continue
        width = max(len(dt) for dt in result["data_types"]) + 2
        lines.append(f"{f'{group} ({n})':<{width}}" + "".join(f"{s:>9}" for s in STATES))
        for data_type, counts in result[group].items():
            lines.append(f"  {data_type:<{width - 2}}" + "".join(f"{counts[s]:>9}" for s in STATES))
    return lines
