"""Targets on the command line of the standalone workflow: our files by their short names.

Every file the rules write lies under ``data_dir``, and users name them relative to it, as
they always have: ``snakemake _sr1_v0.2/event_info`` (the mission's command; the file of the
current lineage, ``data/_sr1_v0.2/event_info-{lineage_hash}``, :mod:`superruns.storage.layout`),
``summary/_x/peaks.html``, ``--forcerun 000001/peaks``. Snakemake has no alias for targets,
and it parses the Snakefile before it knows them (``snakemake.api.DAGApi`` sets
``workflow.dag_settings`` afterwards), so the Snakefile wraps the method that reads them
(:func:`expand_short_targets`). No Snakemake import here: its objects are duck-typed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..project import Project

__all__ = ["DAG_FILE_SETTINGS", "expand_short_targets", "full_target", "under_data_dir",
           "with_full_targets"]

# Fields of Snakemake's DAGSettings that name files (or rules) as targets do.
DAG_FILE_SETTINGS = ("targets", "forcerun", "until", "omit_from")
# Folders of data_dir the rules write into besides {run}/{data_type}.
DATA_DIR_FOLDERS = ("summary", "selections", "logs")


def our_file(project: Project, path: str) -> str | None:
    """``path`` (relative to data_dir) as the rules name it, when it is one of our files:
    ``{known run or superrun}/{data type}`` is the file of the current lineage
    (``{run}/{data_type}-{lineage_hash}``, :mod:`superruns.storage.layout`); a file of a given lineage,
    or a path in one of the other folders the rules write, stays as it is. None for anything
    else: an unknown run or data type is left as given, so that Snakemake's "No rule to
    produce" names what the user typed."""
    from ..storage.layout import parse_data_file_name

    head, _, rest = path.partition("/")
    if head in DATA_DIR_FOLDERS:
        return path if rest else None
    if not rest or "/" in rest:
        return None
    data_type, versioned = rest, parse_data_file_name(rest)
    if data_type not in project.registry and versioned is not None:
        data_type = versioned[0]
    if data_type not in project.registry or \
            head not in (project.definitions if project.is_superrun(head) else project.runs):
        return None
    return path if data_type != rest else project.relative_path(head, data_type)


def full_target(target: str, data_dir: str, project: Project) -> str:
    """``target`` under ``data_dir`` (as the rules' paths give it) when it names one of the
    project's files, short (relative to data_dir, not existing as given) or full (under
    data_dir, relative or absolute: ``data/_sr/peaks`` is the current lineage's file too);
    anything else (a rule name, another path) as given."""
    path = os.path.normpath(target)
    prefix = os.path.normpath(os.path.abspath(data_dir) if os.path.isabs(path) else data_dir) + os.sep
    if path.startswith(prefix) and prefix != "." + os.sep:
        inside = our_file(project, path[len(prefix):])
    elif os.path.isabs(path) or os.path.exists(path):
        return target
    else:
        inside = our_file(project, path)
    return target if inside is None else os.path.normpath(os.path.join(data_dir, inside))


def under_data_dir(targets: Iterable[str], data_dir: str, project: Project) -> list[str]:
    """Each of ``targets`` by its full path (see :func:`full_target`)."""
    return [full_target(target, data_dir, project) for target in targets]


def with_full_targets(settings, data_dir: str, project: Project):
    """A copy of Snakemake's DAG settings whose file targets are full paths."""
    changes = {name: type(value)(under_data_dir(value, data_dir, project))
               for name in DAG_FILE_SETTINGS if (value := getattr(settings, name, None))}
    return dataclasses.replace(settings, **changes) if changes else settings


def expand_short_targets(workflow, data_dir: str, project: Project) -> None:
    """Make ``workflow`` read its targets as full paths when it builds its DAG.

    ``Workflow._prepare_dag`` is the one place that reads them, for every command that builds
    a DAG (run, dry run, --report, --dag, --summary, ...), so it is wrapped rather than
    ``execute``, which only runs and dry runs go through. Snakemake is pinned, and the tests
    run these commands with short targets."""
    prepare = workflow._prepare_dag

    def prepare_with_full_targets(*args, **kwargs):
        if workflow.dag_settings is not None:
            workflow.dag_settings = with_full_targets(workflow.dag_settings, data_dir, project)
        return prepare(*args, **kwargs)

    workflow._prepare_dag = prepare_with_full_targets
