"""Every read checks identity (issue 12, class 1), table-driven.

A data file says in its metadata which run, data type and lineage it holds. Each case puts a
wrong file where a reader looks (a symlink to another run's file, two runs' files swapped with
``mv``, another data type copied over, data of another lineage after a config change) or asks
for a path through a run id or data type that is not a name; ``superruns.load``,
``iter_chunks``, ``superruns verify`` / ``info`` and the workflow's jobs (real snakemake) must
all refuse it with one message naming both identities and what to do, and change no file.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import superruns
from superruns.cli import commands as cli
from superruns.storage import DataFile
from superruns.storage.identity import IdentityError
from superruns.stored.loading import LoadError

from support.reliability import OPTIONS, RUNS, STORAGE, SUPERRUNS, snakemake_run

pytestmark = pytest.mark.e2e


def snapshot(data: Path) -> dict:
    """Every file under the data directory (logs aside): its bytes' size and mtime, and where a
    symlink points."""
    state = {}
    for path in sorted(data.rglob("*")):
        if "logs" in path.relative_to(data).parts or ".snakemake" in path.parts or path.is_dir():
            continue
        st = os.lstat(path)
        state[str(path.relative_to(data))] = (st.st_size, st.st_mtime_ns, os.readlink(path) if path.is_symlink() else None)
    return state


# -- the wrong files ------------------------------------------------------------------------------------


def symlink_other_run(flow, data_type: str) -> tuple[str, str]:
    flow.file("9", data_type).unlink()
    flow.file("9", data_type).symlink_to(Path("..") / "8" / flow.file("8", data_type).name)
    return "9", "8"


def swap_runs(flow, data_type: str) -> tuple[str, str]:
    a, b, tmp = flow.file("8", data_type), flow.file("9", data_type), flow.data / "9" / "swap"
    os.rename(a, tmp)
    os.rename(b, a)
    os.rename(tmp, b)
    return "9", "8"


def copy_other_type(flow, data_type: str) -> tuple[str, str]:
    other = "peaks" if data_type != "peaks" else "raw_records"
    shutil.copy2(flow.file("9", other), flow.file("9", data_type))
    return "9", other


@dataclass
class Wrong:
    id: str
    make: Callable
    data_type: str
    says: Callable        # (asked run, found run or type) -> what the file says it holds


WRONG = [
    Wrong("symlink-to-another-run", symlink_other_run, "event_info", lambda run, other: f"{other}/event_info"),
    Wrong("mv-swap-of-two-runs", swap_runs, "peaks", lambda run, other: f"{other}/peaks"),
    Wrong("cp-another-data-type", copy_other_type, "event_info", lambda run, other: f"{run}/{other}"),
    Wrong("symlink-superrun-to-subrun", None, "raw_records", None),
]


def make_wrong(flow, case: Wrong) -> tuple[str, str]:
    """Damage the copy; return (the run asked for, what the wrong file says it holds)."""
    if case.make is None:       # a superrun's file replaced by one of its subruns' files
        target = flow.file("_a", case.data_type)
        target.unlink()
        target.symlink_to(Path("..") / "8" / flow.file("8", case.data_type).name)
        return "_a", f"8/{case.data_type}"
    run, other = case.make(flow, case.data_type)
    return run, case.says(run, other)


@pytest.mark.parametrize("case", WRONG, ids=lambda c: c.id)
def test_load_and_iter_chunks_refuse_a_file_that_is_not_what_was_asked(flow, case):
    run, says = make_wrong(flow, case)
    project = flow.project()
    before = snapshot(flow.data)
    for read in (lambda: superruns.load(run, case.data_type, project=project),
                 lambda: superruns.iter_chunks(run, case.data_type, project=project)):
        with pytest.raises(IdentityError) as error:
            read()
        message = str(error.value)
        assert str(project.path(run, case.data_type)) in message
        assert f"holds {says}" in message and f"not {run}/{case.data_type}" in message
        assert "rebuild" in message and "--forcerun" in message
    assert snapshot(flow.data) == before


@pytest.mark.parametrize("case", WRONG, ids=lambda c: c.id)
def test_verify_and_info_refuse_a_file_that_is_not_what_its_place_says(flow, case, monkeypatch):
    run, says = make_wrong(flow, case)
    path = flow.file(run, case.data_type)
    before = snapshot(flow.data)
    monkeypatch.chdir(flow.root)
    for args in (["verify", "data"], ["verify", str(path)], ["--config", "config/config.yaml", "verify", "data"]):
        out = io.StringIO()
        assert cli.main(args, out=out) == 1, args
        text = out.getvalue()
        assert f"holds {says}" in text and f"not {run}/{case.data_type}" in text, text
        assert "all intact" not in text and "not what their place says" in text
    code = cli.main(["info", str(path)], out=io.StringIO())
    assert code == 1
    assert snapshot(flow.data) == before


def test_info_shows_both_identities_in_one_line(flow, monkeypatch, capsys):
    symlink_other_run(flow, "event_info")
    monkeypatch.chdir(flow.root)
    assert cli.main(["info", str(flow.file("9", "event_info").relative_to(flow.root))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds 8/event_info" in err[0] and "not 9/event_info" in err[0]


# -- another lineage: refused by default, readable on purpose -------------------------------------------


LINEAGE_CHANGES = [
    ("sim_seed", {"sim_seed": 3}, "raw_records"),
    ("a-peaks-option", {"peak_gap_threshold_ns": 1234}, "peaks"),
]


@pytest.mark.parametrize("name, change, data_type", LINEAGE_CHANGES, ids=[c[0] for c in LINEAGE_CHANGES])
def test_data_of_another_lineage_is_refused_unless_asked_for(flow, monkeypatch, name, change, data_type):
    old_path = flow.file("8", data_type)
    old = DataFile(old_path).metadata["lineage_hash"]
    flow.write(RUNS, SUPERRUNS, {**OPTIONS, **change}, storage=STORAGE)
    project = flow.project()
    new = project.lineage_hash("8", data_type)
    assert new != old and flow.file("8", data_type) != old_path       # versions side by side
    before = snapshot(flow.data)
    with pytest.raises(LoadError) as error:
        superruns.load("8", data_type, project=project)
    message = str(error.value)
    assert f"{data_type}-{new} does not exist" in message and f"other lineages: {old}" in message
    assert "lineage=HASH" in message
    # on purpose: by its hash, or any
    rows = superruns.load("8", data_type, lineage=old, project=project)
    assert len(rows) == DataFile(old_path).n_rows
    assert len(superruns.load("8", data_type, lineage="any", project=project)) == len(rows)
    with pytest.raises(LoadError, match="does not exist"):
        superruns.load("8", data_type, lineage=new, project=project)
    with pytest.raises(IdentityError, match="lineage='../x'"):
        superruns.load("8", data_type, lineage="../x", project=project)
    # verify: a kept version is no problem; the configuration's being another is a note
    monkeypatch.chdir(flow.root)
    out = io.StringIO()
    assert cli.main(["verify", "data"], out=out) == 0
    assert "other processing versions than the configuration's" in out.getvalue()
    assert snapshot(flow.data) == before
    # a file of one lineage under the other's name: refused, by load and by verify
    old_path.rename(flow.file("8", data_type))
    with pytest.raises(IdentityError) as error:
        superruns.load("8", data_type, project=project)
    message = str(error.value)
    assert f"lineage hash {old}" in message and f"lineage hash {new} is asked for" in message
    assert f"lineage={old!r}" in message and "lineage='any'" in message
    out = io.StringIO()
    assert cli.main(["verify", "data"], out=out) == 1
    assert f"BAD  data/8/{data_type}-{new}" in out.getvalue() and "not what their place says" in out.getvalue()


# -- names are names ----------------------------------------------------------------------------------


NOT_NAMES = [
    ("/etc", "passwd", "Not a run id"),
    ("..", "config", "Not a run id"),
    ("8/../9", "peaks", "Not a run id"),
    ("", "peaks", "Not a run id"),
    ("8", "../9/peaks", "Unknown data type '../9/peaks'"),
    ("8", "/etc/passwd", "Unknown data type '/etc/passwd'"),
    ("8", "peaks/..", "Unknown data type"),
]


@pytest.mark.parametrize("run_id, data_type, words", NOT_NAMES, ids=[f"{r}|{d}" for r, d, _ in NOT_NAMES])
def test_nothing_outside_the_data_directory_is_read_through_a_name(flow, monkeypatch, run_id, data_type, words):
    project = flow.project()
    opened = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, *a, **k: opened.append(path) or real_open(path, *a, **k))
    for read in (superruns.load, superruns.iter_chunks):
        with pytest.raises(IdentityError) as error:
            read(run_id, data_type, project=project)
        assert words in str(error.value)
        assert "Delete it" not in str(error.value)
    assert opened == []


# -- jobs: real snakemake ----------------------------------------------------------------------------


JOB_CASES = [
    # (id, damage, target built (its output removed first), what the log must say)
    ("superrun-input-symlinked", lambda f: symlink_other_run(f, "event_info"), "_a/event_info",
     ["holds 8/event_info", "not 9/event_info"]),
    ("superrun-inputs-swapped", lambda f: swap_runs(f, "peaks"), "_a/peaks",
     ["holds 9/peaks", "not 8/peaks"]),
    ("run-input-copied-from-another-type", lambda f: copy_other_type(f, "peak_basics"), "9/events",
     ["holds 9/peaks", "not 9/peak_basics"]),
    ("run-input-symlinked", lambda f: symlink_other_run(f, "peaks"), "9/peak_basics",
     ["holds 8/peaks", "not 9/peaks"]),
    ("summary-input-symlinked", lambda f: link_superrun_to_subrun(f, "event_info"),
     "summary/_a/event_info.html", ["holds 8/event_info", "not _a/event_info"]),
]


def link_superrun_to_subrun(flow, data_type: str) -> None:
    flow.file("_a", data_type).unlink()
    flow.file("_a", data_type).symlink_to(Path("..") / "8" / flow.file("8", data_type).name)


@pytest.mark.parametrize("id, damage, target, words", JOB_CASES, ids=[c[0] for c in JOB_CASES])
def test_jobs_refuse_inputs_that_are_not_what_they_should_be(flow, id, damage, target, words):
    output = flow.data / target if target.startswith("summary/") else flow.file(target)
    if id.startswith("run-input"):   # an input of one data type's job: one job per data type
        config = flow.root / "config" / "config.yaml"
        config.write_text(config.read_text() + "job_layout: per_data_type\n")
    if output.exists():
        output.unlink()
    damage(flow)
    before = snapshot(flow.data)
    result = snakemake_run(flow, target, "--rerun-triggers", "mtime", check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 1, log
    for word in words:
        assert word in log, log
    assert "Traceback" not in log
    assert not output.exists()
    after = snapshot(flow.data)
    assert {k: v for k, v in after.items()} == before
