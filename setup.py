"""The wheel carries the workflow: ``Snakefile``, ``rules/``, ``scripts/``, ``profiles/``,
``report/`` and ``environment.yml`` are copied from the repository's top level into the
package as ``superruns/_workflow/`` when it is built, so ``pip install 'superruns[workflow]'``
runs the workflow without a clone (``superruns init``, ``superruns run``) while git keeps one
copy, at the top level, where a checkout uses it (superruns.orchestration.workflow_files).
Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: The workflow's files and folders, relative to the repository's top level (MANIFEST.in
#: puts the same into the sdist).
WORKFLOW = ("Snakefile", "environment.yml", "rules", "scripts", "profiles", "report")
PACKAGED = Path("superruns", "_workflow")


def workflow_files():
    """Every file of the workflow, relative to the top level (no caches)."""
    for name in WORKFLOW:
        path = ROOT / name
        paths = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        if not paths:
            raise FileNotFoundError(f"{path}: part of the workflow the wheel carries, missing from the source tree")
        for found in paths:
            if "__pycache__" not in found.parts and found.suffix not in (".pyc", ".pyo"):
                yield found.relative_to(ROOT)


class BuildPyWithWorkflow(build_py):
    """``build_py``, then the workflow's files into ``superruns/_workflow/`` of the build (not
    for an editable install: a checkout uses its own top level)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / PACKAGED
        shutil.rmtree(target, ignore_errors=True)       # no file of an earlier build survives
        for relative in workflow_files():
            self.mkpath(str((target / relative).parent))
            self.copy_file(str(ROOT / relative), str(target / relative))   # keeps the mode (job_wrapper.sh)


setup(cmdclass={"build_py": BuildPyWithWorkflow})
