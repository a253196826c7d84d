"""The ``.test/`` configurations, which CI also runs in place (``.ci/run``: ``snakemake -d .test``,
as the snakemake-workflows catalog does), each run here in a copy: every default target is
built (summary pages with their figures included), every file is intact, the lock shipped
with them holds (nothing is relocked), and a second run has nothing to do."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from superruns.project import Project
from superruns.storage import verify_paths

from support.workflows import REPO, SNAKEMAKE

pytestmark = pytest.mark.e2e

TEST_DIR = REPO / ".test"
CONFIGS = sorted(path.parent.name for path in TEST_DIR.glob("config*/config.yaml"))


def test_there_is_a_default_configuration_and_a_variant():
    assert "config" in CONFIGS and len(CONFIGS) >= 2


def config_of(root, name: str) -> tuple[dict, list[str]]:
    """The configuration snakemake reads (config/config.yaml, then the variant's keys over it)
    and the command-line arguments that select it."""
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    if name == "config":
        return config, []
    config.update(yaml.safe_load((root / name / "config.yaml").read_text()))
    return config, ["--configfile", f"{name}/config.yaml"]


@pytest.mark.parametrize("name", CONFIGS)
def test_a_test_configuration_builds_its_default_targets(name, tmp_path):
    root = tmp_path / "test"
    shutil.copytree(TEST_DIR, root, ignore=shutil.ignore_patterns("data*", ".snakemake"))
    lock = (root / "config" / "superruns.lock.yaml").read_text()
    config, args = config_of(root, name)

    def snakemake(*more):
        result = subprocess.run([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--cores", "2", *args, *more],
                                cwd=root, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout + result.stderr

    snakemake()
    project = Project(config, root)
    for target in config["default_target"]:
        if target.startswith("summary/"):
            page = (project.data_dir / target).read_text()
            assert len(re.findall(r"<img alt='[^']*' src='data:image/png;base64,", page)) >= 2, target
        else:
            assert project.path(*target.split("/")).is_file(), target
    assert verify_paths([project.data_dir])["ok"]
    assert (root / "config" / "superruns.lock.yaml").read_text() == lock
    assert "Nothing to be done" in snakemake("-n")
