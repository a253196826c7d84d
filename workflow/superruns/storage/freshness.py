"""Whether a stored file is current: the one answer every reader asks.

A file is *current* when what it records it was made with equals what the configuration gives
now (:func:`made_with`, recorded by every output's metadata, compared by :func:`freshness`):

- its lineage hash (plugins, versions, options; also in its name);
- for a superrun, its definition's ``sub_run_spec_hash`` (runs, ranges, vetoes, DQ files) and
  the registry spans of its leaf runs (``registry_spans_hash``: a run held whole is ``"all"``
  in the spec, so moving its ``end`` changes no spec hash, yet it changes what the superrun's
  livetime and, through the run's rebuilt files, its rows are);
- for a run's file made by this package's processing, the run's registry span ``[start,
  end)`` its run document recorded (the shipped detector generates ``raw_records`` over it, and
  everything else of the run is computed from them). Files strax made or imported keep
  theirs: their rows come from strax, not from our registry.

:func:`made_with` is also what the rules give Snakemake as params, so Snakemake reruns exactly
the jobs whose files :func:`freshness` calls stale (the lineage is in the file's name). ``load``,
``is_stored``, ``status``, ``verify``, the strax frontend and every job's inputs ask
:func:`freshness`; a stale file is refused by default, naming :func:`rebuild_command`, and
readable on purpose (``load(..., allow_stale=True)`` or ``lineage=``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..base.errors import SuperrunsError
from .identity import ANY, CURRENT, check_identity, rebuild_command, wanted_lineage_hash

if TYPE_CHECKING:
    from ..model.seam import ProjectView

__all__ = ["CURRENT_STATE", "MISSING", "STALE", "Freshness", "StaleDataError", "check_verified", "freshness",
           "made_with", "rebuild_command", "recorded", "require_current", "span_bound"]

CURRENT_STATE, STALE, MISSING = "current", "stale", "missing"


class StaleDataError(SuperrunsError, ValueError):
    """A stored file was made with another configuration than the one now: the message says
    what differs and the command that rebuilds it."""


def span_bound(plugin) -> bool:
    """Whether a run's file of ``plugin``'s data type depends on the run's registry span: made
    by this package's processing (strax-made and imported types carry an ``origin``)."""
    return getattr(plugin, "origin", None) is None


def made_with(project: ProjectView, run_id: str, data_type: str) -> dict:
    """What a current file of ``run_id/data_type`` records beyond its lineage (which its name
    holds): the rules' params, so Snakemake's rerun decision is this module's."""
    if project.is_superrun(run_id):
        document = project.definitions.run_metadata(run_id)
        return {"sub_run_spec_hash": document["sub_run_spec_hash"],
                "registry_spans_hash": document["registry_spans_hash"]}
    if not span_bound(project.registry[data_type]):
        return {}
    run = project.runs[run_id]
    return {"registry_span": [run.start, run.end]}


def recorded(metadata: dict) -> dict:
    """What a file's ``metadata`` say it was made with, in :func:`made_with`'s keys (None
    where it does not say)."""
    document = metadata.get("run_metadata") if isinstance(metadata.get("run_metadata"), dict) else {}
    return {"sub_run_spec_hash": metadata.get("sub_run_spec_hash"),
            "registry_spans_hash": metadata.get("registry_spans_hash"),
            "registry_span": [document.get("start"), document.get("end")]}


@dataclass(frozen=True)
class Freshness:
    """How a stored file of ``run_id/data_type`` stands: ``state`` current, stale (with the
    ``reasons``) or missing."""

    run_id: str
    data_type: str
    path: Path
    state: str
    reasons: tuple[str, ...] = ()

    @property
    def current(self) -> bool:
        return self.state == CURRENT_STATE

    @property
    def rebuild(self) -> str:
        return rebuild_command(self.run_id, self.data_type)

    def message(self) -> str:
        if self.state == MISSING:
            return f"{self.path} does not exist: build it with `{self.rebuild}`"
        return (f"{self.path} is stale: {'; '.join(self.reasons)}. Rebuild it with `{self.rebuild}`, "
                "or read it on purpose with allow_stale=True (or lineage=HASH)")


def _reasons(project: ProjectView, run_id: str, data_type: str, md: dict, lineage) -> list[str]:
    reasons = []
    wanted = wanted_lineage_hash(project, run_id, data_type, lineage)
    if wanted is not None and md.get("lineage_hash") != wanted:
        reasons.append(f"it holds lineage {md.get('lineage_hash')}, the configuration gives {wanted} "
                       "(its plugins or options differ)")
    now, then = made_with(project, run_id, data_type), recorded(md)
    if now.get("sub_run_spec_hash", then["sub_run_spec_hash"]) != then["sub_run_spec_hash"]:
        reasons.append(f"it was built from another definition of {run_id} (sub_run_spec_hash "
                       f"{then['sub_run_spec_hash']}, now {now['sub_run_spec_hash']}: its runs, ranges, "
                       "vetoes or DQ file changed)")
    if now.get("registry_spans_hash", then["registry_spans_hash"]) != then["registry_spans_hash"]:
        reasons.append("the run registry's start or end of its leaf runs changed since it was built"
                       if then["registry_spans_hash"] else
                       "it records no registry spans of its leaf runs (built by an older superruns)")
    if now.get("registry_span", then["registry_span"]) != then["registry_span"]:
        start, end = then["registry_span"]
        reasons.append(f"it was made for run {run_id} as [{start}, {end}), the run registry "
                       f"{project.config['runs']} now says [{now['registry_span'][0]}, {now['registry_span'][1]})")
    return reasons


def freshness(project: ProjectView, run_id: str, data_type: str, path_or_file=None, *,
              lineage: str | None = CURRENT, reader: str = "load") -> Freshness:
    """How the file ``path_or_file`` (a path or an open DataFile; default: the current
    lineage's path) of ``run_id/data_type`` stands against the configuration now. A file
    that is not ``run_id/data_type`` at all is refused (:func:`~.identity.check_identity`,
    ``reader`` picks the advice); ``lineage``: ``"current"`` compares the lineage too, a hash
    or ``"any"`` (a version read on purpose) only what else it was made with."""
    from types import SimpleNamespace

    from .reader import read_metadata

    if path_or_file is None:
        path_or_file = project.path(run_id, data_type)
    if not hasattr(path_or_file, "metadata"):
        path = Path(path_or_file)
        if not path.exists():
            return Freshness(run_id, data_type, path, MISSING)
        # the metadata alone, its checksum left to verify and to every read of the data: half
        # the cost of opening a DataFile (status asks for every file of a campaign)
        path_or_file = SimpleNamespace(path=path, metadata=read_metadata(path, checksum=False))
    check_identity(path_or_file, run_id, data_type, None, reader=reader)
    reasons = _reasons(project, run_id, data_type, path_or_file.metadata,
                       ANY if lineage not in (None, CURRENT) else CURRENT)
    return Freshness(run_id, data_type, Path(path_or_file.path), STALE if reasons else CURRENT_STATE,
                     tuple(reasons))


def require_current(project: ProjectView, run_id: str, data_type: str, data, *, reader: str = "job",
                    lineage: str | None = CURRENT) -> None:
    """Refuse ``data`` (an open DataFile) unless it is current (:func:`freshness`; ``lineage``
    as there), naming what differs and the command that rebuilds it."""
    state = freshness(project, run_id, data_type, data, reader=reader, lineage=lineage)
    if not state.current:
        raise StaleDataError(state.message() if reader == "load" else
                             f"{state.path} is stale: {'; '.join(state.reasons)}. Rebuild it with "
                             f"`{state.rebuild}`")


def check_verified(result: dict, project: ProjectView) -> int:
    """What ``superruns verify`` adds with a configuration: of the intact files of a
    :func:`~superruns.storage.verify_paths` result inside the project's data directory, of runs
    and data types it knows, those of the layout before versions whose lineage is not the
    configuration's are marked ``problem = "other_lineage"``; files named by their lineage are
    versions kept on purpose (``result["other_versions"]`` counts the others'); files of the
    current lineage that are stale (:func:`freshness`) are listed in ``result["stale"]`` with
    their reasons and rebuild command (not damaged: verify's exit status is for damage).
    Returns how many files were compared."""
    from .layout import place_of

    compared, data_dir = 0, Path(project.data_dir).absolute()
    result.update(other_versions=0, stale=[])
    for report in result["files"]:
        if not _comparable(report, project, data_dir):
            continue
        try:
            current = wanted_lineage_hash(project, report["run_id"], report["data_type"])
        except SuperrunsError:        # a run or superrun the configuration does not define
            continue
        compared += 1
        if place_of(report["path"])[2] is None:
            _old_layout(report, current)
        elif report.get("lineage_hash") != current:
            result["other_versions"] += 1
        else:
            _stale(report, project, result)
    result["bad"] = [r["path"] for r in result["files"] if not r["ok"]]
    result["ok"] = not result["bad"] and not result.get("unreadable")
    result["lineages_checked"] = compared
    return compared


def _comparable(report: dict, project: ProjectView, data_dir: Path) -> bool:
    from ..base.names import subrun_problem

    return bool(report["ok"]) and not subrun_problem(report["run_id"]) and \
        report["data_type"] in project.registry and data_dir in Path(report["path"]).absolute().parents


def _old_layout(report: dict, current: str) -> None:
    from .identity import Identity, identity_problem

    found = Identity(report["run_id"], report["data_type"], report.get("lineage_hash"))
    if found.lineage_hash != current:
        report.update(ok=False, problem="other_lineage")
        report["problems"].append(f"{report['path']}: "
                                  f"{identity_problem(found, found.run_id, found.data_type, current)}")


def _stale(report: dict, project: ProjectView, result: dict) -> None:
    try:
        state = freshness(project, report["run_id"], report["data_type"], report["path"])
    except SuperrunsError:            # e.g. defined by events not selected yet
        return
    if not state.current:
        result["stale"].append({"path": report["path"], "reasons": list(state.reasons),
                                "rebuild": state.rebuild})
