"""Cluster execution: the profiles, a real SLURM of a controller and two nodes, and what HTCondor would be sent.

The SLURM tests (marked ``slurm``) run only with SUPERRUNS_TEST_SLURM=1, as root on Debian:
the session fixture runs tests/cluster/start_slurm.sh (installs slurmd/slurmctld/munge if
missing and starts a controller and two nodes in network namespaces; a cluster that script already started is reused) and
stops at the end what it started. Every Snakemake run against SLURM is bounded: on SIGTERM
Snakemake waits for its cluster jobs to end, so on timeout its process group gets SIGKILL and
its SLURM jobs are cancelled.

HTCondor has no pool here: the tests check what the profile makes Snakemake submit (the schedd
is replaced by a stand-in that records the submit description), then run that job command
through the job wrapper in a clean environment, in the submit directory, as an execute point
with a shared filesystem would.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support.workflows import REPO, SNAKEMAKE, Workflow, run_entry

PROFILES = REPO / "profiles"
CLUSTER_SCRIPTS = REPO / "tests" / "cluster"
SLURM_DIR = Path(os.environ.get("SUPERRUNS_SLURM_DIR", "/tmp/superruns-slurm"))
# One Snakemake run against the test SLURM takes 0.5-2 minutes; past this it is stuck.
SLURM_TIMEOUT = 420

RUNS = {"000001": run_entry(0, 20), "000002": run_entry(60, 20), "000003": run_entry(120, 15)}
SUPERRUNS = {"_pair": {"runs": ["000001", "000002"]}, "_all": {"runs": ["_pair", "000003"]}}
# One job per run (rule run_chain) makes its whole chain: 7 files a run (raw_records ...
# event_info); on SLURM the runs' jobs go as one batch job (group `runs`).
TARGETS = ("_all/peak_basics",)
FILES_PER_RUN = 7

# What two builds of the same file may differ in: when and where it was written, and the
# compressed bytes of its frames. blosc2 compressing with 2 threads stores a frame's blocks in
# the order the threads finish them, so the compressed bytes (same size, same rows) vary from
# build to build, and with them each frame's CRC32 and the inputs' content hashes (made of
# CRC32s) in the provenance record.
VOLATILE_METADATA = {"writing_started", "writing_ended"}
VOLATILE_FRAME_FIELDS = {"crc32"}
VOLATILE_PROVENANCE = {"host", "pid", "time"}
VOLATILE_INPUT_FIELDS = {"content_hash"}

# Settings for the test cluster only, on top of the profile: no accounting database, so the
# plugin must ask squeue (sacct fails and the plugin would wait forever); first status check
# after 2 s instead of 20 s.
SLURM_TEST_ARGS = ("--slurm-status-command", "squeue",
                   "--slurm-init-seconds-before-status-checks", "2")


def load_profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.yaml").read_text())


def resources(profile: dict) -> dict:
    """default-resources as {name: expression}."""
    return dict(item.split("=", 1) for item in profile.get("default-resources", []))


# -- the profiles (always run) -------------------------------------------------------------------


def test_default_profile_holds_only_settings_right_everywhere():
    # Snakemake loads profiles/default for every run of this Snakefile, also together with
    # --profile profiles/slurm, and it wins key by key: no executor settings, and no cores
    # (in cluster mode: the most CPUs one job asks for, set by the cluster profiles).
    default = load_profile("default")
    assert default["scheduler"] == "greedy"
    assert default["rerun-incomplete"] is True
    assert not {"cores", "jobs", "executor", "default-resources", "groups", "group-components",
                "retries", "keep-going"} & set(default)
    for cluster in ("slurm", "htcondor"):
        assert not set(default) & set(load_profile(cluster)), f"{cluster} repeats default's keys"


@pytest.mark.parametrize("name, executor", [("slurm", "slurm"), ("htcondor", "htcondor")])
def test_cluster_profiles(name, executor):
    profile = load_profile(name)
    assert profile["executor"] == executor
    assert profile["jobs"] >= 1 and profile["keep-going"] is True
    # cores: the most CPUs one submitted job asks for. The SLURM plugin runs a group's jobs one
    # by one, so a group should ask for one job's CPUs.
    assert profile["cores"] == {"slurm": 1, "htcondor": 2}[name]
    res = resources(profile)
    assert eval(res["mem_mb"], {"attempt": 1}) >= 1000
    assert eval(res["mem_mb"], {"attempt": 2}) > eval(res["mem_mb"], {"attempt": 1})
    assert int(res["runtime"]) > 0
    # The per-run jobs are grouped, and the group named in group-components is that group.
    groups = dict(item.split("=") for item in profile["groups"])
    components = dict(item.split("=") for item in profile["group-components"])
    assert groups == {"process": "runs", "strax_produce": "runs"}
    assert set(components) == {"runs"} and int(components["runs"]) >= 1


def test_profile_options_are_snakemake_options():
    """Every key of every profile is an option of this Snakemake with its installed plugins."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    pytest.importorskip("snakemake_executor_plugin_htcondor")
    from snakemake.cli import get_argument_parser

    known = {opt for action in get_argument_parser()._actions for opt in action.option_strings}
    names = ["default", "slurm", "htcondor"]
    if all(importlib.util.find_spec(f"snakemake_storage_plugin_{p}") for p in ("xrootd", "s3")):
        names.append("remote")             # the remote extra's plugins
    for name in names:
        unknown = {key for key in load_profile(name) if f"--{key}" not in known}
        assert not unknown, f"profiles/{name}: not Snakemake options: {unknown}"


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["slurm", "htcondor"])
def test_dry_run_with_cluster_profile(workflow, name):
    pytest.importorskip(f"snakemake_executor_plugin_{name}")
    workflow.write(RUNS, SUPERRUNS)
    result = workflow.snakemake("--profile", str(PROFILES / name), "--dry-run", *TARGETS)
    out = result.stdout + result.stderr
    assert f"{PROFILES / name} and workflow specific profile {PROFILES / 'default'}" in out
    # The jobs of the 3 runs and the 2 superrun jobs, the runs' jobs as one group.
    assert re.search(r"run_chain\s+3\b", out) and re.search(r"superrun\s+2\b", out)
    assert "Group job runs" in out or "group job runs" in out.lower()


@pytest.mark.e2e
def test_slurm_profile_batches_runs_into_few_jobs(workflow):
    """45 runs (one job each) and their superrun: the profile's group-components (20 runs a
    batch job) makes 3 batch jobs of runs, so 10,000 runs are 500, not 10,000 (or 70,000)."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    runs = {f"{i:06d}": run_entry(30 * i, 5) for i in range(45)}
    workflow.write(runs, {"_many": {"runs": list(runs)}})
    result = workflow.snakemake("--profile", str(PROFILES / "slurm"), "--dry-run", "_many/peaks")
    out = result.stdout + result.stderr
    # (the shipped detector's per-run PMT gains change at run 38: a second chain rule)
    stats = out[:out.index("total")]                     # the first job stats table
    assert sum(int(n) for n in re.findall(r"^run_chain\w*\s+(\d+)$", stats, re.M)) == 45
    assert len(re.findall(r"Group job runs \(", out)) == 3, out[-4000:]


# -- HTCondor without a pool -----------------------------------------------------------------------

# Runs Snakemake in this process with htcondor's schedd replaced: the first submission is
# written to $CAPTURE as JSON (with the directory it was submitted from) and the process ends.
CAPTURE_DRIVER = """
import json, os, sys
import snakemake_executor_plugin_htcondor as plugin

class Schedd:
    def submit(self, description):
        record = {"cwd": os.getcwd(), "submit": {k: description[k] for k in description.keys()}}
        with open(os.environ["CAPTURE"], "w") as f:
            json.dump(record, f)
        os._exit(0)

plugin.htcondor.Schedd = Schedd
plugin.htcondor.Submit.issue_credentials = lambda self: None
from snakemake.cli import main
sys.exit(main(sys.argv[1:]))
"""


def htcondor_environment(value: str) -> dict:
    """HTCondor's new-style environment string as a dict."""
    return {k: v.replace('""', '"') for k, v in re.findall(r'(\w+)="((?:[^"]|"")*)"', value)}


@pytest.mark.e2e
def test_htcondor_submission_runs_through_the_wrapper(workflow, tmp_path):
    pytest.importorskip("snakemake_executor_plugin_htcondor")
    workflow.write({"000001": run_entry(0, 10)}, {"_one": {"runs": ["000001"]}})
    driver = tmp_path / "capture.py"
    driver.write_text(CAPTURE_DRIVER)
    capture = tmp_path / "submit.json"
    # $PWD in the profile's job_wrapper is the directory Snakemake was started from, as a shell
    # sets it: the repository root (the Snakefile here is the repository's).
    env = dict(os.environ, CAPTURE=str(capture), PWD=str(REPO), CONDOR_CONFIG="/dev/null")
    result = subprocess.run(
        [sys.executable, str(driver), "-s", str(REPO / "Snakefile"), "--profile",
         str(PROFILES / "htcondor"), "000001/event_info"],
        cwd=workflow.root, env=env, capture_output=True, text=True, timeout=300)
    assert capture.exists(), f"nothing submitted:\n{result.stdout}\n{result.stderr}"
    record = json.loads(capture.read_text())
    submit = record["submit"]

    # What the pool would be asked for: one job for the run's 7 jobs (the group), started by
    # the wrapper, from the workflow's directory (Snakemake's working directory: the job reads
    # config/config.yaml there again), with nothing of ours in its environment.
    assert Path(record["cwd"]) == workflow.root
    wrapper = Path(submit["executable"])
    assert wrapper == PROFILES / "htcondor" / "job_wrapper.sh" and os.access(wrapper, os.X_OK)
    args = shlex.split(submit["arguments"])
    assert "--target-jobs" in args and "--mode" in args and "remote" in args
    assert sum(1 for a in args if a.startswith("run_chain:run=000001")) == 1
    assert submit["request_memory"].endswith(("MB", "GB")) and int(submit["request_cpus"]) >= 1
    assert submit["getenv"] == "False"
    job_env = htcondor_environment(submit.get("environment", ""))
    assert "SUPERRUNS_CONFIG" not in job_env
    assert submit["log"].startswith(".snakemake/htcondor/")

    # The execute point: a clean environment (getenv = False) plus `environment`, in the
    # submit directory, the wrapper as executable.
    clean = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), **job_env}
    job = subprocess.run([str(wrapper), *args], cwd=record["cwd"], env=clean,
                         capture_output=True, text=True, timeout=300)
    assert job.returncode == 0, f"the job failed:\n{job.stdout}\n{job.stderr[-5000:]}"
    # the wrapper activated the environment of the interpreter Snakemake runs with
    assert "job_wrapper: " in job.stderr and f"{sys.prefix}/bin/python" in job.stderr
    for data_type in ("raw_records", "peaks", "event_info"):
        assert (workflow.file("000001", data_type)).is_file()


def test_job_wrapper_activates_the_environment(tmp_path):
    """The wrapper finds the environment from the interpreter's path, or from SUPERRUNS_ENV."""
    wrapper = PROFILES / "htcondor" / "job_wrapper.sh"
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    version = subprocess.run([str(SNAKEMAKE), "--version"], capture_output=True, text=True).stdout
    for args, env in (([sys.executable, "-m", "snakemake", "--version"], clean),
                      (["--version"], dict(clean, SUPERRUNS_ENV=sys.prefix))):
        job = subprocess.run([str(wrapper), *args], env=env, capture_output=True, text=True,
                             timeout=120)
        assert job.returncode == 0, job.stderr
        assert job.stdout == version
    setup = tmp_path / "setup.sh"
    setup.write_text("echo site-setup >&2\n")
    job = subprocess.run([str(wrapper), "--version"], capture_output=True, text=True,
                         env=dict(clean, SUPERRUNS_ENV=sys.prefix, SUPERRUNS_JOB_SETUP=str(setup)))
    assert job.returncode == 0 and "site-setup" in job.stderr
    job = subprocess.run([str(wrapper), "--version"], capture_output=True, text=True,
                         env=dict(clean, SUPERRUNS_ENV=str(tmp_path)))
    assert job.returncode == 1 and "neither a virtualenv nor a conda environment" in job.stderr


def test_job_wrapper_runs_the_commands_before_the_job(tmp_path):
    """Snakemake's `PRE && python -m snakemake ...`, as words: PRE runs first, in the activated
    environment; the executor's deployment of installed storage plugins into
    .snakemake/pip-deployments is skipped (the environment has them)."""
    wrapper = PROFILES / "htcondor" / "job_wrapper.sh"
    marker = tmp_path / "ran"
    args = ["pip", "install", "--target", ".snakemake/pip-deployments", "snakemake-storage-plugin-fs", "&&",
            "touch", str(marker), "&&", sys.executable, "-m", "snakemake", "--version"]
    job = subprocess.run([str(wrapper), *args], cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
                         capture_output=True, text=True, timeout=120)
    assert job.returncode == 0, job.stderr
    assert job.stdout == subprocess.run([str(SNAKEMAKE), "--version"], capture_output=True, text=True).stdout
    assert marker.exists() and not (tmp_path / ".snakemake").exists()
    assert "job_wrapper: skipped, the environment has them: pip install --target .snakemake/pip-deployments" \
        in job.stderr


# -- a real SLURM ----------------------------------------------------------------------------------


def slurm_answers() -> bool:
    try:
        result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                                timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    states = {"idle", "mixed", "allocated", "completing"}
    return result.returncode == 0 and bool(states & set(result.stdout.split()))


@pytest.fixture(scope="session")
def slurm():
    """The two-node SLURM: started by tests/cluster/start_slurm.sh, stopped at the end if started here."""
    if os.environ.get("SUPERRUNS_TEST_SLURM") != "1":
        pytest.skip("SLURM tests: set SUPERRUNS_TEST_SLURM=1 (as root on Debian; "
                    "tests/cluster/start_slurm.sh installs and starts a controller and two nodes)")
    pytest.importorskip("snakemake_executor_plugin_slurm",
                        reason="needs the slurm extra: pip install -e '.[slurm]'")
    running_before = (SLURM_DIR / "pids" / "slurmctld").exists() and slurm_answers()
    start = subprocess.run(["bash", str(CLUSTER_SCRIPTS / "start_slurm.sh")],
                           capture_output=True, text=True, timeout=300)
    if start.returncode != 0:
        pytest.fail(f"start_slurm.sh failed:\n{start.stdout}\n{start.stderr}")
    # The cluster's configuration is where the script says (its last lines: export NAME=VALUE),
    # not in /etc/slurm: sbatch, squeue and the executor plugin find it through the environment.
    for name, value in re.findall(r"^export (\w+)=(\S+)$", start.stdout, re.M):
        os.environ[name] = value
    yield SLURM_DIR
    if not running_before:
        subprocess.run(["bash", str(CLUSTER_SCRIPTS / "stop_slurm.sh")], timeout=120)


def cancel_slurm_jobs(output: str) -> None:
    """Cancel the SLURM jobs of one Snakemake run (named by its run ID)."""
    for run_id in set(re.findall(r"SLURM run ID: (\S+)", output)):
        subprocess.run(["scancel", f"--name={run_id}"], timeout=30)


def snakemake_on_slurm(flow: Workflow, *args: str, timeout: float = SLURM_TIMEOUT):
    """Run snakemake with the SLURM profile, bounded: returns (exit code, output)."""
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--profile", str(PROFILES / "slurm"),
               *SLURM_TEST_ARGS, *args]
    log = flow.root / "snakemake-slurm.out"
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=flow.root, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            output = log.read_text()
            cancel_slurm_jobs(output)
            pytest.fail(f"snakemake on SLURM did not finish in {timeout} s; killed.\n"
                        f"{output[-6000:]}")
    return code, log.read_text()


def data_files(flow: Workflow) -> list[str]:
    """Every {run}/{data_type} file the workflow built (not logs, not .snakemake)."""
    names = set(RUNS) | set(SUPERRUNS)
    return sorted(f"{d.name}/{f.name}" for d in flow.data.iterdir() if d.name in names
                  for f in d.iterdir() if f.is_file())


def stable_metadata(metadata: dict) -> dict:
    def without(d: dict, keys: set) -> dict:
        return {k: v for k, v in d.items() if k not in keys}

    stable = without(metadata, VOLATILE_METADATA)
    stable["frames"] = [without(frame, VOLATILE_FRAME_FIELDS) for frame in metadata["frames"]]
    if "provenance" in stable:
        provenance = without(stable["provenance"], VOLATILE_PROVENANCE)
        provenance["inputs"] = {name: without(record, VOLATILE_INPUT_FIELDS)
                                for name, record in provenance.get("inputs", {}).items()}
        stable["provenance"] = provenance
    return stable


def assert_same_data(a: Workflow, b: Workflow, names: list[str]) -> None:
    """Same rows byte for byte, same chunks and frames, same metadata and lineage hash."""
    from superruns.storage import DataFile

    for name in names:
        fa, fb = DataFile(a.file(name)), DataFile(b.file(name))
        ma, mb = stable_metadata(fa.metadata), stable_metadata(fb.metadata)
        assert ma["lineage_hash"] == mb["lineage_hash"], name
        differ = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
        assert not differ, f"{name}: metadata differ in {differ}"
        for i in range(len(fa.chunks)):
            ra, rb = fa.read_chunk(i), fb.read_chunk(i)
            assert ra.dtype == rb.dtype and ra.tobytes() == rb.tobytes(), f"{name}: chunk {i}"


@pytest.mark.e2e
@pytest.mark.slurm
def test_slurm_build_equals_local_build(slurm, tmp_path):
    local, cluster = Workflow(tmp_path / "local"), Workflow(tmp_path / "slurm")
    for flow in (local, cluster):
        flow.root.mkdir()
        flow.write(RUNS, SUPERRUNS)
    local.snakemake(*TARGETS)

    code, output = snakemake_on_slurm(cluster, *TARGETS)
    assert code == 0, output[-8000:]
    # The runs' jobs went as one SLURM job (the group), each superrun job as its own, each
    # asking for 1 CPU and the profile's memory (the group: one job's, as its jobs run in turn).
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    assert len(submitted) == 3, output[-8000:]
    asked = subprocess.run(["squeue", "--states=all", "-h", "-o", "%i %C %m", "-j", ",".join(submitted)],
                           capture_output=True, text=True, timeout=30).stdout.split("\n")
    assert sorted(line.split()[1:] for line in asked if line) == [["1", "2000M"]] * 3

    names = data_files(local)
    assert len(names) == 3 * FILES_PER_RUN + 2
    assert data_files(cluster) == names
    assert_same_data(local, cluster, names)


@pytest.mark.e2e
@pytest.mark.slurm
def test_slurm_campaign_runs_on_both_nodes_and_equals_a_local_build(slurm, tmp_path):
    """5 runs in batches of 2 (group-components runs=2 on the command line): 3 SLURM jobs for
    the runs' 5 jobs, 1 for the superrun. The 3 run jobs (1 CPU each) are queued at once on 2
    nodes of 2 CPUs: both nodes run some, which the nodes' own hostnames in the files'
    provenance show; every file equals a local build's."""
    runs = {f"{i:06d}": run_entry(30 * i, 5) for i in range(5)}
    local, cluster = Workflow(tmp_path / "local"), Workflow(tmp_path / "slurm")
    for flow in (local, cluster):
        flow.root.mkdir()
        flow.write(runs, {"_five": {"runs": list(runs)}})
    local.snakemake("_five/peak_basics")
    code, output = snakemake_on_slurm(cluster, "_five/peak_basics", "--group-components", "runs=2")
    assert code == 0, output[-8000:]
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    assert len(submitted) == 3 + 1, output[-8000:]
    nodes = subprocess.run(["squeue", "--states=all", "-h", "-o", "%N", "-j", ",".join(submitted)],
                           capture_output=True, text=True, timeout=30).stdout.split()
    assert set(nodes) == {"sr-node1", "sr-node2"}, nodes
    from superruns.storage import read_metadata

    hosts = {read_metadata(cluster.file(run, "peak_basics"))["provenance"]["host"] for run in runs}
    assert hosts == {"sr-node1", "sr-node2"}, hosts
    names = [f"{run}/{f.name}" for run in [*runs, "_five"] for f in sorted((local.data / run).iterdir())]
    assert len(names) == 5 * FILES_PER_RUN + 1
    assert_same_data(local, cluster, names)


def flip_bit_in_first_frame(path: Path) -> None:
    """Flip one bit in the middle of the file's first compressed frame (CRC32 then fails)."""
    from superruns.storage import DataFile

    data = bytes(DataFile(path).frames(0)[0].data)
    raw = bytearray(path.read_bytes())
    at = raw.find(data)
    assert at > 0 and raw.find(data, at + 1) == -1
    raw[at + len(data) // 2] ^= 0x10
    path.write_bytes(bytes(raw))


@pytest.mark.e2e
@pytest.mark.slurm
def test_failing_job_on_slurm_is_reported_with_its_logs(slurm, workflow):
    # One job per data type, so that peak_basics is made from the damaged peaks (the run's one
    # job would make peaks again).
    workflow.write({"000001": run_entry(0, 10)}, {"_one": {"runs": ["000001"]}}, job_layout="per_data_type")
    workflow.snakemake("000001/peaks")
    flip_bit_in_first_frame(workflow.file("000001", "peaks"))

    # --retries 0: the profile's one retry would only fail again, 20 s later.
    code, output = snakemake_on_slurm(workflow, "--retries", "0", "000001/peak_basics")
    assert code != 0
    assert not (workflow.file("000001", "peak_basics")).exists()
    # Snakemake names the rule's log and SLURM's log of the job, which is kept (the logs of
    # successful jobs are deleted), and prints it (show-failed-logs): the job's error is there.
    log_name = f"{workflow.file('000001', 'peak_basics').name}.log"   # peak_basics-{lineage}.log
    assert f"logs/process/000001/{log_name}" in output
    rule_log = workflow.data / "logs" / "process" / "000001" / log_name
    assert "DataCorrupted" in rule_log.read_text() and "CRC32" in rule_log.read_text()
    assert "DataCorrupted" in output and "CRC32" in output
    slurm_logs = [Path(p) for p in re.findall(r"SLURM jobid \d+ \(log: (\S+)\)", output)]
    assert len(slurm_logs) == 1, output[-8000:]
    for path in slurm_logs:
        assert path.is_file() and str(path).startswith(str(workflow.root / ".snakemake" / "slurm_logs"))
        assert "CRC32" in path.read_text()
    assert "Error in group runs" in output and f"{slurm_logs[0]} (check log file(s)" in output
