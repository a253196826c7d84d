"""The workflow without a clone: the wheel carries it, and from a fresh venv holding only that
wheel (with the ``workflow`` extra, at constraints.txt's versions) the README's "Install without
a clone" lines -- ``superruns init .``, ``superruns run --cores 2 _example/event_info``, a load --
build and read a superrun in an empty directory, with the installed package's Snakefile and
profile, never the checkout's; so does superruns.make there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from support.workflows import REPO

pytestmark = pytest.mark.e2e

#: The workflow's files at the repository's top level, which the wheel carries (setup.py).
WORKFLOW = ("Snakefile", "environment.yml", "rules", "scripts", "profiles", "report")
#: What a build of the repository must not copy: at its top level environments, data, caches and
#: earlier builds; anywhere, byte code and build metadata (never a folder of the package: build/).
TOP_LEVEL_ONLY = {".git", "data", ".snakemake", "build", "dist", ".hypothesis", ".pytest_cache"}
ANYWHERE = shutil.ignore_patterns("__pycache__", "*.egg-info", "_workflow", ".venv*")


def not_source(directory, names):
    ignored = set(ANYWHERE(directory, names))
    return ignored | (TOP_LEVEL_ONLY & set(names) if Path(directory) == REPO else set())


def readme_block() -> list[str]:
    """The command lines of the README's "Install without a clone" block, comments dropped."""
    text = (REPO / "README.md").read_text()
    match = re.search(r"^## Install without a clone\n.*?^```bash\n(.*?)^```", text, re.S | re.M)
    assert match, "README.md has no bash block under '## Install without a clone'"
    return [line.split("  #")[0].strip() for line in match[1].splitlines() if line.strip()]


def clean_env() -> dict:
    """This environment without anything that would point the venv at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in (
        "PYTHONPATH", "SUPERRUNS_CONFIG", "SUPERRUNS_WORKFLOW_PYTHON", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(sys.executable).parent != Path(p))
    return env


def run(command, cwd, timeout=600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built as `make wheel` builds it, from a copy of the source tree (the build
    writes build/ and *.egg-info beside its sources)."""
    source = tmp_path_factory.mktemp("source") / "superruns"
    shutil.copytree(REPO, source, ignore=not_source)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", "dist", "."], source)
    (built,) = (source / "dist").glob("superruns-*.whl")
    return built


def test_the_wheel_carries_the_workflow_and_the_starter_config(wheel):
    with zipfile.ZipFile(wheel) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    expected = set()
    for name in WORKFLOW:
        path = REPO / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        expected |= {f"superruns/_workflow/{p.relative_to(REPO)}" for p in files}
    assert {"superruns/_workflow/Snakefile", "superruns/_workflow/rules/workflow.smk",
            "superruns/_workflow/profiles/default/config.yaml", "superruns/_workflow/report/summary.rst"} <= expected
    assert expected <= set(infos), sorted(expected - set(infos))
    assert {f"superruns/base/schemas/{n}.schema.json" for n in ("config", "runs", "superruns")} <= set(infos)
    package = REPO / "workflow"
    modules = {str(p.relative_to(package)) for p in (package / "superruns").rglob("*.py")}
    assert modules and modules <= set(infos), sorted(modules - set(infos))
    starter = {f"superruns/cli/starter/config/{n}" for n in (
        "config.yaml", "runs.yaml", "superruns.yaml", "superruns.d/README.md")}
    assert starter <= set(infos), sorted(starter - set(infos))
    # the cluster profile's wrapper stays executable; the repository's demo config and tests stay out
    assert infos["superruns/_workflow/profiles/htcondor/job_wrapper.sh"].external_attr >> 16 & 0o111
    assert not [name for name in infos if name.startswith(("superruns/_workflow/config/", "tests/", "config/"))]


def test_a_fresh_venv_with_only_the_wheel_inits_and_builds_a_superrun(wheel, tmp_path):
    lines = readme_block()
    install = next(line for line in lines if line.startswith("pip install"))
    assert f"dist/{wheel.name}[workflow]" in install and "-c constraints.txt" in install, install
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    run([str(venv / "bin" / "pip"), "install", "--quiet", f"{wheel}[workflow]", "-c", str(REPO / "constraints.txt")],
        tmp_path)
    project = tmp_path / "analysis"
    project.mkdir()
    outputs = []
    for line in lines:                       # superruns init . ; superruns run ... ; python -c ...
        words = line.split(" ", 1)
        if words[0] in ("superruns", "python"):
            command = ["/bin/sh", "-c", f"{venv / 'bin' / words[0]} {words[1]}"]
            outputs.append(run(command, project, timeout=900))
    assert len(outputs) == 3, lines
    init, build, load = outputs
    assert "wrote config/config.yaml" in init.stdout
    log = build.stdout + build.stderr
    packaged = venv.resolve() / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages" / "superruns" / "_workflow"
    assert f"Using workflow specific profile {packaged / 'profiles' / 'default'}" in log, log
    assert str(REPO) not in log
    assert int(re.fullmatch(r"(\d+) events\n", load.stdout)[1]) > 100      # the README's load line
    (built,) = (project / "data" / "_example").glob("event_info-*")
    # superruns.make from the installed package runs the installed workflow too
    check = run([str(venv / "bin" / "python"), "-c", "import superruns; print(superruns.__file__); "
                 "print(sorted(superruns.run_metadata('_example')['sub_run_spec'])); "
                 "print(superruns.make('_example', 'peaks', cores=2, progress=False)[0].name)"], project)
    module, subruns, made = check.stdout.splitlines()
    assert Path(module).resolve() == packaged.parent / "__init__.py" and subruns == "['000001', '000002']"
    assert made.startswith("peaks-") and (project / "data" / "_example" / made).is_file()
    assert built.stat().st_size > 0
