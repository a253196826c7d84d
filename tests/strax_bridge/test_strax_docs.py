"""Every ``python`` and ``bash`` block of docs/strax.md runs, in order, against the shipped demo
right after ``make demo`` (the default target built by snakemake in a copy of the repository).
The block whose first line says "straxen environment" runs with the straxen environment's
interpreter ($SUPERRUNS_STRAXEN_PYTHON or .venv-straxen; skipped without one, except in CI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.workflows import REPO, copy_demo

pytest.importorskip("strax")
pytestmark = [pytest.mark.strax, pytest.mark.e2e]

DOC = REPO / "docs" / "strax.md"
STRAXEN = Path(os.environ.get("SUPERRUNS_STRAXEN_PYTHON") or REPO / ".venv-straxen" / "bin" / "python")


def blocks() -> list[tuple[str, str]]:
    """``(language, code)`` of every python and bash block, in order."""
    return [(m[1], m[2]) for m in re.finditer(r"^```(python|bash)\n(.*?)^```", DOC.read_text(), re.S | re.M)]


@pytest.fixture(scope="module")
def demo(built_demo, tmp_path_factory):
    return copy_demo(built_demo, tmp_path_factory.mktemp("demo"))


def test_the_page_has_blocks_of_both_kinds():
    languages = [language for language, _ in blocks()]
    assert languages.count("python") >= 2 and "bash" in languages


def run_block(demo: Path, language: str, code: str) -> str | None:
    """Run one block in the demo's directory: None when it ran, else why it was skipped (it
    fails the test when the block fails)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "SUPERRUNS_WORKFLOW_PYTHON": sys.executable}      # the workflow's environment: this one
    if language == "bash":
        command = ["bash", "-euo", "pipefail", "-c", code]
    elif "straxen environment" in code.splitlines()[0]:
        if not STRAXEN.exists():
            if os.environ.get("CI"):
                raise AssertionError(f"CI: no straxen environment at {STRAXEN}")
            return f"needs the straxen environment (make straxen-env, or $SUPERRUNS_STRAXEN_PYTHON): none at {STRAXEN}"
        command = [str(STRAXEN), "-c", code]
    else:
        command = [sys.executable, "-c", code]
    result = subprocess.run(command, cwd=demo, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{language} block of {DOC.name} failed:\n{code}\n{result.stderr[-3000:]}"
    return None


@pytest.fixture(scope="module")
def outcomes(demo) -> list:
    """Every block run once, in order (later blocks use what earlier ones made): per block None
    (ran), the reason it was skipped, or the failure; the blocks after a failure are not run."""
    results: list = []
    for language, code in blocks():
        failed = [k for k, r in enumerate(results) if isinstance(r, AssertionError)]
        if failed:
            results.append(f"not run: block {failed[0]} before it failed")
            continue
        try:
            results.append(run_block(demo, language, code))
        except AssertionError as error:
            results.append(error)
    return results


@pytest.mark.parametrize("i", range(len(blocks())), ids=[f"block{i}-{lang}" for i, (lang, _) in enumerate(blocks())])
def test_every_block_runs_against_the_demo(outcomes, i):
    """One test per block, so a block that cannot run here is reported as skipped with its reason,
    never counted as passing."""
    outcome = outcomes[i]
    if isinstance(outcome, AssertionError):
        raise outcome
    if outcome is not None:
        pytest.skip(outcome)
