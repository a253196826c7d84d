"""One source of exact versions: pyproject.toml gives ranges, constraints.txt the exact version
of every dependency (core and extras) inside its range, and environment.yml pins those same
versions for the core and every extra it claims; every environment make creates uses it."""

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from superruns.base.yamlio import yaml_load

ROOT = Path(__file__).resolve().parents[2]
CONDA_NAMES = {"blosc2": "python-blosc2", "matplotlib": "matplotlib-base"}  # PyPI name -> conda-forge name


def _pins(lines) -> dict[str, str]:
    """{name: version} of ``name==version`` lines (comments and other lines skipped)."""
    pins = {}
    for line in lines:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^;\s]+)", line.split("#")[0].strip())
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements(project, groups=None) -> dict[str, Requirement]:
    """{name: Requirement} of the core and of ``groups`` (default: every extra), the package's
    references to itself (``superruns[workflow]``) left out."""
    extras = project["optional-dependencies"]
    lines = list(project["dependencies"])
    for group in extras if groups is None else groups:
        lines += extras[group]
    requirements = {}
    for line in lines:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) != "superruns":
            requirements[canonicalize_name(requirement.name)] = requirement
    return requirements


#: The heading of constraints.txt's section of pins that are not our dependencies: packages
#: the resolver must not wander over (their versions follow from ours).
RESOLVER_SECTION = "# resolver:"


def _constraints(with_resolver_pins: bool = False) -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    if not with_resolver_pins:
        start = next(i for i, line in enumerate(lines) if line.startswith(RESOLVER_SECTION))
        end = next(i for i in range(start, len(lines)) if not lines[i].strip())
        lines = lines[:start] + lines[end:]
    return _pins(lines)


def test_resolver_pins_are_not_dependencies_and_are_few():
    requirements = _requirements(_pyproject())
    extra = set(_constraints(with_resolver_pins=True)) - set(_constraints())
    assert extra and not extra & set(requirements) and len(extra) <= 10, extra


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


def test_pyproject_gives_ranges_and_constraints_pin_each_inside_it():
    requirements = _requirements(_pyproject())
    constraints = _constraints()
    assert not [str(r) for r in requirements.values() if any(s.operator in ("==", "===") for s in r.specifier)]
    assert set(constraints) == set(requirements), "constraints.txt pins exactly the dependencies of pyproject.toml"
    outside = {name: (constraints[name], str(r.specifier)) for name, r in requirements.items()
               if not r.specifier.contains(constraints[name], prereleases=True)}
    assert not outside, f"constraints.txt pins outside pyproject.toml's range: {outside}"


def test_every_pin_of_the_core_and_the_claimed_extras_is_in_environment_yml():
    project = _pyproject()
    claimed, conda, pip = _environment()
    assert set(claimed) <= set(project["optional-dependencies"]), claimed
    constraints = _constraints()
    wanted = {name: constraints[name] for name in _requirements(project, claimed)}
    found = {**pip, **{name: version for name, version in conda.items() if name not in ("python", "pip")}}
    expected = {CONDA_NAMES.get(name, name) if CONDA_NAMES.get(name, name) in conda else name: version
                for name, version in wanted.items()}
    assert found == expected


@pytest.mark.parametrize("path", ["Makefile", ".ci/run"])
def test_every_environment_made_installs_with_the_constraints(path):
    """Every ``pip install`` of a package (not pip itself) names the constraints file."""
    text = (ROOT / path).read_text()
    installs = [line for line in text.splitlines() if re.search(r"pip install\b", line)
                and not line.lstrip().startswith("#") and "--upgrade pip" not in line]
    assert all("-c $(CONSTRAINTS)" in line or "-c constraints.txt" in line for line in installs), installs
    if path == "Makefile":
        assert len(installs) == 2 and re.search(r"^CONSTRAINTS := constraints.txt$", text, re.M)


def test_the_core_has_no_snakemake_and_the_workflow_extra_has():
    project = _pyproject()
    assert "snakemake" not in _requirements(project, [])
    assert "snakemake" in _requirements(project, ["workflow"])
    assert "superruns[workflow]" in project["optional-dependencies"]["test"]
