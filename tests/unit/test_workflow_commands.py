"""``superruns init`` writes a starting config the workflow accepts and never replaces a file it
did not write; ``superruns run`` is Snakemake on the workflow's own Snakefile and profile, with
every argument passed through and Snakemake's exit status; the workflow's files are found in the
installed package's copy, else in the checkout."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from superruns.cli import workflow_commands
from superruns.cli.commands import main
from superruns.orchestration import workflow_files
from superruns.project import Project

REPO = Path(__file__).resolve().parents[2]
STARTER = ("config/config.yaml", "config/runs.yaml", "config/superruns.yaml", "config/superruns.d/README.md")


@pytest.fixture(autouse=True)
def no_outside_settings(monkeypatch):
    for variable in ("SUPERRUNS_WORKFLOW_PYTHON", "SUPERRUNS_CONFIG"):
        monkeypatch.delenv(variable, raising=False)


def test_init_writes_a_config_the_workflow_accepts(tmp_path, capsys):
    assert main(["init", str(tmp_path / "analysis")]) == 0
    root = tmp_path / "analysis"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == sorted(STARTER)
    assert "next: cd " in capsys.readouterr().out
    text = (root / "config" / "config.yaml").read_text()
    assert sum(line.startswith("#") for line in text.splitlines()) > 20          # says what each key is
    project = Project.from_file(root / "config" / "config.yaml")                # valid against the schema
    assert project.base_dir == root.resolve() and project.config["default_target"] == ["_example/event_info"]
    assert sorted(project.runs) == ["000001", "000002"]
    assert project.definitions.direct_subruns("_example") == ["000001", "000002"]
    assert project.run_metadata("_example")["livetime"] == 120.0
    assert "EXAMPLE" in (root / "config" / "runs.yaml").read_text()


def test_init_again_leaves_its_files_and_refuses_before_writing_over_others(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    assert "next: superruns run --cores 2 _example/event_info" in capsys.readouterr().out
    assert main(["init", "."]) == 0                                             # all ours: nothing changes
    assert capsys.readouterr().out.count("left as it is") == len(STARTER)
    runs = tmp_path / "config" / "runs.yaml"
    runs.write_text(runs.read_text() + "  # my edit\n")
    (tmp_path / "config" / "superruns.yaml").unlink()
    assert main(["init", "."]) == 1
    error = capsys.readouterr().err
    assert error.startswith("superruns init: .: config/runs.yaml already there and not what init writes; "
                            "nothing was written"), error
    assert "move that file away" in error
    assert runs.read_text().endswith("# my edit\n") and not (tmp_path / "config" / "superruns.yaml").exists()


def test_the_wheel_ships_every_starter_file():
    """pyproject's package-data globs cover every file init writes (the wheel carries them)."""
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["superruns"]
    shipped = {f"cli/starter/{name}" for name in workflow_commands.starter_files()}
    assert {f"cli/starter/{name}" for name in STARTER} == shipped
    assert all(any(fnmatch.fnmatch(path, glob) for glob in globs) for path in shipped), (shipped, globs)


def test_run_is_snakemake_on_the_workflows_snakefile_and_profile_with_the_arguments_as_given(tmp_path, monkeypatch):
    main(["init", str(tmp_path)])
    monkeypatch.chdir(tmp_path)
    args = ["--cores", "2", "-n", "--config", "options={peak_min_channels: 3}", "_example/event_info"]
    python, command = workflow_commands.run_command(args)
    assert python == sys.executable                                   # this environment has Snakemake
    assert command == [python, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                       "--workflow-profile", str(REPO / "profiles" / "default"), *args]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)                                      # -d names the workflow's directory
    assert workflow_commands.run_command(["-d", "..", "--cores", "1"])[1][-4:] == ["-d", "..", "--cores", "1"]


def test_run_without_a_config_says_how_to_make_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--cores", "2", "_example/event_info"]) == 1
    error = capsys.readouterr().err
    assert f"no config/config.yaml ({tmp_path.resolve() / 'config' / 'config.yaml'})" in error
    assert "`superruns init .` writes a starting one" in error
    assert main(["run", "-d", "sub", "-n"]) == 1
    assert "`superruns init sub` writes" in capsys.readouterr().err
    assert main(["run", "--configfile", "mine.yaml"]) == 1
    assert "--configfile mine.yaml: no such file" in capsys.readouterr().err
    assert main(["--config", "x.yaml", "run", "-n"]) == 1
    assert "superruns run --configfile PATH" in capsys.readouterr().err
    help_command = workflow_commands.run_command(["--help"])[1]           # Snakemake's help needs none
    assert help_command[:3] == [sys.executable, "-m", "snakemake"] and help_command[-1] == "--help"


def test_run_hands_over_to_snakemake_and_exits_with_its_status(tmp_path):
    """Snakemake replaces the process: its arguments exactly as given, its exit status (here a
    stand-in interpreter named by $SUPERRUNS_WORKFLOW_PYTHON, which exits 7)."""
    main(["init", str(tmp_path)])
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\n[ "$1" = -c ] && exit 0\nprintf "%s\\n" "$@" > "$ARGS_FILE"\nexit 7\n')
    fake.chmod(0o755)
    args = ["--cores", "2", "-n", "--config", "a=1 b=2", "_example/event_info"]
    result = subprocess.run([sys.executable, "-m", "superruns.cli.commands", "run", *args], cwd=tmp_path,
                            env=dict(os.environ, SUPERRUNS_WORKFLOW_PYTHON=str(fake), ARGS_FILE=str(tmp_path / "args")),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 7, result.stderr
    assert (tmp_path / "args").read_text().splitlines() == [
        "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--workflow-profile",
        str(REPO / "profiles" / "default"), *args]


def test_the_workflow_is_the_installed_copy_else_the_checkout(tmp_path, monkeypatch):
    assert workflow_files.workflow_dir() == REPO                       # a checkout: no _workflow/ in it
    assert not (REPO / "workflow" / "superruns" / "_workflow").exists()
    packaged = tmp_path / "_workflow"
    for marker in ("Snakefile", "rules/workflow.smk", "profiles/default/config.yaml"):
        (packaged / marker).parent.mkdir(parents=True, exist_ok=True)
        (packaged / marker).write_text("")
    monkeypatch.setattr(workflow_files, "PACKAGED_DIR", packaged)
    assert workflow_files.snakefile() == packaged / "Snakefile"
    assert workflow_files.default_profile() == packaged / "profiles" / "default"
    (packaged / "rules" / "workflow.smk").unlink()                   # incomplete: not taken
    assert workflow_files.workflow_dir() == REPO
    monkeypatch.setattr(workflow_files, "CHECKOUT_DIR", tmp_path / "nothing")
    with pytest.raises(workflow_files.WorkflowFilesError, match=r"pip install 'superruns\[workflow\]'"):
        workflow_files.workflow_dir()
