"""Two snakemake processes on one data directory never both write one file.

Snakemake locks the files of the DAG it builds (``.snakemake/locks`` in its working
directory, the workflow's): a second process asking for any of them refuses with
``LockException`` before running a job, while one with disjoint targets runs alongside.
To make "while the first is running" certain rather than a race against the clock, the
first process's jobs wait at a gate (a ``sitecustomize`` on its PYTHONPATH holds every job
script until the test creates a file) -- nothing in the workflow is changed for the test.

If two processes do get past the lock together (started in the same instant, the lock check
is not atomic, or one uses --nolock), each output is still written whole: writes go to a
private temporary file renamed at the end, so the last rename wins with identical data.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from superruns.storage import verify_paths

from support.reliability import data_hashes, files_under, reference_build, snakemake_command, standard_workflow

pytestmark = pytest.mark.e2e

GATE_ENV = "SUPERRUNS_TEST_GATE"
SITECUSTOMIZE = f'''
import os, time
gate = os.environ.get("{GATE_ENV}")
if gate:
    try:
        command = open("/proc/self/cmdline", "rb").read()
    except OSError:
        command = b""
    def wait():
        open(gate + ".waiting", "a").close()
        deadline = time.monotonic() + 120
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.02)

    if b"/.snakemake/scripts/" in command:       # a job's script, not snakemake itself
        wait()
    # Jobs in Snakemake's own process (run: rules): held before a data file is put in place
    # (superruns.base.atomic: os.replace, or os.link for create-if-absent).
    def gated(put):
        def put_in_place(src, dst, *args, **kwargs):
            if "/data/" in os.path.abspath(dst) and not os.path.exists(gate):
                wait()
            return put(src, dst, *args, **kwargs)
        return put_in_place

    os.replace, os.link = gated(os.replace), gated(os.link)
'''


def gated_env(directory: Path, gate: Path) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), env.get("PYTHONPATH")]))
    env[GATE_ENV] = str(gate)
    return env


def start(flow, *targets, env=None) -> subprocess.Popen:
    return subprocess.Popen(snakemake_command(*targets), cwd=flow.root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[0]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_second_snakemake_refuses_while_the_first_builds(tmp_path, tmp_path_factory):
    reference = data_hashes(reference_build(tmp_path_factory).data)
    flow = standard_workflow(tmp_path / "flow", job_layout="per_data_type")
    gate = tmp_path / "gate"
    first = start(flow, "_a/raw_records", env=gated_env(tmp_path / "site", gate))
    try:
        wait_for(Path(f"{gate}.waiting"), first)      # the first holds its lock, its job is running
        # The same target, and one that shares an input: refused before any job.
        same = subprocess.run(snakemake_command("_a/raw_records"), cwd=flow.root, capture_output=True,
                              text=True, timeout=300)
        overlapping = subprocess.run(snakemake_command("8/peaks"), cwd=flow.root, capture_output=True,
                                     text=True, timeout=300)
        # Disjoint targets: no shared file, so it runs alongside.
        disjoint = subprocess.run(snakemake_command("10/raw_records"), cwd=flow.root, capture_output=True,
                                  text=True, timeout=300)
        assert files_under(flow.data / "_a") == [] and not (flow.file("8", "peaks")).exists()
    finally:
        gate.touch()
        output = first.communicate(timeout=300)[0]
    for refused in (same, overlapping):
        assert refused.returncode == 1
        assert "LockException" in refused.stdout + refused.stderr, refused.stdout + refused.stderr
    assert disjoint.returncode == 0, disjoint.stdout + disjoint.stderr
    assert first.returncode == 0, output

    found = data_hashes(flow.data)
    assert set(found) == {"8/raw_records", "9/raw_records", "10/raw_records", "_a/raw_records"}
    assert all(found[name] == reference[name] for name in found)
    assert verify_paths([flow.data])["ok"]
    locks = flow.root / ".snakemake" / "locks"
    assert not locks.exists() or not any(locks.iterdir())


def test_two_snakemakes_started_together(tmp_path, tmp_path_factory):
    """Started in the same instant, both may pass the lock check: then both write the same
    files, each whole, and the result is the clean build; or the second refuses."""
    reference = data_hashes(reference_build(tmp_path_factory).data)
    flow = standard_workflow(tmp_path / "flow", job_layout="per_data_type")
    gate = tmp_path / "gate"
    env = gated_env(tmp_path / "site", gate)
    processes = [start(flow, "_a/raw_records", env=env) for _ in range(2)]
    try:
        deadline = time.monotonic() + 60
        while not Path(f"{gate}.waiting").exists() and time.monotonic() < deadline:
            assert any(p.poll() is None for p in processes), [p.communicate()[0] for p in processes]
            time.sleep(0.02)
        time.sleep(0.5)             # let the second reach its jobs too, if it got past the lock
    finally:
        gate.touch()
        outputs = [p.communicate(timeout=300)[0] for p in processes]
    codes = [p.returncode for p in processes]
    # At least one passes the lock check (each checks before it writes its locks). The other
    # refuses (LockException), or, having passed too, runs the same jobs: then it may also
    # fail (e.g. one deletes an output the other's next job reads). Either way the files are
    # whole and right.
    assert 0 in codes, outputs
    found = data_hashes(flow.data)
    assert set(found) == {"8/raw_records", "9/raw_records", "_a/raw_records"}
    assert all(found[name] == reference[name] for name in found)
    report = verify_paths([flow.data])
    assert report["ok"] and report["leftovers"] == []


def test_two_writers_of_one_file(tmp_path):
    """Below Snakemake: two writers of one path, interleaved, never mix their bytes; the file
    is whole and is one writer's (the last to close), and no temporary file is left."""
    import numpy as np

    from superruns.storage import DataFile, DataWriter

    dtype = np.dtype([("time", "<i8"), ("endtime", "<i8"), ("value", "<f4")])
    path = tmp_path / "run" / "type"
    rows = [np.zeros(1000, dtype) for _ in range(2)]
    for i, r in enumerate(rows):
        r["time"] = np.arange(1000) * 10
        r["endtime"] = r["time"] + 5
        r["value"] = i + 1
    writers = [DataWriter(path, dtype, {"run_id": "run", "writer": i}) for i in range(2)]
    for chunk in range(4):
        for writer, r in zip(writers, rows):
            part = r[chunk * 250:(chunk + 1) * 250]
            writer.write_chunk(part, chunk * 2500, (chunk + 1) * 2500)
    writers[0].close()
    assert DataFile(path).metadata["writer"] == 0 and np.all(DataFile(path).load()["value"] == 1)
    writers[1].close()
    data = DataFile(path)
    assert data.metadata["writer"] == 1 and data.load().tobytes() == rows[1].tobytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["type"]
