"""What the repository itself promises: no machine's absolute path in its files."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", ".venv-straxen", "data", "_work", ".snakemake", "__pycache__", ".hypothesis",
             ".pytest_cache"}
# A home, root or work directory of some machine (home, root, work, Users at the top level).
ABSOLUTE = re.compile(r"(?<![\w.])/(?:home|root|work|Users)/[A-Za-z]")


def files(root: Path):
    for path in root.iterdir():
        if path.name in SKIP_DIRS or path.name.endswith(".egg-info"):
            continue
        if path.is_dir():
            yield from files(path)
        elif path.suffix in {".py", ".md", ".smk", ".yaml", ".yml", ".toml", ".sh", ".rst", ".json",
                             ".cfg", ".txt"} or path.name in {"Snakefile", "Makefile", "run"}:
            yield path


def absolute_paths(text: str) -> list[str]:
    return [match.group(0) for match in ABSOLUTE.finditer(text)]


def test_no_file_names_an_absolute_path_of_a_machine():
    found = {str(path.relative_to(REPO)): hits for path in files(REPO)
             if (hits := absolute_paths(path.read_text(errors="replace")))
             and path != Path(__file__).resolve()}
    assert not found, f"use paths relative to the repository: {found}"


def test_the_check_sees_one():
    sample = "python at " + "/" + "work/venv/bin/python"     # spelt apart: this file stays clean
    assert absolute_paths(sample) == ["/" + "work/v"]
    assert absolute_paths("see docs/work/x and ../shared/data") == []


def test_no_test_folder_shadows_a_package_the_tests_import():
    # tests/ is on sys.path: a folder named like a dependency would be imported in its place
    # (as a namespace package) wherever that dependency is not installed.
    dependencies = {"strax", "straxen", "snakemake", "numpy", "numba", "blosc2", "yaml",
                    "hypothesis", "pandas", "superruns"}
    folders = {path.name for path in (REPO / "tests").iterdir() if path.is_dir()}
    assert not folders & dependencies
