"""environment.yml pins exactly what pyproject.toml pins, for the core and every extra it claims
(a range, such as matplotlib's, is not a pin: both files name it)."""

import re
import tomllib
from pathlib import Path

from superruns.base.yamlio import yaml_load

ROOT = Path(__file__).resolve().parents[2]
CONDA_NAMES = {"blosc2": "python-blosc2"}  # PyPI name -> conda-forge name


def _pins(requirements):
    """{name: version} of ``name==version`` requirements (self-references skipped)."""
    pins = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^;\s]+)", requirement.split("#")[0].strip())
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _environment():
    path = ROOT / "environment.yml"
    claimed = re.search(r"^# extras: (.+)$", path.read_text(), re.M)[1].replace(" ", "").split(",")
    dependencies = yaml_load(path)["dependencies"]
    conda = {}
    for entry in dependencies:
        if isinstance(entry, str) and re.fullmatch(r"[\w.\-]+=[\w.\-]+", entry):   # a pin, not a range
            name, version = entry.split("=", 1)
            conda[name.lower()] = version
    pip = _pins(next(entry["pip"] for entry in dependencies if isinstance(entry, dict)))
    return claimed, conda, pip


def test_every_pin_of_the_core_and_the_claimed_extras_is_in_environment_yml():
    project = _pyproject()
    claimed, conda, pip = _environment()
    assert set(claimed) <= set(project["optional-dependencies"]), claimed
    wanted = _pins(project["dependencies"])
    for extra in claimed:
        wanted.update(_pins(project["optional-dependencies"][extra]))
    found = {**pip, **{name: version for name, version in conda.items() if name not in ("python", "pip")}}
    expected = {CONDA_NAMES.get(name, name) if CONDA_NAMES.get(name, name) in conda else name: version
                for name, version in wanted.items()}
    assert found == expected


def test_the_core_has_no_snakemake_and_the_workflow_extra_has():
    project = _pyproject()
    assert not any(req.lower().startswith("snakemake") for req in project["dependencies"])
    assert "snakemake" in _pins(project["optional-dependencies"]["workflow"])
    assert "superruns[workflow]" in project["optional-dependencies"]["test"]


def test_a_range_of_the_workflow_extra_is_in_environment_yml_too():
    ranges = [r for r in _pyproject()["optional-dependencies"]["workflow"] if ">=" in r]
    text = (ROOT / "environment.yml").read_text()
    assert ranges and all(f"{name.replace('matplotlib', 'matplotlib-base')}>={rest}" in text
                          for name, rest in (r.split(">=", 1) for r in ranges))
