"""What a campaign holds for the current configuration: per data type, how many runs and
superruns are done, stale or missing (``superruns status [NAME]``).

From file names and, for superruns only, their metadata; no data is read and Snakemake is not
asked (one directory listing per run: 10,000 runs in about a second, benchmarks/README.md):

- **done**: the file of the configuration's lineage exists (``{run}/{data_type}-{hash}``,
  :mod:`superruns.storage.layout`); for a superrun, built from its current definition too (the
  file's ``sub_run_spec_hash`` is the definition's);
- **stale**: not done, but a version of another lineage is stored (other options or plugin
  versions; a file of the layout before versions, ``{run}/{data_type}``, counts as one), or
  a superrun file of an earlier definition: Snakemake would build it again;
- **missing**: nothing of that run's data type is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base.errors import SuperrunsError
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
                                 f"{', '.join(sorted(project.registry))}")
    return data_types


def _direct_subruns(project: Project, superrun: str) -> list[str]:
    try:
        return project.definitions.direct_subruns(superrun)
    except SuperrunsError:      # defined by events not selected yet: its subruns are not known
        return []


def _definition_hash(project: Project, superrun: str) -> str | None:
    try:
        return project.definitions.run_metadata(superrun)["sub_run_spec_hash"]
    except SuperrunsError:      # defined by events not selected yet: cannot be compared
        return None


def _superrun_state(project: Project, superrun: str, path, definition_hash: str | None) -> str:
    from ..storage import read_metadata

    if definition_hash is None:
        return DONE
    try:
        built_from = read_metadata(path).get("sub_run_spec_hash")
    except (SuperrunsError, OSError):
        return STALE           # unreadable: Snakemake would not rebuild it, verify says why
    return DONE if built_from == definition_hash else STALE


def _states(project: Project, data_dir: str, run_id: str, data_types: list[str], lineage_of):
    """``(data_type, state)`` of one run or superrun."""
    stored, others = scan_run(data_dir, run_id, as_paths=False)
    types_stored = {dt for dt, _ in stored} | others      # others: the layout before versions
    definition = _definition_hash(project, run_id) if project.is_superrun(run_id) and stored else None
    for data_type in data_types:
        try:
            lineage = lineage_of(run_id, data_type)
        except SuperrunsError:  # defined by events not selected yet: no version of it is current
            yield data_type, MISSING
            continue
        path = stored.get((data_type, lineage))
        if path is not None:
            state = _superrun_state(project, run_id, path, definition) if project.is_superrun(run_id) else DONE
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
