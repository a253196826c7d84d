"""End to end: jobs in worker processes (superruns.orchestration.workers), real snakemake.

A job whose process dies -- ``os._exit`` or SIGKILL in a plugin -- would end Snakemake itself
in one of its threads. In a worker it fails its job with one line saying how the worker
ended, Snakemake goes on with the other jobs (``--keep-going``) and ends with exit status 1
in seconds, and the next run builds in a new worker. The jobs run in processes other than
Snakemake's, at most ``--cores`` of them, kept from job to job."""

from __future__ import annotations

import os
import subprocess

import pytest

import superruns
from superruns.storage import DataFile

from support.workflows import REPO, SNAKEMAKE, TEST_OPTIONS, Workflow, run_entry

pytestmark = pytest.mark.e2e

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH")])))
RUNS = {str(i): run_entry(30 * i, 10) for i in range(6, 12)}


def snakemake(flow, *args, timeout=300) -> subprocess.CompletedProcess:
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--cores", "2", *args]
    return subprocess.run(command, cwd=flow.root, capture_output=True, text=True, timeout=timeout, env=ENV)


@pytest.mark.parametrize("how, line", [("exit", "exited with status 5"), ("kill", "was killed by signal SIGKILL")])
def test_a_job_whose_worker_dies_fails_alone(tmp_path, how, line):
    flow = Workflow(tmp_path)
    flow.write(RUNS, {}, {"crash_how": how}, plugins=["superruns.detector", "support.dying_plugins"])
    result = snakemake(flow, "--keep-going", *(f"{run}/crash" for run in RUNS))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    failed = [text for text in output.splitlines() if line in text]
    assert failed and all("before the job ended" in text for text in failed), output
    project = flow.project()
    assert not flow.file("8", "crash").exists()
    assert all(superruns.is_stored(run, "crash", project=project) for run in RUNS if run != "8")


def test_jobs_run_in_workers_kept_from_job_to_job(tmp_path):
    flow = Workflow(tmp_path)
    flow.write(RUNS, {"_all": {"runs": list(RUNS)}}, TEST_OPTIONS)
    process = subprocess.Popen([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--cores", "2", "_all/event_info"],
                               cwd=flow.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output
    pids = {DataFile(path).metadata["provenance"]["pid"] for path in flow.data.glob("*/event_info-*")}
    assert len(pids) <= 2 and process.pid not in pids             # 6 runs' jobs, at most --cores workers
