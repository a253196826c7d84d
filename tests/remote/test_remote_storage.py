"""Runs and superruns on remote storage: real servers on 127.0.0.1, real snakemake.

With SUPERRUNS_TEST_REMOTE=1 (CI sets it; as root on Debian the first time), the session
fixtures run tests/remote/start_xrootd.sh (Debian's xrootd-server, exporting a folder) and
tests/remote/start_s3.sh (moto's S3 server from this environment), and stop at the end what
they started. Each test builds a campaign to ``event_info`` plus nested superruns with every
file on the server (Snakemake's ``--default-storage-provider``, the config's ``remote:``), and
checks it against a local build of the same targets: the same rows byte for byte, chunks and
lineage; then ``superruns.load`` reads the remote superrun where it lies, a time range by
reading only the frames it needs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from superruns.base.kernels import select_in_ranges
from superruns.storage import DataFile

from support.workflows import REPO, Workflow, run_entry

SCRIPTS = REPO / "tests" / "remote"
RUNS = {"000001": run_entry(0, 40), "000002": run_entry(60, 30), "000003": run_entry(120, 40)}
SUPERRUNS = {"_pair": {"runs": ["000001", "000002"]}, "_all": {"runs": ["_pair", "000003"]},
             # defined by the events the workflow selects (a checkpoint), 1 ms around each
             "_lowE": {"events": "data/selections/lowE.npy", "pad_ns": 1_000_000}}
SELECTIONS = {"lowE": {"source": "_all", "data_type": "event_info", "cuts": {"s1_area": [3, 15]}}}
TARGETS = [f"{run}/event_info" for run in RUNS] + ["_all/event_info", "_all/raw_records", "_lowE/event_info"]
#: Small chunks, so the superrun has many frames a time range can skip.
STORAGE = {"chunk_target_size_mb": 0.5}
#: S3 credentials of the test server (moto accepts any).
S3_KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}

pytestmark = [pytest.mark.e2e, pytest.mark.remote]


SERVER_DIRS = {"xrootd": Path(os.environ.get("SUPERRUNS_XROOTD_DIR", "/tmp/superruns-xrootd")),
               "s3": Path(os.environ.get("SUPERRUNS_S3_DIR", "/tmp/superruns-s3"))}


def _running(name: str) -> bool:
    pid = SERVER_DIRS[name] / "pid"
    return pid.is_file() and Path(f"/proc/{pid.read_text().strip()}").exists()


def _server(name: str, module: str, plugin: str):
    """Start the server (its script keeps one it started before); yield its URL; stop it at the
    end if this session started it."""
    if os.environ.get("SUPERRUNS_TEST_REMOTE") != "1":
        pytest.skip("remote storage tests: set SUPERRUNS_TEST_REMOTE=1 (tests/remote/start_*.sh start "
                    "the servers; as root on Debian the first time)")
    for needed in (module, plugin):
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"needs {needed}: pip install -e '.[test,remote]'")
    running_before = _running(name)
    result = subprocess.run(["bash", str(SCRIPTS / f"start_{name}.sh")], capture_output=True, text=True,
                            timeout=300)
    if result.returncode != 0:
        pytest.fail(f"start_{name}.sh failed:\n{result.stdout}\n{result.stderr}")
    yield re.search(r"export \w+=(\S+)", result.stdout).group(1)
    if not running_before:
        stop = f'. "{REPO}/tests/support/stop_pid.sh"; stop_pid {name} "{SERVER_DIRS[name] / "pid"}"'
        subprocess.run(["bash", "-c", stop], timeout=60)


@pytest.fixture(scope="session")
def xrootd_url():
    yield from (url.rstrip("/") for url in _server("xrootd", "XRootD", "snakemake_storage_plugin_xrootd"))


@pytest.fixture(scope="session")
def s3_endpoint():
    for endpoint in _server("s3", "moto", "snakemake_storage_plugin_s3"):
        import boto3

        os.environ.update(S3_KEYS)          # what the readers (boto3) and the plugin's jobs use
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="superruns-test")
        yield endpoint


@pytest.fixture(params=["xrootd", "s3"])
def remote(request, tmp_path):
    """``(config remote: section, snakemake storage arguments)`` of a fresh folder on a server."""
    folder = f"t{uuid.uuid4().hex[:12]}"
    if request.param == "xrootd":
        prefix = f"{request.getfixturevalue('xrootd_url')}//{folder}"
        section = {"provider": "xrootd", "prefix": prefix}
        args = []
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        prefix = f"s3://superruns-test/{folder}"
        section = {"provider": "s3", "prefix": prefix, "endpoint_url": endpoint}
        args = ["--storage-s3-endpoint-url", endpoint, "--storage-s3-access-key", "test",
                "--storage-s3-secret-key", "test"]
    # profiles/remote: the plugins' rate limits (the XRootD plugin's own is 1 request/s).
    return section, ["--profile", str(REPO / "profiles" / "remote"), "--default-storage-provider",
                     section["provider"], "--default-storage-prefix", prefix, *args]


def test_storage_settings_that_disagree_with_remote_are_refused(tmp_path):
    """Parsing only (no server): jobs would write where superruns.load does not look."""
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS, remote={"provider": "xrootd", "prefix": "root://127.0.0.1:1//nowhere"})
    result = flow.snakemake("--dry-run", "_all/event_info", check=False)
    assert result.returncode == 1
    assert "RemoteError" in result.stderr and "--default-storage-provider xrootd --default-storage-prefix " \
        "root://127.0.0.1:1//nowhere" in result.stderr, result.stderr[-2000:]


def data_files(root: Path) -> list[str]:
    data = root / "data"
    return sorted(str(p.relative_to(data)) for p in data.rglob("*-*") if p.is_file() and "logs" not in p.parts)


def test_campaign_on_remote_storage_equals_local_build(remote, tmp_path):
    section, storage_args = remote
    local, away = Workflow(tmp_path / "local"), Workflow(tmp_path / "remote")
    for flow, extra in ((local, {}), (away, {"remote": section})):
        flow.root.mkdir()
        flow.write(RUNS, SUPERRUNS, storage=STORAGE, selections=SELECTIONS, **extra)
    local.snakemake(*TARGETS)
    away.snakemake(*TARGETS, *storage_args)

    # Every file is on the server, none in the local data_dir, and each holds what the local
    # build's does: rows byte for byte, chunks, subruns, lineage.
    names = data_files(local.root)
    assert len(names) == 3 * 7 + 2 * 2 + 1, names
    assert not data_files(away.root), "a job wrote into data_dir instead of remote storage"
    project = away.project()
    tree = project.remote.tree(project.data_dir)
    assert sorted(f"{run}/{name}" for run, files in tree.items() if run not in ("logs", "selections")
                  for name in files) == names
    assert tree["selections"] == ["lowE.npy"]
    for name in names:
        ours, theirs = DataFile(local.data / name), project.open_data(project.data_dir / name)
        assert theirs.metadata["lineage_hash"] == ours.metadata["lineage_hash"], name
        assert [c.subruns for c in theirs.chunks] == [c.subruns for c in ours.chunks], name
        assert theirs.load().tobytes() == ours.load().tobytes(), name

    # The workflow sees the remote files: nothing left to do.
    again = away.snakemake(*TARGETS, *storage_args, "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]
    check_loads(local, away)


def check_loads(local: Workflow, away: Workflow) -> None:
    """superruns.load of the remote superrun: whole, then a time range reading only its frames."""
    import superruns

    project = away.project()
    whole = superruns.load("_all", "event_info", project=project)
    assert whole.tobytes() == superruns.load("_all", "event_info", project=local.project()).tobytes()
    assert superruns.is_stored("_all", "raw_records", project=project)

    ours = DataFile(local.file("_all", "raw_records"))
    frames = ours.frame_table
    assert len(frames) >= 8, "the test needs a superrun of many frames"
    t0 = frames[3].first_time
    t1 = frames[4].last_time
    selected = superruns.load("_all", "raw_records", time_range=(t0, t1), project=project)
    everything = ours.load()
    expected = everything[select_in_ranges(everything, [(t0, t1)])]     # the oracle: rows contained
    assert len(selected) and selected.tobytes() == expected.tobytes()

    theirs = project.open_data(project.path("_all", "raw_records"))
    theirs.load(time_range=(t0, t1))
    needed = [f for f in frames if not (f.last_time < t0 or f.first_time >= t1)]
    size = theirs.source.size
    overhead = 24 + min(size, 1 << 16)            # the first bytes and the trailer
    assert theirs.bytes_read <= sum(f.csize for f in needed) + overhead, (theirs.bytes_read, size)
    assert theirs.bytes_read < size / 2
    print(f"\n{away.project().remote.settings.provider}: time-range load read {theirs.bytes_read} of "
          f"{size} bytes ({len(needed)} of {len(frames)} frames) in {theirs.requests} requests")
    chunks = list(superruns.iter_chunks("_all", "raw_records", time_range=(t0, t1), project=project))
    assert sum(len(c) for c in chunks) == len(expected)

    # superruns.make passes the config's remote: storage to Snakemake: a new target lands there.
    assert not superruns.is_stored("_pair", "peaks", project=project)
    superruns.make("_pair", "peaks", cores=2, project=project, progress=False)
    assert superruns.is_stored("_pair", "peaks", project=project)
    parts = [superruns.load(run, "peaks", project=project) for run in ("000001", "000002")]
    assert superruns.load("_pair", "peaks", project=project).tobytes() == b"".join(p.tobytes() for p in parts)
