"""What a superrun still needs, and the targets that make it: ``superruns recover NAME``.

As CMS's ``crab report`` gives the luminosity sections processed and not finished, this lists
per data type every part of a superrun's definition that is not built for the current
configuration -- its leaf runs and the superruns it is made of, itself included -- with the
livetime each part carries, and writes the files Snakemake has to make as a target list.

Each part of a data type is in one state:

- **done**: its file of the configuration's lineage is stored (a superrun's built from its
  current definition), where the data lie (``data_dir`` or remote storage);
- **failed**: not done, and its job's log (``{data_dir}/logs/{rule}/...``) records an error:
  the last error line is given (a run's chain job fails for every data type it had left);
- **stale**: not done, another version is stored (other options, an older definition);
- **missing**: nothing stored, no failed job.

The livetime a leaf run carries is what the superrun holds of it (its segments, after
vetoes: :mod:`superruns.definitions.exposure`); a nested superrun's is its own livetime.
Failed jobs are known from local logs only: with ``remote:`` storage the logs go there too,
and such parts show as missing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..base.errors import SuperrunsError
from ..project.lineages import current_lineages
from .campaign_status import DONE, MISSING, STALE, asked_data_types, campaign_members

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["FAILED", "RECOVER_STATES", "recover", "write_targets", "format_recover"]

FAILED = "failed"
RECOVER_STATES = (DONE, FAILED, STALE, MISSING)
_ERROR = re.compile(r"^\S+ \S+ ERROR (.*)$", re.M)


def leaf_livetimes(project: Project, name: str) -> dict[str, float]:
    """``{leaf run: seconds of it that ``name`` holds}``."""
    flat = project.definitions.flat(name)
    lengths = np.zeros(len(flat.run_ids), dtype=np.int64)
    np.add.at(lengths, flat.run_index, flat.ends - flat.starts)
    return {flat.run_ids[i]: int(lengths[i]) / 1e9 for i in np.unique(flat.run_index).tolist()}


def _upstream(project: Project, data_type: str) -> list[str]:
    """``data_type`` and every data type it is computed from, nearest first."""
    order, stack = [], [data_type]
    while stack:
        current = stack.pop(0)
        if current in order or current not in project.registry:
            continue
        order.append(current)
        stack.extend(project.registry[current].depends_on)
    return order


def _log_error(path: Path) -> str | None:
    try:
        errors = _ERROR.findall(path.read_text(errors="replace"))
    except OSError:
        return None
    return errors[-1].strip() if errors else None


def job_error(project: Project, run_id: str, data_type: str, lineage_of) -> tuple[str, str] | None:
    """``(log path, its last error line)`` of the failed job that was to make the file, or of a
    failed job of the same run making a data type it is computed from (it never ran then)."""
    logs = project.data_dir / "logs"
    if project.is_superrun(run_id):
        lineage = lineage_of(run_id, data_type)
        candidates = [logs / rule / run_id / f"{data_type}-{lineage}.log" for rule in ("superrun", "superrun_level")]
    else:
        candidates = [logs / rule / run_id / f"{dt}-{lineage_of(run_id, dt)}.log"
                      for dt in _upstream(project, data_type) for rule in ("process", "strax_produce")]
        candidates += sorted((logs / "run_chain").glob(f"{run_id}-*.log"))
    for path in candidates:
        error = _log_error(path)
        if error:
            return str(path), error
    return None


def _definition_hash(project: Project, superrun: str) -> str | None:
    try:
        return project.definitions.run_metadata(superrun)["sub_run_spec_hash"]
    except SuperrunsError:
        return None


def _state(project: Project, run_id: str, data_type: str, lineage_of, stored: dict, others: set) -> str:
    path = stored.get((data_type, lineage_of(run_id, data_type)))
    if path is not None:
        if not project.is_superrun(run_id):
            return DONE
        try:
            built_from = project.open_data(path).metadata.get("sub_run_spec_hash")
        except (SuperrunsError, OSError):
            return STALE
        return DONE if built_from == _definition_hash(project, run_id) else STALE
    if job_error(project, run_id, data_type, lineage_of):
        return FAILED
    return STALE if data_type in {dt for dt, _ in stored} | others else MISSING


def recover(project: Project, name: str, data_types=None) -> dict:
    """Per data type, the parts of ``name`` in each state, with livetimes and the targets."""
    project.check_known(name)
    data_types = asked_data_types(project, data_types, "recover")
    runs, superruns = campaign_members(project, name)
    livetime = leaf_livetimes(project, name) if project.is_superrun(name) else \
        {name: project.run_metadata(name)["livetime"]}
    for superrun in superruns:
        livetime[superrun] = project.run_metadata(superrun)["livetime"]
    of_runs = current_lineages(project, runs, list(project.registry))   # upstream types too (failed jobs)

    def lineage_of(member: str, data_type: str) -> str:
        return project.lineage_hash(member, data_type) if project.is_superrun(member) else of_runs(member, data_type)

    listing = project.run_listing(runs + superruns)
    result = {"name": name, "livetime": livetime.get(name, sum(livetime[r] for r in runs)),
              "data_types": {}}
    scans = {member: listing(member) for member in runs + superruns}
    for data_type in data_types:
        result["data_types"][data_type] = _one_type(project, data_type, runs, superruns, scans,
                                                    lineage_of, livetime)
    return result


def _one_type(project, data_type, runs, superruns, scans, lineage_of, livetime) -> dict:
    parts = {state: [] for state in RECOVER_STATES}
    for member in runs + superruns:
        state = _state(project, member, data_type, lineage_of, *scans[member])
        part = {"name": member, "superrun": member in superruns, "livetime": livetime.get(member, 0.0),
                "target": str(project.path(member, data_type, lineage_of(member, data_type)))}
        if state == FAILED:
            part["log"], part["error"] = job_error(project, member, data_type, lineage_of)
        parts[state].append(part)
    summary = {state: {"runs": sum(not p["superrun"] for p in parts[state]),
                       "livetime": sum(p["livetime"] for p in parts[state] if not p["superrun"])}
               for state in RECOVER_STATES}
    return {"parts": parts, "summary": summary}


def targets(result: dict, base_dir: Path) -> list[str]:
    """The files to make, relative to Snakemake's working directory: leaf runs first, then the
    superruns, nested ones before those holding them (Snakemake orders them anyway)."""
    files = []
    for entry in result["data_types"].values():
        todo = [p for state in (FAILED, STALE, MISSING) for p in entry["parts"][state]]
        files += [p["target"] for p in sorted(todo, key=lambda p: p["superrun"])]
    return [str(Path(f).relative_to(base_dir)) if Path(f).is_relative_to(base_dir) else f
            for f in dict.fromkeys(files)]


def write_targets(project: Project, result: dict, path: str | Path | None = None) -> Path:
    """Write the target list (one file per line) to ``path``, default
    ``{data_dir}/logs/recover/{name}.targets``; returns where."""
    from ..base.atomic import write_atomic

    path = Path(path) if path else project.data_dir / "logs" / "recover" / f"{result['name']}.targets"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = targets(result, project.base_dir)
    write_atomic(path, "".join(f"{line}\n" for line in lines))
    result["targets"], result["targets_file"] = lines, str(path)
    return path


def format_recover(result: dict) -> list[str]:
    """The report ``superruns recover`` prints."""
    lines = [f"{result['name']}: {result['livetime']:.1f} s of livetime"]
    width = max(len(dt) for dt in result["data_types"]) + 2
    lines.append(f"{'data type':<{width}}" + "".join(f"{s:>22}" for s in RECOVER_STATES))
    for data_type, entry in result["data_types"].items():
        cells = [f"{c['runs']} run{'' if c['runs'] == 1 else 's'} {c['livetime']:.1f} s"
                 for c in entry["summary"].values()]
        lines.append(f"{data_type:<{width}}" + "".join(f"{c:>22}" for c in cells))
        for state in (FAILED, STALE, MISSING):
            for part in entry["parts"][state]:
                what = "superrun" if part["superrun"] else "run"
                line = f"  {state:<8} {what} {part['name']} ({part['livetime']:.1f} s)"
                if state == FAILED:
                    line += f": {part['error']}  [log: {part['log']}]"
                lines.append(line)
    if "targets_file" in result:
        lines.append(f"{len(result['targets'])} targets written to {result['targets_file']}; make them with: "
                     f"snakemake --cores all $(cat {result['targets_file']})")
    return lines
