"""Targets on the command line of the standalone workflow: our files by their short names.

Every file the rules write lies under ``data_dir``, and users name them relative to it, as
they always have: ``snakemake _sr1_v0.2/event_info`` (the mission's command),
``summary/_x/peaks.html``, ``--forcerun 000001/peaks``. Snakemake has no alias for targets,
and it parses the Snakefile before it knows them (``snakemake.api.DAGApi`` sets
``workflow.dag_settings`` afterwards), so the Snakefile wraps the method that reads them
(:func:`expand_short_targets`). No Snakemake import here: its objects are duck-typed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable

__all__ = ["DAG_FILE_SETTINGS", "expand_short_targets", "full_target", "under_data_dir",
           "with_full_targets"]

# Fields of Snakemake's DAGSettings that name files (or rules) as targets do.
DAG_FILE_SETTINGS = ("targets", "forcerun", "until", "omit_from")
# Folders of data_dir the rules write into besides {run}/{data_type}.
DATA_DIR_FOLDERS = ("summary", "selections", "logs")


def names_our_file(project, path: str) -> bool:
    """Whether ``path`` (relative to data_dir) is ``{known run or superrun}/{data type}`` or
    lies in one of the other folders the rules write; an unknown run or data type is left as
    given, so that Snakemake's "No rule to produce" names what the user typed."""
    head, _, rest = path.partition("/")
    if head in DATA_DIR_FOLDERS:
        return bool(rest)
    if not rest or "/" in rest or rest not in project.registry:
        return False
    return head in (project.definitions if project.is_superrun(head) else project.runs)


def full_target(target: str, data_dir: str, project) -> str:
    """``target`` under ``data_dir`` (as the rules' paths give it) when it is a short name of
    one of the project's files that does not exist as given; anything else (a rule name, a
    full path) as given."""
    path = os.path.normpath(target)
    if os.path.isabs(path) or os.path.exists(path) or not names_our_file(project, path):
        return target
    return os.path.normpath(os.path.join(data_dir, path))


def under_data_dir(targets: Iterable[str], data_dir: str, project) -> list[str]:
    """Each of ``targets`` by its full path (see :func:`full_target`)."""
    return [full_target(target, data_dir, project) for target in targets]


def with_full_targets(settings, data_dir: str, project):
    """A copy of Snakemake's DAG settings whose file targets are full paths."""
    changes = {name: type(value)(under_data_dir(value, data_dir, project))
               for name in DAG_FILE_SETTINGS if (value := getattr(settings, name, None))}
    return dataclasses.replace(settings, **changes) if changes else settings


def expand_short_targets(workflow, data_dir: str, project) -> None:
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
