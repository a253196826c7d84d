"""Deletion by identity (issue 22, class 1), table-driven, with a second project beside ours.

``superruns clean`` and ``migrate`` remove or rename a file only when superruns identifies it as
its own: a regular file in a run folder of its own inside the data directory, whose metadata
say it is that run's data type (of the lineage its name gives). NAMES are names, never paths.
Each case arranges a trap (a path for a name, a run folder linked to the other project, a file
named like a data file that is not one, links and FIFOs named like data files, another run's
file under this run's name), runs the real ``superruns`` command with ``--dry-run`` and then
without, and asserts its exit status and words, that the dry run listed exactly what the run
removed, and that nothing outside our data directory -- the other project above all -- changed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from support.reliability import OPTIONS, RUNS, STORAGE, SUPERRUNS, copy_workflow, snakemake_run

pytestmark = pytest.mark.e2e

SUPERRUNS_CLI = Path(sys.executable).parent / "superruns"


def superruns_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SUPERRUNS_CLI), *args], cwd=root, capture_output=True, text=True, timeout=300)


def tree(root: Path) -> dict:
    """Every entry under ``root`` (links not followed): size, mtime, inode and link target of a
    file; a directory's inode (its mtime moves with what is removed from it)."""
    state = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        state[str(path.relative_to(root))] = (("dir", st.st_ino) if path.is_dir() and not path.is_symlink() else
                                              (st.st_size, st.st_mtime_ns, st.st_ino,
                                               os.readlink(path) if path.is_symlink() else None))
    return state


@pytest.fixture(scope="module")
def other_built(built, tmp_path_factory):
    """Another project: the reference build with other options, so that its current version of
    run 8 is another lineage than ours (what our ``clean --keep-current`` would take for old)."""
    other = copy_workflow(built, tmp_path_factory.mktemp("other") / "project")
    other.write(RUNS, SUPERRUNS, {**OPTIONS, "sim_seed": 1}, storage=STORAGE)
    snakemake_run(other, "8/raw_records", "8/peaks")
    return other


@pytest.fixture
def other(other_built, tmp_path):
    return copy_workflow(other_built, tmp_path / "other")


def other_current(other, data_type="raw_records") -> Path:
    return other.file("8", data_type)


# -- the traps: each arranges one and returns the command's arguments and the traps it must leave ------


def outside_by_relative_name(flow, other):
    outside = flow.root.parent / "outside"
    outside.mkdir()
    (outside / "notes-2024").write_text("a user's notes, not data\n")
    return ["clean", "--keep-current", "../../outside"], []


def outside_by_absolute_name(flow, other):
    return ["clean", "--keep-current", str(other.data / "8")], []


def link_run_folder_to_other(flow, other):
    shutil.rmtree(flow.data / "8")
    (flow.data / "8").symlink_to(other.data / "8", target_is_directory=True)
    return ["clean", "--keep-current"], [flow.data / "8" / other_current(other).name]


def link_run_folder_named(flow, other):
    args, traps = link_run_folder_to_other(flow, other)
    return [*args, "8"], traps


def named_like_data(flow, other):
    (flow.data / "8" / "notes-2024").write_text("not a data file\n")
    return ["clean", "--keep-current"], [flow.data / "8" / "notes-2024"]


def link_file_to_other(flow, other):
    target = other_current(other)
    (flow.data / "8" / target.name).symlink_to(target)
    return ["clean", "--keep-current"], [flow.data / "8" / target.name]


def fifo_named_like_data(flow, other):
    os.mkfifo(flow.data / "8" / "peaks-fifo1")
    return ["clean", "--keep-current"], [flow.data / "8" / "peaks-fifo1"]


def copy_of_another_run(flow, other):
    shutil.copy2(flow.file("8", "peaks"), flow.data / "9" / "peaks-zzzzzzzzzz")
    return ["clean", "--lineage", "zzzzzzzzzz"], [flow.data / "9" / "peaks-zzzzzzzzzz"]


def old_version_of_ours(flow, other):
    shutil.copy2(other_current(other), flow.data / "8" / other_current(other).name)
    return ["clean", "--keep-current"], []


def migrate_linked_old_file(flow, other):
    (flow.data / "8" / "raw_records").symlink_to(other_current(other))
    return ["migrate"], [flow.data / "8" / "raw_records"]


def migrate_text_file(flow, other):
    (flow.data / "8" / "peaks").write_text("peaks of 8, typed by hand\n")
    return ["migrate"], [flow.data / "8" / "peaks"]


@dataclass
class Case:
    id: str
    arrange: Callable
    code: int = 0
    says: tuple = ()                      # words in the output
    removed: bool = False                 # whether it removes something (an old version of ours)


CASES = [
    Case("name-is-a-relative-path", outside_by_relative_name, 1, ("'../../outside'", "not a run or superrun")),
    Case("name-is-an-absolute-directory", outside_by_absolute_name, 1, ("not a run or superrun", "not paths")),
    Case("run-folder-linked-to-another-project", link_run_folder_to_other, 0, ("symbolic link",)),
    Case("run-folder-linked-and-named", link_run_folder_named, 0, ("symbolic link",)),
    Case("file-named-like-data-that-is-not", named_like_data, 0, ("not a superruns data file",)),
    Case("link-to-the-other-projects-file", link_file_to_other, 0, ("symbolic link",)),
    Case("fifo-named-like-data", fifo_named_like_data, 0, ("FIFO",)),
    Case("copy-of-another-run", copy_of_another_run, 0, ("holds 8/peaks",)),
    Case("old-version-of-ours-is-removed", old_version_of_ours, 0, ("removed 1 files",), removed=True),
    Case("migrate-a-link-to-the-other-project", migrate_linked_old_file, 0, ("symbolic link",)),
    Case("migrate-a-file-that-is-not-data", migrate_text_file, 0, ("not a superruns data file",)),
]


def listed(result: dict, *keys: str) -> list[str]:
    return sorted(entry.get("path", entry.get("from")) for key in keys for entry in result.get(key, []))


def data_changes(before: dict, after: dict) -> tuple[set, set]:
    """(entries gone, entries changed) between two trees, job logs aside."""
    gone = {p for p in before if p not in after and not p.startswith("data/logs")}
    changed = {p for p in after if p in before and after[p] != before[p] and not p.startswith("data/logs")
               and not Path(p).name.startswith(".")}
    return gone, changed


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_clean_and_migrate_act_only_on_files_they_identify(flow, other, case):
    args, traps = case.arrange(flow, other)
    outside = {p: tree(p) for p in (other.root, flow.root.parent / "outside") if p.exists()}
    before, trapped = tree(flow.root), {p: os.lstat(p) for p in traps}
    dry = superruns_cli(flow.root, "--json", *args, "--dry-run")
    assert tree(flow.root) == before, "the dry run changed files"
    real = superruns_cli(flow.root, *args)
    text = real.stdout + real.stderr
    assert {p: tree(p) for p in outside} == outside, f"files outside our data directory changed:\n{text}"
    for path, st in trapped.items():            # each trap is still there, as it was
        assert os.path.lexists(path) and os.lstat(path).st_ino == st.st_ino, f"{path} is gone:\n{text}"
    assert real.returncode == case.code == dry.returncode, text
    for words in case.says:
        assert words in text, f"{words!r} not in:\n{text}"
    gone, changed = data_changes(before, tree(flow.root))
    if case.code:
        assert not gone and not changed
        return
    planned = json.loads(dry.stdout)
    would = listed(planned, "would_remove", "would_move")
    assert gone == {str(Path(p).relative_to(flow.root)) for p in would}, "the dry run's plan was not what ran"
    assert not changed or args[0] == "migrate", changed
    assert bool(would) == case.removed, would
    assert {str(p) for p in traps} <= set(listed(planned, "left")), planned["left"]


def test_snakemake_refuses_a_run_folder_linked_elsewhere(flow, other):
    """Snakemake removes a job's old outputs before it runs: through a linked run folder that
    would be the other project's files. The workflow stops before any job, naming the link."""
    link_run_folder_to_other(flow, other)
    before = tree(other.root)
    result = snakemake_run(flow, "--forcerun", "8/raw_records", "8/raw_records", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{flow.data / '8'} is a symbolic link" in result.stderr and "folder of its own" in result.stderr
    assert tree(other.root) == before
