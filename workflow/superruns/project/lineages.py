"""The current lineage hashes of many runs at once, for listings and plans of 10,000 runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model.seam import ProjectView

__all__ = ["current_lineages"]


def current_lineages(project: ProjectView, run_ids: list[str], data_types: list[str]):
    """A function ``(run_id, data_type) -> current lineage hash`` for many runs at once.

    A derived lineage differs between regular runs only through per-run-default options, so
    runs are grouped by which entry of each ``default_per_run`` applies to them (a bisect per
    run and option) and each group's lineages are computed once, from one of its runs
    (10,000 runs x 9 types: ~0.1 s instead of ~20 s of :meth:`Project.lineage_hash` each).
    Superruns, lineages read from files (strax imports) and run ids that are not numbers
    (where per-run defaults do not apply) ask the project one by one."""
    from bisect import bisect_right

    from ..model.options import OptionError, per_run_spec, run_number

    registry = project.registry
    specs = {}
    for data_type in registry:
        for option in registry[data_type].options:
            spec = per_run_spec(option, project.options)
            if spec is not None:
                specs[option.name] = [int(first) for first, _ in spec]
    derived = all(getattr(registry[dt], "lineage_is_derived", True) for dt in data_types)
    groups: dict[str, tuple] = {}
    for run_id in run_ids:
        if project.is_superrun(run_id) or not derived:
            continue
        try:
            groups[run_id] = tuple(bisect_right(firsts, run_number(run_id, name))
                                   for name, firsts in specs.items())
        except OptionError:
            continue
    representative, cache = {}, {}

    def lineage_of(run_id: str, data_type: str) -> str:
        group = groups.get(run_id)
        if group is None:
            return project.lineage_hash(run_id, data_type)
        key = (group, data_type)
        if key not in cache:
            cache[key] = project.lineage_hash(representative.setdefault(group, run_id), data_type)
        return cache[key]

    return lineage_of
