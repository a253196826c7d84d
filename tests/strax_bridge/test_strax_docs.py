"""Every ``python`` and ``bash`` block of docs/strax.md runs, in order, against the shipped demo
right after ``make demo`` (the default target built by snakemake in a copy of the repository).
The block whose first line says "straxen environment" runs with the straxen environment's
interpreter ($SUPERRUNS_STRAXEN_PYTHON or .venv-straxen; skipped without one, except in CI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.workflows import REPO, SNAKEMAKE

pytest.importorskip("strax")
pytestmark = [pytest.mark.strax, pytest.mark.e2e]

DOC = REPO / "docs" / "strax.md"
STRAXEN = Path(os.environ.get("SUPERRUNS_STRAXEN_PYTHON") or REPO / ".venv-straxen" / "bin" / "python")
SHIPPED = ["Snakefile", "rules", "scripts", "config", "profiles", "report", "environment.yml"]


def blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of every python and bash block, in order."""
    return [(m[1], m[2]) for m in re.finditer(r"^```(python|bash)\n(.*?)^```", DOC.read_text(), re.S | re.M)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    for name in SHIPPED:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    result = subprocess.run([str(SNAKEMAKE), "--cores", "2"], cwd=root, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return root


def test_the_page_has_blocks_of_both_kinds():
    languages = [language for language, _ in blocks()]
    assert languages.count("python") >= 2 and "bash" in languages


def test_every_block_runs_against_the_demo(demo):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "SUPERRUNS_WORKFLOW_PYTHON": sys.executable}      # the workflow's environment: this one
    ran = 0
    for i, (language, code) in enumerate(blocks()):
        if language == "bash":
            command = ["bash", "-euo", "pipefail", "-c", code]
        elif "straxen environment" in code.splitlines()[0]:
            if not STRAXEN.exists():
                if os.environ.get("CI"):
                    raise AssertionError(f"CI: no straxen environment at {STRAXEN}")
                continue
            command = [str(STRAXEN), "-c", code]
        else:
            command = [sys.executable, "-c", code]
        result = subprocess.run(command, cwd=demo, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"block {i} ({language}) of {DOC.name} failed:\n{code}\n{result.stderr[-3000:]}"
        ran += 1
    assert ran == len(blocks()) or not STRAXEN.exists()
