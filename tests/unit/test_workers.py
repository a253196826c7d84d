"""Jobs in worker processes (superruns.orchestration.workers), without Snakemake: a job handed
over from a thread runs in another process, two at once, in workers kept for the next jobs;
whatever a job does to its worker -- an error, sys.exit, KeyboardInterrupt, os._exit, a kill
-- fails that job with one line and never the caller, and the next job finds a worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from superruns.base.errors import SuperrunsError
from superruns.orchestration import jobs


class BadInput(SuperrunsError, ValueError):
    pass


def project(mode="workers"):
    return SimpleNamespace(config={"job_processes": mode})


def smk(tmp_path, **wildcards):
    return dict(input=[], output=[str(tmp_path / "out")], params={}, log=[str(tmp_path / "job.log")],
                wildcards=SimpleNamespace(**wildcards), rule="process")


def in_a_thread(function, *args):
    """What a Snakemake job thread does: call ``function`` from a thread other than the main one."""
    result = {}

    def target():
        try:
            result["value"] = function(*args)
        except BaseException as error:      # noqa: BLE001 -- the test looks at it
            result["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "the job never returned"
    if "error" in result:
        raise result["error"]
    return result.get("value")


# Job functions: module level, so that a worker can be sent them by name.

def write_pid(smk):
    Path(smk.output[0]).write_text(str(os.getpid()))


def meet(smk):
    """Say it is here, then wait for the other job: only two jobs at once get past it."""
    me, other = Path(smk.output[0]), Path(smk.wildcards.other)
    me.write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while not other.exists():
        assert time.monotonic() < deadline, "the other job never ran beside this one"
        time.sleep(0.01)


def exits(smk):
    raise SystemExit(3)


def interrupted(smk):
    raise KeyboardInterrupt


def dies(smk):
    os._exit(7)


def killed(smk):
    os.kill(os.getpid(), signal.SIGKILL)


def expected_error(smk):
    jobs.run_job(smk, lambda job: (_ for _ in ()).throw(BadInput("data/8/peaks: damaged; rebuild it")))


def bug(smk):
    raise ValueError("a bug")


def test_a_job_runs_in_a_worker_kept_for_the_next_jobs(tmp_path):
    proj = project()

    def three_jobs():
        pids = []
        for i in range(3):
            job = smk(tmp_path / str(i))
            (tmp_path / str(i)).mkdir()
            jobs.in_snakemake(write_pid, proj, **job)
            pids.append(int(Path(job["output"][0]).read_text()))
        return pids

    pids = in_a_thread(three_jobs)
    assert os.getpid() not in pids
    assert len(set(pids)) == 1                # one worker served them all, one after the other


def test_two_jobs_run_at_once_in_two_workers(tmp_path):
    proj = project()
    a, b = tmp_path / "a", tmp_path / "b"
    threads = [threading.Thread(target=jobs.in_snakemake,
                                args=(meet, proj), kwargs=dict(smk(tmp_path), output=[str(me)],
                                                                wildcards=SimpleNamespace(other=str(other))))
               for me, other in ((a, b), (b, a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert a.exists() and b.exists()
    assert len({a.read_text(), b.read_text(), str(os.getpid())}) == 3


@pytest.mark.parametrize("job_function, line", [
    (exits, "the job raised SystemExit (SystemExit(3)), which no job may raise"),
    (interrupted, "the job raised KeyboardInterrupt (KeyboardInterrupt()), which no job may raise"),
    (dies, "exited with status 7 before the job ended"),
    (killed, "was killed by signal SIGKILL before the job ended"),
    (expected_error, "BadInput: data/8/peaks: damaged; rebuild it"),
])
def test_whatever_a_job_does_to_its_worker_fails_that_job_with_one_line(tmp_path, job_function, line):
    proj = project()

    def failing_then_good():
        with pytest.raises(jobs.JobFailed) as failed:
            jobs.in_snakemake(job_function, proj, **smk(tmp_path))
        jobs.in_snakemake(write_pid, proj, **smk(tmp_path))        # the next job finds a worker
        return str(failed.value)

    message = in_a_thread(failing_then_good)
    assert line in message and "\n" not in message
    assert int((tmp_path / "out").read_text()) != os.getpid()
    if job_function in (dies, killed):
        assert line in (tmp_path / "job.log").read_text()         # the job's log says it too


def test_a_bug_keeps_its_traceback(tmp_path):
    with pytest.raises(jobs.JobError, match=r"(?s)Traceback.*ValueError: a bug"):
        in_a_thread(lambda: jobs.in_snakemake(bug, project(), **smk(tmp_path)))


@pytest.mark.parametrize("mode, same_process", [("threads", True), ("fork", False)])
def test_the_other_places_a_job_may_run(tmp_path, mode, same_process):
    proj = project(mode)

    def two_jobs():
        pids = []
        for i in range(2):
            jobs.in_snakemake(write_pid, proj, **smk(tmp_path))
            pids.append(int((tmp_path / "out").read_text()))
        return pids

    pids = in_a_thread(two_jobs)
    if same_process:
        assert pids == [os.getpid()] * 2
    else:
        assert os.getpid() not in pids and pids[0] != pids[1]     # a fresh process per job


def test_a_script_job_in_its_own_process_runs_in_place(tmp_path):
    """Not in a thread (a script job, a cluster job): the job runs where it is called."""
    jobs.in_snakemake(write_pid, project(), **smk(tmp_path))
    assert int((tmp_path / "out").read_text()) == os.getpid()
