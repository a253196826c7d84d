"""Only regular files are opened (issue 12, class 2) and messages that help (class 10),
table-driven.

Class 2: a FIFO, a device or a directory where a data file or a YAML file should be is refused
at once, naming it, by ``load``, ``info``, ``verify``, ``list`` and the workflow's jobs (real
snakemake); nothing waits (every case runs under an alarm).
Class 10: a full disk, a read-only data directory (real, on a small tmpfs when this machine
lets us mount one), ``verify``'s advice (a live writer's temporary file, a newer format
version), a file rebuilt while ``iter_chunks`` reads it, and the arguments of ``load``.
Each case asserts the message, the exit status, and that no file appeared or changed.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import superruns
from superruns.base.errors import SuperrunsError
from superruns.base.times import format_ns
from superruns.cli import commands as cli
from superruns.storage import DataFile, FileChanged, NewerFormat, StorageError
from superruns.stored.loading import LoadError

from support.reliability import OPTIONS, RUNS, STORAGE, SUPERRUNS, files_under, snakemake_run, t

pytestmark = pytest.mark.e2e


@contextmanager
def no_hang(seconds: int = 20):
    """Fail (instead of waiting forever) if the block takes longer than ``seconds``."""
    def timeout(*_):
        raise AssertionError(f"waited more than {seconds} s: something opened a special file")
    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def state(data: Path) -> dict:
    return {str(p.relative_to(data)): (p.lstat().st_size, p.lstat().st_mtime_ns)
            for p in sorted(data.rglob("*")) if "logs" not in p.relative_to(data).parts and not p.is_dir()}


# -- class 2: special files --------------------------------------------------------------------------


def fifo(path: Path) -> None:
    os.mkfifo(path)


def dev_null(path: Path) -> None:
    path.symlink_to("/dev/null")


def dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def directory(path: Path) -> None:
    path.mkdir()


SPECIAL = {
    "fifo": (fifo, "is a FIFO (named pipe)"),
    "dev-null": (dev_null, "is a character device"),
    "dev-zero": (dev_zero, "is a character device"),
    "directory": (directory, "is a directory"),
}


@pytest.mark.parametrize("kind", SPECIAL)
def test_special_data_files_are_refused_at_once(flow, kind, monkeypatch, capsys):
    make, words = SPECIAL[kind]
    path = flow.file("9", "event_info")
    path.unlink()
    make(path)
    before = state(flow.data)
    project = flow.project()
    monkeypatch.chdir(flow.root)
    with no_hang():
        for read in (lambda: superruns.load("9", "event_info", project=project),
                     lambda: superruns.iter_chunks("9", "event_info", project=project),
                     lambda: DataFile(path)):
            with pytest.raises(StorageError) as error:
                read()
            assert str(path) in str(error.value) and words in str(error.value)
        assert cli.main(["info", str(path)]) == 1
        err = capsys.readouterr().err
        assert words in err and str(path) in err and "Traceback" not in err
        if kind != "directory":           # a directory is no data file: verify does not list it
            out = io.StringIO()
            assert cli.main(["verify", "data"], out=out) == 1
            text = out.getvalue()
            assert f"BAD  {Path('data') / '9' / 'event_info'}" in text and words in text
            assert "are not regular files" in text and "find out what did" in text
    assert state(flow.data) == before


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_superrun_job_refuses_a_special_input_at_once(flow, kind):
    make, words = SPECIAL[kind]
    output = flow.file("_a", "event_info")
    output.unlink()
    path = flow.file("9", "event_info")
    path.unlink()
    make(path)
    before = state(flow.data)
    result = snakemake_run(flow, "_a/event_info", "--rerun-triggers", "mtime", check=False, timeout=120)
    log = result.stdout + result.stderr
    assert result.returncode == 1 and words in log and str(path) in log, log
    assert "Traceback" not in log and not output.exists()
    assert state(flow.data) == before


@pytest.mark.parametrize("which", ["runs", "superruns", "superruns.d-entry", "config"])
def test_special_yaml_files_are_refused_at_once(flow, which, monkeypatch, capsys):
    target = {"runs": "config/runs.yaml", "superruns": "config/superruns.yaml",
              "superruns.d-entry": "config/superruns.d/_x.yaml", "config": "config/config.yaml"}[which]
    path = flow.root / target
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    monkeypatch.chdir(flow.root)
    with no_hang():
        assert cli.main(["--config", "config/config.yaml", "list"], out=io.StringIO()) == 1
    err = capsys.readouterr().err
    assert "is a FIFO (named pipe)" in err and target in err and "Traceback" not in err


# -- class 10: messages ------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (root only, where mounting is allowed); unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_names_the_file_and_says_no_space_left(flow, small_disk):
    flow.write(RUNS, SUPERRUNS, {**OPTIONS, "sim_interaction_rate_hz": 200.0}, storage=STORAGE,
               data_dir=str(small_disk))
    result = snakemake_run(flow, str(small_disk / "8" / "raw_records"), check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"{flow.file('8', 'raw_records')}: cannot be written: no space left on the device" in log
    assert "Could not append" not in log and "Traceback" not in log
    assert files_under(small_disk / "8") == []            # no temporary file left either


def test_a_read_only_data_directory_is_one_line_before_any_job(flow, small_disk):
    flow.write(RUNS, SUPERRUNS, OPTIONS, storage=STORAGE, data_dir=str(small_disk))
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = snakemake_run(flow, str(small_disk / "8" / "raw_records"), check=False)
    log = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"the data directory cannot be written: {small_disk}: the file system is read-only" in log
    assert "Traceback" not in log and "OSError" not in log
    assert files_under(small_disk) == []


def test_disk_full_in_process_when_blosc2_only_says_it_failed(flow, monkeypatch):
    """blosc2 says only "Could not append the desired chunk": the free space decides."""
    import blosc2

    from superruns.build.processing import process_run

    project = flow.project()
    output = project.path("10", "peaks")

    def full(*args, **kwargs):
        raise RuntimeError("Could not append the desired chunk")

    if output.exists():          # made by an earlier test (one job per run makes the whole chain)
        output.unlink()
    monkeypatch.setattr(blosc2.SChunk, "append_chunk", full)
    monkeypatch.setattr(os, "statvfs", lambda path: os.statvfs_result((4096,) * 2 + (0,) * 8 + (255,)))
    before = state(flow.data)
    with pytest.raises(SuperrunsError) as error:
        process_run(project, "10", "peaks", {"raw_records": project.path("10", "raw_records")}, output)
    assert f"{output}: cannot be written: no space left on the device" in str(error.value)
    assert not output.exists() and state(flow.data) == before


def test_cli_errors_name_the_file_never_a_bare_errno(flow, monkeypatch, capsys):
    monkeypatch.chdir(flow.root)
    cases = [
        (["info", "data/9/nosuch"], ["data/9/nosuch", "no such data file"]),
        (["info", "data/9"], ["data/9 is a directory"]),
    ]
    real_open = os.open

    def denied(path, flags, *args, **kwargs):
        if str(path).endswith("8/peaks"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    for args, words in cases:
        assert cli.main(args) == 1
        err = capsys.readouterr().err
        assert all(w in err for w in words) and "[Errno" not in err, err
    monkeypatch.setattr(os, "open", denied)
    assert cli.main(["info", "data/8/peaks"]) == 1
    err = capsys.readouterr().err
    assert "data/8/peaks: permission denied: give your user access to it" in err and "[Errno" not in err
    assert err.strip().splitlines()[0].startswith("superruns info: data/8/peaks")


def test_verify_tells_a_live_writers_temporary_file_from_a_leftover(flow, monkeypatch):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    live = flow.data / "9" / f".event_info.tmp-{os.getpid()}-abcd1234"
    left = flow.data / "9" / f".peaks.tmp-{int(dead.stdout)}-abcd1234"
    live.write_bytes(b"being written")
    left.write_bytes(b"half")
    monkeypatch.chdir(flow.root)
    out = io.StringIO()
    assert cli.main(["verify", "data"], out=out) == 0
    text = out.getvalue()
    assert f"{live.relative_to(flow.root)}: temporary file of a write under way (its process still runs); leave it" in text
    assert f"{left.relative_to(flow.root)}: temporary file of an interrupted write (its process is gone); safe to delete" in text
    assert "safe to delete" not in [line for line in text.splitlines() if live.name in line][0]
    assert live.exists() and left.exists()


def test_verify_and_load_advise_an_upgrade_for_a_newer_format(flow, monkeypatch):
    from superruns.storage import writer

    path = flow.file("9", "event_info")
    rows = DataFile(path).load()
    metadata = dict(DataFile(path).metadata)
    monkeypatch.setattr(writer, "FORMAT_VERSION", 99)
    with writer.DataWriter(path, rows.dtype, metadata) as w:
        w.write_chunk(rows, int(rows["time"][0]), int(rows["time"][-1]) + 10**9)
    monkeypatch.undo()
    monkeypatch.chdir(flow.root)
    with pytest.raises(NewerFormat) as error:
        superruns.load("9", "event_info", project=flow.project())
    assert "format version 99" in str(error.value) and "upgrade superruns" in str(error.value)
    out = io.StringIO()
    assert cli.main(["verify", "data"], out=out) == 1
    text = out.getvalue()
    assert "NEW  data/9/event_info" in text and "upgrade superruns" in text and "Do not delete" in text
    summary = [line for line in text.splitlines() if "newer format version" in line][0]
    assert "Delete them and rebuild" not in summary


def test_iter_chunks_across_a_rebuild_says_the_file_changed(flow):
    project = flow.project()
    path = project.path("9", "raw_records")
    assert len(DataFile(path).chunks) >= 2
    chunks = superruns.iter_chunks("9", "raw_records", project=project)
    next(chunks)
    copy = path.with_name(".rebuilt")
    shutil.copy2(path, copy)
    os.replace(copy, path)                 # a rebuild: a new file at the same path
    with pytest.raises(FileChanged) as error:
        next(chunks)
    message = str(error.value)
    assert str(path) in message and "changed while it was being read" in message and "load it again" in message
    assert "CRC" not in message and "delete" not in message.lower()
    assert DataFile(path).load().size      # the new file is intact


LOAD_ARGUMENTS = [
    ("three-values", dict(time_range=(t(1), t(2), t(3))), "give (start, end)"),
    ("a-string", dict(time_range="2019-01-01"), "give (start, end)"),
    ("not-a-time", dict(time_range=("soon", t(2))), "time_range start: 'soon' is not an ISO-8601 time"),
    ("a-float", dict(time_range=(1.5, t(2))), "time_range start: 1.5 is a float"),
    ("inverted-iso", dict(time_range=(format_ns(t(3)), format_ns(t(1)))), "start after end"),
    ("data-types-none", dict(data_types=None), "data_types=None: give a data type"),
    ("data-types-number", dict(data_types=3), "data_types=3: give a data type"),
    ("data-types-empty", dict(data_types=[]), "No data type asked for"),
]


@pytest.mark.parametrize("id, kwargs, words", LOAD_ARGUMENTS, ids=[c[0] for c in LOAD_ARGUMENTS])
def test_bad_load_arguments_are_clear_errors(flow, id, kwargs, words):
    kwargs = {"data_types": "raw_records", **kwargs}
    for read in (superruns.load, superruns.iter_chunks):
        with pytest.raises(LoadError) as error:
            read("8", project=flow.project(), **kwargs)
        assert words in str(error.value)


def test_time_ranges_as_iso_strings_and_open_ends(flow):
    project = flow.project()
    whole = superruns.load("8", "raw_records", project=project)
    ints = superruns.load("8", "raw_records", time_range=(t(1), t(3)), project=project)
    iso = superruns.load("8", "raw_records", time_range=(format_ns(t(1)), format_ns(t(3))), project=project)
    assert 0 < len(ints) < len(whole) and iso.tobytes() == ints.tobytes()
    head = superruns.load("8", "raw_records", time_range=(None, t(3)), project=project)
    tail = superruns.load("8", "raw_records", time_range=[t(1), None], project=project)
    both = superruns.load("8", "raw_records", time_range=(None, None), project=project)
    assert both.tobytes() == whole.tobytes()
    assert np.all(head["time"] < t(3)) and len(head) > len(ints) and np.all(tail["time"] >= t(1))
    chunked = np.concatenate(list(superruns.iter_chunks("8", "raw_records", time_range=(None, t(3)),
                                                        project=project)))
    assert chunked.tobytes() == head.tobytes()


VERIFY_MISSING = [
    ("a-path-that-does-not-exist", lambda flow: (["verify", "data/nosuch"], "data/nosuch: No such file or directory")),
    ("a-dangling-symlink", lambda flow: ((flow.file("9", "peaks")).unlink(),
                                         (flow.file("9", "peaks")).symlink_to("gone"),
                                         (["verify", "data"], f"data/9/{flow.file('9', 'peaks').name}: no such data file"))[-1]),
]


@pytest.mark.parametrize("id, make", VERIFY_MISSING, ids=[c[0] for c in VERIFY_MISSING])
def test_verify_of_missing_files_says_so_without_errno(flow, monkeypatch, id, make):
    monkeypatch.chdir(flow.root)
    args, words = make(flow)
    before = state(flow.data)
    out = io.StringIO()
    assert cli.main(args, out=out) == 1
    text = out.getvalue()
    assert words in text and "[Errno" not in text and "do not exist" in text
    assert "are damaged" not in text
    assert state(flow.data) == before
