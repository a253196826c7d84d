"""The one job wrapper (superruns.orchestration.jobs.run_job) and the error policy it shares with the CLI.

An expected error (a SuperrunsError, or an OSError, which names its file) is reported as one
clear line and exit status 1; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from superruns.base.errors import SuperrunsError
from superruns.cli import commands as cli, listing
from superruns.orchestration import jobs


class BadInput(SuperrunsError, ValueError):
    pass


def fake_smk(tmp_path, **extra):
    return SimpleNamespace(log=[str(tmp_path / "logs" / "job.log")], config={}, input=[], output=[],
                           wildcards=SimpleNamespace(), rule="some_rule", **extra)


def raising(error):
    def work(job):
        raise error
    return work


@pytest.mark.parametrize("error, line", [
    (BadInput("data/000001/peaks: damaged; rebuild it"), "BadInput: data/000001/peaks: damaged; rebuild it"),
    (FileNotFoundError(2, "No such file or directory", "data/000001/peaks"),
     "FileNotFoundError: data/000001/peaks: No such file or directory"),
    (OSError(28, "No space left on device", "data/000001/.peaks.tmp-1-ab"),
     "OSError: data/000001/.peaks.tmp-1-ab: no space left on the device: free some space"),
    (PermissionError(13, "Permission denied", "data/000001"),
     "PermissionError: data/000001: permission denied: give your user access to it"),
    (OSError(30, "Read-only file system", "data"),
     "OSError: data: the file system is read-only: set data_dir to a writable directory"),
])
def test_an_expected_error_is_one_line_and_exit_1(tmp_path, capsys, error, line):
    smk = fake_smk(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        jobs.run_job(smk, raising(error))
    assert exit_info.value.code == 1
    logged = (tmp_path / "logs" / "job.log").read_text()
    assert line in logged and "Traceback" not in logged and "[Errno" not in logged
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("error", [ValueError("a bug"), KeyError("a bug"), RuntimeError("a bug"),
                                   TypeError("a bug")])
def test_any_other_error_keeps_its_traceback(tmp_path, error):
    with pytest.raises(type(error)) as raised:
        jobs.run_job(fake_smk(tmp_path), raising(error))
    assert raised.value is error        # not swallowed, not turned into SystemExit


def test_a_job_gets_its_log_timing_and_project(tmp_path, monkeypatch):
    seen = {}
    class Checked(tuple):
        def check_parsed(self):          # a script job compares the files with what was parsed
            seen["checked"] = True

    monkeypatch.setattr(jobs, "Project", lambda config: Checked(("project of", config)))
    smk = fake_smk(tmp_path, params=None)
    smk.config = {"k": 1}
    smk.output = [str(tmp_path / "out")]
    jobs.run_job(smk, lambda job: seen.update(project=job.project, output=job.output, rule=job.rule))
    assert seen == {"project": ("project of", {"k": 1}), "output": tmp_path / "out", "rule": "some_rule",
                    "checked": True}
    assert "done in" in (tmp_path / "logs" / "job.log").read_text()


def test_every_job_goes_through_run_job(monkeypatch):
    """Every job function a rule or script calls is an entry point, and each entry point hands
    its own work to run_job (the log, timing and error policy)."""
    import re

    from support.workflows import REPO

    sources = [*REPO.glob("rules/*.smk"), *REPO.glob("scripts/*.py")]
    called = {name for path in sources for name in re.findall(r"\b(\w+_job)\b", path.read_text())}
    called -= {"produce_job"}            # the strax bridge's own, through run_job too (straxio.producer)
    assert called and called <= set(jobs.ENTRY_POINTS), called - set(jobs.ENTRY_POINTS)
    calls = []
    monkeypatch.setattr(jobs, "run_job", lambda smk, work: calls.append(work.__name__))
    for name, job in jobs.ENTRY_POINTS.items():
        job(object())
        assert getattr(jobs, name) is job and job.__name__ == name and job.__doc__
    assert calls == ["_process", "_chain", "_build_superrun", "_superrun_level", "_summarise", "_draw", "_select"]
    assert len(set(calls)) == len(jobs.ENTRY_POINTS)


def test_cli_expected_error_is_one_line(monkeypatch, capsys):
    monkeypatch.setattr(listing, "list_rows", lambda project: (_ for _ in ()).throw(BadInput("config.yaml: bad; fix it")))
    monkeypatch.setattr(listing, "project_of", lambda args: None)
    assert cli.main(["list"]) == 1
    assert capsys.readouterr().err == "superruns list: config.yaml: bad; fix it\n"


def test_cli_bug_keeps_its_traceback(monkeypatch):
    monkeypatch.setattr(listing, "list_rows", lambda project: {}["no such key"])
    monkeypatch.setattr(listing, "project_of", lambda args: None)
    with pytest.raises(KeyError):
        cli.main(["list"])
