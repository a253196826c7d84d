"""Advice that cannot destroy (issue 22, class 5), table-driven.

No message tells a user to delete, remove, overwrite or replace something superruns has not
identified as its own, rebuildable data: a file that is not a data file, a damaged one, a FIFO,
another run's file linked here, a lock written by a newer superruns, a file at the lock's path
that is not a lock, a dangling link among the definitions, a hand-written definition file. Each
case asserts the message names the thing and says what to do, in words that destroy nothing,
and that the thing is still there, unchanged. ``verify`` never says "all intact" when a folder
could not be read; the read-only commands (``snakemake -n``, ``superruns list``, ``show``,
``status``, ``diff``) write nothing -- not even the lock of a query superrun used the first time.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

import superruns
from superruns.base.errors import SuperrunsError
from superruns.cli import commands as cli

from support.reliability import OPTIONS, RUNS, Workflow, snakemake_run

pytestmark = pytest.mark.e2e

DESTROYS = re.compile(r"\b(delete|deleting|remove|rm|overwrite|replace)\b", re.IGNORECASE)
SUPERRUNS_CLI = Path(sys.executable).parent / "superruns"


def superruns_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SUPERRUNS_CLI), *args], cwd=root, capture_output=True, text=True, timeout=300)


def snapshot(root: Path) -> dict:
    """Every file under ``root`` but Snakemake's own state: size, mtime, link target."""
    found = {}
    for path in sorted(root.rglob("*")):
        if ".snakemake" in path.relative_to(root).parts or (path.is_dir() and not path.is_symlink()):
            continue
        st = os.lstat(path)
        found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, os.readlink(path) if path.is_symlink() else None)
    return found


# -- the situations: each returns (the thing, the messages a user sees about it) --------------------------


def load_error(flow, run_id="9", data_type="peaks") -> str:
    with pytest.raises(SuperrunsError) as error:
        superruns.load(run_id, data_type, project=flow.project())
    return str(error.value)


def verify_output(flow, *paths) -> str:
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(flow.root)
    try:
        cli.main(["verify", *(paths or ["data"])], out=out)
    finally:
        os.chdir(cwd)
    return out.getvalue()


def text_file_at_a_data_path(flow):
    path = flow.file("9", "peaks")
    path.unlink()
    path.write_text("peaks of run 9, typed in by hand\n")
    return path, [load_error(flow), verify_output(flow)]


def truncated_data_file(flow):
    path = flow.file("9", "peaks")
    os.truncate(path, path.stat().st_size // 2)
    return path, [load_error(flow), verify_output(flow)]


def fifo_at_a_data_path(flow):
    path = flow.file("9", "peaks")
    path.unlink()
    os.mkfifo(path)
    return path, [load_error(flow), verify_output(flow)]


def another_runs_file_linked_here(flow):
    path = flow.file("9", "peaks")
    path.unlink()
    path.symlink_to(Path("..") / "8" / flow.file("8", "peaks").name)
    info = superruns_cli(flow.root, "info", str(path.relative_to(flow.root)))
    return path, [load_error(flow), verify_output(flow), info.stderr]


def lock_of_a_newer_version(flow):
    path = flow.root / "config" / "superruns.lock.yaml"
    path.write_text(yaml.safe_dump({"lock_version": 2, "superruns": {}, "new_things": [1]}))
    return path, [snakemake_run(flow, "-n", "_a/peaks", check=False).stderr, superruns_cli(flow.root, "list").stderr]


def not_a_lock(flow):
    path = flow.root / "config" / "superruns.lock.yaml"
    path.write_text("my notes on the lock\n")
    return path, [snakemake_run(flow, "-n", "_a/peaks", check=False).stderr]


def dangling_link_among_definitions(flow):
    path = flow.root / "config" / "superruns.d" / "old.yaml"
    path.symlink_to("gone.yaml")
    return path, [snakemake_run(flow, "-n", "_a/peaks", check=False).stderr]


def define_run_over_a_hand_written_file(flow):
    path = flow.root / "config" / "superruns.d" / "_mine.yaml"
    path.write_text("_mine: {runs: ['8']}   # written by hand\n")
    with pytest.raises(SuperrunsError) as error:
        superruns.define_run("_mine", ["8", "9"], project=flow.project())
    return path, [str(error.value)]


@dataclass
class Case:
    id: str
    make: Callable
    says: str                      # what the advice says instead


CASES = [
    Case("text-file-at-a-data-path", text_file_at_a_data_path, "not a superruns data file"),
    Case("truncated-data-file", truncated_data_file, "move it aside"),
    Case("fifo-at-a-data-path", fifo_at_a_data_path, "a FIFO"),
    Case("another-runs-file-linked-here", another_runs_file_linked_here, "move it back"),
    Case("lock-of-a-newer-version", lock_of_a_newer_version, "upgrade superruns"),
    Case("a-file-that-is-not-a-lock", not_a_lock, "move it aside"),
    Case("dangling-link-among-definitions", dangling_link_among_definitions, "fix the link"),
    Case("define-run-over-a-hand-written-file", define_run_over_a_hand_written_file, "another name"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_no_advice_destroys_what_superruns_did_not_identify(flow, case):
    thing, messages = case.make(flow)
    before = os.lstat(thing)
    for message in messages:
        relevant = [line for line in message.splitlines() if thing.name in line or "fix" in line.lower()]
        assert relevant, message
        for line in relevant:
            assert not DESTROYS.search(line), f"destructive advice: {line}"
    assert any(case.says.lower() in m.lower() for m in messages), messages
    after = os.lstat(thing)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_verify_never_says_all_intact_when_a_folder_could_not_be_read(flow, monkeypatch):
    hidden = flow.data / "9"
    real = os.scandir

    def scandir(path="."):
        if Path(path).absolute() == hidden:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.chdir(flow.root)
    out = io.StringIO()
    assert cli.main(["verify", "data"], out=out) == 1
    assert "all intact" not in out.getvalue()
    assert f"{Path('data') / '9'}: could not be read" in out.getvalue() and "not all files were checked" in out.getvalue()


# -- read-only commands --------------------------------------------------------------------------------


def test_read_only_commands_write_nothing(tmp_path):
    """A query superrun used the first time is locked by a run of the workflow, not by a dry run
    nor by superruns list, show, status or diff."""
    flow = Workflow(tmp_path)
    flow.write(RUNS, {"_q": {"query": {"mode": "background"}}, "_a": {"runs": ["8", "9"]}}, OPTIONS)
    lock = flow.root / "config" / "superruns.lock.yaml"
    before = snapshot(flow.root)
    assert snakemake_run(flow, "-n", "_q/raw_records").returncode == 0
    for args in (["list"], ["show", "_q"], ["status"], ["diff", "_q"], ["--json", "status", "_q"]):
        result = superruns_cli(flow.root, *args)
        assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    superruns.run_metadata("_q", project=flow.project())
    assert snapshot(flow.root) == before and not lock.exists()
    snakemake_run(flow, "_q/raw_records")
    assert yaml.safe_load(lock.read_text())["superruns"]["_q"]["runs"] == sorted(RUNS, key=int)
