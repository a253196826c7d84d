"""Where the workflow's own files are: the Snakefile, ``rules/``, ``scripts/``, ``profiles/``,
``report/`` and ``environment.yml``, in the layout of the repository's top level.

Two places, one answer (:func:`workflow_dir`):

* an installed wheel carries them as package data in ``superruns/_workflow/``, copied there
  from the repository's top level when the wheel is built (``setup.py``), so git holds one
  copy and ``pip install 'superruns[workflow]'`` needs no clone;
* a checkout (``pip install -e .``, ``make``) uses the repository's top level itself, the
  folder that holds ``workflow/superruns/``.

Every relative path of the Snakefile and the rules (``include:``, ``module``, ``script:``,
``report:``, ``conda:``, the default profile ``profiles/default`` beside the Snakefile)
points inside this folder, so it works from either place.
"""

from __future__ import annotations

from pathlib import Path

from ..base.errors import SuperrunsError

__all__ = ["CHECKOUT_DIR", "PACKAGED_DIR", "WorkflowFilesError", "default_profile", "snakefile", "workflow_dir"]

#: The wheel's copy (present only in an installed wheel).
PACKAGED_DIR = Path(__file__).resolve().parents[1] / "_workflow"
#: The repository's top level, when the package runs from a checkout (workflow/superruns/...).
CHECKOUT_DIR = Path(__file__).resolve().parents[3]
#: Files that say a folder holds the whole workflow (the Snakefile includes rules/workflow.smk).
_MARKERS = ("Snakefile", "rules/workflow.smk", "profiles/default/config.yaml")


class WorkflowFilesError(SuperrunsError):
    """The workflow's files are not where this installation of the package should have them."""


def workflow_dir() -> Path:
    """The folder holding the workflow's Snakefile, rules, scripts and profiles: the installed
    package's copy, else the checkout's top level."""
    for candidate in (PACKAGED_DIR, CHECKOUT_DIR):
        if all((candidate / marker).is_file() for marker in _MARKERS):
            return candidate
    raise WorkflowFilesError(
        f"The superruns workflow (Snakefile, rules/, profiles/) is neither in this installation ({PACKAGED_DIR}) "
        f"nor in a checkout around it ({CHECKOUT_DIR}): install a wheel built from the repository "
        "(pip install 'superruns[workflow]'), or pip install -e . in a clone")


def snakefile() -> Path:
    """The workflow's Snakefile."""
    return workflow_dir() / "Snakefile"


def default_profile() -> Path:
    """The workflow profile every run of the workflow uses (``profiles/default``)."""
    return workflow_dir() / "profiles" / "default"
