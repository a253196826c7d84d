"""Crash safety: SIGKILL a superrun job, a per-run job and snakemake itself, at many points.

Afterwards no file at an output path is readable-but-wrong: it is absent, or it loads and is
byte-identical to a clean build. A rerun (``snakemake --rerun-incomplete``, after ``--unlock``
if needed) completes with the clean build's data.

The jobs are killed in forked children of the test process (no interpreter start-up per
kill): once at every *crash point* of the write path in turn (before and after each frame
appended, each fsync, the rename, the close), and a few times after a random delay while
frames are written slowly. Loops are bounded (a sample of crash points, fixed seeds).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pytest

from superruns import storage
from superruns.orchestration import jobs
from superruns.storage import data_files, verify_paths

from support.reliability import (
    OPTIONS,
    REPO,
    RUNS,
    STORAGE,
    SUPERRUNS,
    Workflow,
    assert_same_file,
    data_hashes,
    process_job,
    reference_build,
    run_job,
    snakemake_command,
    snakemake_run,
    standard_workflow,
    superrun_job,
)

pytestmark = pytest.mark.e2e

FRAME_SIZE = 8192          # small frames: many crash points per file
CRASH_POINTS = 28          # crash points tried per job (all of the close, a sample of the rest)
RANDOM_KILLS = 6           # kills after a random delay per job
SEED = 20261127


# -- killing a job function in a forked child ------------------------------------------------------


def instrument(kill_at: int, slow: float = 0.0) -> list[int]:
    """In a child: count crash points (before and after every frame append, fsync, rename and
    close) and SIGKILL the process at point ``kill_at`` (0: never). Returns the counter."""
    count = [0]

    def point():
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def wrap(owner, name, delay=0.0):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            point()
            if delay:
                time.sleep(delay)
            result = original(*args, **kwargs)
            point()
            return result

        setattr(owner, name, wrapper)

    wrap(storage.DataWriter, "_append", slow)
    wrap(storage.DataWriter, "close")
    wrap(os, "fsync")
    wrap(os, "replace")
    return count


def in_child(function, kill_at: int = 0, slow: float = 0.0, kill_after: float | None = None,
             timeout: float = 60.0) -> tuple[int, int | None]:
    """Run ``function()`` in a forked child; return (exit status, crash points passed).
    The status is -9 when the child was killed."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                     # the child: never returns
        code = 3
        try:
            os.close(read)
            count = instrument(kill_at, slow)
            function()
            os.write(write, str(count[0]).encode())
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    os.close(write)
    if kill_after is not None:
        time.sleep(kill_after)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"the job did not finish in {timeout} s (hung after fork?)")
        time.sleep(0.005)
    with os.fdopen(read) as stream:
        passed = stream.read()
    return os.waitstatus_to_exitcode(status), int(passed) if passed else None


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """Runs 8, 9, 10 (raw_records) and a clean build of every output the tests kill."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage.writer, "FRAME_SIZE", FRAME_SIZE)
        flow = Workflow(tmp_path_factory.mktemp("crash"))
        flow.write(RUNS, SUPERRUNS, OPTIONS, storage=STORAGE)
        project = flow.project()
        for run in RUNS:
            assert run_job(jobs.process_job, process_job(project, run, "raw_records"))[0] == 0
        assert run_job(jobs.superrun_job, superrun_job(project, "_a", "raw_records"))[0] == 0
        reference = flow.root / "reference"
        for name in ("_a/raw_records", "10/raw_records"):
            (reference / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(flow.file(name), reference / name)
        yield flow


def check_output(output: Path, reference: Path) -> bool:
    """The file at ``output`` is absent or equal to the clean build; True if present."""
    if not output.exists():
        return False
    assert_same_file(output, reference)
    return True


@pytest.mark.parametrize("what", ["superrun", "per-run"])
def test_killed_job_leaves_no_wrong_file(flow, what, monkeypatch):
    monkeypatch.setattr(storage.writer, "FRAME_SIZE", FRAME_SIZE)
    project = flow.project()
    if what == "superrun":
        smk, name = superrun_job(project, "_a", "raw_records"), "_a/raw_records"
        function = lambda: jobs.superrun_job(smk)        # noqa: E731
    else:
        smk, name = process_job(project, "10", "raw_records"), "10/raw_records"
        function = lambda: jobs.process_job(smk)          # noqa: E731
    output, reference = Path(smk.output[0]), flow.root / "reference" / name

    output.unlink()
    code, points = in_child(function)                    # count the crash points
    assert code == 0 and check_output(output, reference)
    assert points > 12, points
    rng = random.Random(SEED)
    closing = list(range(max(1, points - 9), points + 1))       # metadata, fsync, rename, fsync
    sample = sorted(set(rng.sample(range(1, points + 1), min(points, CRASH_POINTS - len(closing))) + closing))
    present = 0
    for kill_at in sample:
        output.unlink(missing_ok=True)          # Snakemake removes a job's outputs before it runs
        code, _ = in_child(function, kill_at=kill_at)
        assert code == -signal.SIGKILL, (kill_at, code)
        present += check_output(output, reference)

    started = time.monotonic()
    output.unlink()
    assert in_child(function, slow=0.003)[0] == 0
    duration = time.monotonic() - started
    for _ in range(RANDOM_KILLS):
        output.unlink(missing_ok=True)
        code, _ = in_child(function, slow=0.003, kill_after=rng.uniform(0, duration))
        assert code in (0, -signal.SIGKILL)
        present += check_output(output, reference)

    # Killed writers leave hidden temporary files, never a file at the output path; verify
    # lists them as safe to delete, and a rerun writes the clean build again.
    report = verify_paths([output.parent])
    assert report["ok"] and all(Path(p).name.startswith(f".{output.name}.tmp-") for p in report["leftovers"])
    output.unlink(missing_ok=True)
    assert in_child(function)[0] == 0 and check_output(output, reference)
    # the kills after the rename left the complete file: some crash points must have hit there
    assert present >= 1


# -- killing snakemake --------------------------------------------------------------------------------

KILL_TARGETS = ["_b/raw_records", "8/peaks"]         # 6 jobs: 3 runs, 2 nested superruns, peaks
GATED_SNAKEMAKE = REPO / "tests" / "support" / "gated_snakemake.py"


def wait_for_files(directory: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``count`` data files exist under ``directory`` (or the process ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if len(data_files(directory)[0]) >= count if directory.exists() else False:
            return
        time.sleep(0.02)


def test_killed_snakemake_then_rerun_incomplete(tmp_path, tmp_path_factory):
    reference_flow = reference_build(tmp_path_factory)
    reference = data_hashes(reference_flow.data)
    rng = random.Random(SEED)
    # Kill once early (after 1 or 2 files) and once late (after 3 or 4 of the 6 files), each
    # at a random moment after that file appeared. The build cannot finish first, however fast
    # the machine: gated_snakemake holds every data file after those before its rename (its
    # job has written the hidden temporary file, Snakemake has it running), until the kill.
    for iteration, files in enumerate((rng.randint(1, 2), rng.randint(3, 4))):
        flow = standard_workflow(tmp_path / f"run{iteration}", job_layout="per_data_type")
        command = [sys.executable, str(GATED_SNAKEMAKE), str(files), *snakemake_command(*KILL_TARGETS)[1:]]
        process = subprocess.Popen(command, cwd=flow.root, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_files(flow.data, files, process)
        time.sleep(rng.uniform(0, 0.3))
        assert process.poll() is None, "snakemake ended before the kill"
        os.killpg(process.pid, signal.SIGKILL)           # snakemake and every job it started
        process.wait()

        # Nothing readable-but-wrong: each file there is whole and equal to the clean build's.
        found = data_hashes(flow.data)
        assert len(found) == files, (files, sorted(found))
        assert all(found[name] == reference[name] for name in found), (iteration, found)
        assert verify_paths([flow.data])["ok"]

        # The killed snakemake's locks are still there (a new run would stop with LockException,
        # see test_concurrency.py): unlock, then rerun what is missing or flagged incomplete.
        locks = flow.root / ".snakemake" / "locks"
        if locks.exists() and any(locks.iterdir()):
            snakemake_run(flow, "--unlock")
        snakemake_run(flow, "--rerun-incomplete", *KILL_TARGETS)
        found = data_hashes(flow.data)
        assert len(found) == 6 and all(found[name] == reference[name] for name in found)
        for name in KILL_TARGETS:
            assert_same_file(flow.file(name), reference_flow.file(name), any_rule=True)  # other layout
        assert verify_paths([flow.data])["ok"]
