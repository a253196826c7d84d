"""What a data file is, checked against what was asked for: the read side of "trust what a
file says it is, not where it lies".

Every data file names in its metadata the run (or superrun), the data type and the lineage
hash it holds (:func:`superruns.build.metadata.output_metadata`). A reader asks for a
``(run_id, data_type)`` by name and, through the configuration, for a lineage; the file found
at ``{data_dir}/{run_id}/{data_type}-{lineage_hash}`` (:mod:`superruns.storage.layout`) must say the
same, else it was linked, moved or copied there, or built with other plugins or options, and
is refused with one message naming both identities and what to do. Run ids and data types are names checked as names before any path
is made from them, so nothing outside the data directory is ever read through them.

Which lineage a read accepts (``lineage=``, of :func:`superruns.load` and friends):

- ``"current"`` (the default): the lineage the current configuration gives;
- ``"any"``: whatever lineage the file holds (reading old data on purpose);
- a lineage hash (e.g. ``"fq5vyd3ii5"``): exactly that one; this is how a reader picks one
  processing version when several are kept side by side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..base.errors import SuperrunsError
from ..base.names import subrun_problem

if TYPE_CHECKING:
    from ..model.seam import ProjectView

__all__ = ["CURRENT", "ANY", "IdentityError", "Identity", "identity_of", "check_name",
           "wanted_lineage_hash", "check_identity", "identity_problem", "rebuild_command"]

CURRENT = "current"
ANY = "any"
_HASH_RE = re.compile(r"[a-z0-9]{1,64}")


class IdentityError(SuperrunsError, ValueError):
    """A file is not what was asked for, or a name is not a name; the message says both and
    what to do."""


@dataclass(frozen=True, slots=True)
class Identity:
    """What a data file holds: ``run_id/data_type`` of lineage ``lineage_hash``."""

    run_id: str | None
    data_type: str | None
    lineage_hash: str | None = None

    def __str__(self) -> str:
        text = f"{self.run_id}/{self.data_type}"
        return text + (f" of lineage hash {self.lineage_hash}" if self.lineage_hash else "")


def identity_of(data) -> Identity:
    """What the file (a :class:`~superruns.storage.DataFile` or its metadata) says it is."""
    md = data.metadata if hasattr(data, "metadata") else data
    return Identity(md.get("run_id"), md.get("data_type"), md.get("lineage_hash"))


def check_name(project: ProjectView, run_id, data_type) -> None:
    """Refuse a run id or data type that is not a name (``"/etc"``, ``".."``, ``"a/b"``) or a
    data type no plugin provides, before any path is made from them."""
    problem = subrun_problem(run_id)
    if problem:
        raise IdentityError(f"Not a run id or superrun name: {problem}. Give the name of a run of "
                            f"{project.config['runs']} or of a defined superrun.")
    if not isinstance(data_type, str) or data_type not in project.registry:
        known = ", ".join(sorted(project.registry))
        raise IdentityError(f"Unknown data type {data_type!r} (asked for {run_id}/{data_type}): no plugin of "
                            f"{', '.join(project.plugin_references())} provides it; the registry knows {known}.")


def wanted_lineage_hash(project: ProjectView, run_id: str, data_type: str, lineage: str | None = CURRENT) -> str | None:
    """The lineage hash a read of ``run_id/data_type`` accepts (None: any)."""
    if lineage is None or lineage == CURRENT:
        project.check_known(run_id)
        return project.lineage_hash(run_id, data_type)
    if lineage == ANY:
        return None
    if isinstance(lineage, str) and _HASH_RE.fullmatch(lineage):
        return lineage
    raise IdentityError(f"lineage={lineage!r}: give {CURRENT!r} (the configuration's, the default), "
                        f"{ANY!r} (whatever the file holds) or a lineage hash such as 'fq5vyd3ii5'.")


def identity_problem(found: Identity, run_id: str, data_type: str,
                     lineage_hash: str | None = None) -> str | None:
    """Why a file saying ``found`` is not ``run_id/data_type`` of ``lineage_hash`` (None: any)."""
    if (found.run_id, found.data_type) != (run_id, data_type):
        return (f"it holds {found}, not {run_id}/{data_type}: it was linked, moved or copied "
                "there")
    if lineage_hash is not None and found.lineage_hash != lineage_hash:
        return (f"it holds {found}, but lineage hash {lineage_hash} is asked for (the "
                "configuration's plugins or options differ from those it was built with)")
    return None


def rebuild_command(run_id: str, data_type: str) -> str:
    """The command that rebuilds ``run_id/data_type`` whatever Snakemake has recorded: the
    file forced, and named as the target."""
    return f"snakemake --cores all --forcerun {run_id}/{data_type} {run_id}/{data_type}"


def check_identity(data, run_id: str, data_type: str, lineage_hash: str | None = None, *,
                   reader: str = "load") -> None:
    """Refuse ``data`` (an open DataFile) unless it says it is ``run_id/data_type`` (of
    ``lineage_hash`` unless None). ``reader`` picks the advice: ``"load"`` (a user's read,
    which may ask for another lineage on purpose) or ``"job"`` (a workflow job)."""
    found = identity_of(data)
    problem = identity_problem(found, run_id, data_type, lineage_hash)
    if problem is None:
        return
    rebuild = rebuild_command(run_id, data_type)
    if (found.run_id, found.data_type) != (run_id, data_type):
        advice = (f"Move it back to {found.run_id}'s folder (or aside), then rebuild {run_id}/{data_type} "
                  f"with `{rebuild}`"
                  + (f"; or read {found.run_id}/{found.data_type} by its own name." if reader == "load" else "."))
    else:
        advice = f"Rebuild it (`{rebuild}`)" + (
            f", or read it on purpose with lineage={found.lineage_hash!r} (or lineage='any')."
            if reader == "load" else ", or make the configuration agree with it.")
    raise IdentityError(f"{data.path}: {problem}. {advice}")
