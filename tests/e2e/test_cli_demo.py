"""Every command of ``superruns`` run on the demo (after ``make demo``), through the installed
console script: every time it prints is ISO-8601 UTC or a duration with its unit, its tables fit
100 columns, and a reader that closes the pipe (``superruns list | head -1``) gets no
traceback and exit status 0. A command without a case below fails the test: a new command
says how its output reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from superruns.cli.commands import parser

from support.workflows import copy_demo

pytestmark = pytest.mark.e2e

SUPERRUNS = str(Path(sys.executable).parent / "superruns")

#: Per command, the invocations run in order ({strax} is a folder of the test's own).
CASES = {
    "list": [["list"]],
    "show": [["show", "_sr1_v0.2"], ["show", "_sr1_clean"], ["show", "000003"]],
    "info": [["info", "data/_sr1_v0.2/event_info-*"]],
    "status": [["status"], ["status", "_sr1_v0.2", "-t", "event_info", "-t", "peaks"]],
    "verify": [["verify", "data"]],
    "lock": [["lock"]],
    "diff": [["diff"]],
    "clean": [["clean", "--keep-current", "--dry-run"]],
    "migrate": [["migrate", "--dry-run"]],
    "export": [["export", "000001", "peaks", "{strax}", "--compressor", "bz2"]],
    "import": [["import", "{strax}", "--runs", "900001=000001", "--data-types", "peaks"]],
    "runs": [["runs"]],
    "recover": [["recover", "_sr1_v0.2", "-t", "event_info", "--targets", "{init}.targets"]],
    "init": [["init", "{init}"]],
    # run hands its arguments to Snakemake, whose own log lines carry local times: its version
    # proves the hand-over without holding Snakemake's output to our habits
    "run": [["run", "--version"]],
}
TABLES = ("list", "info", "status")

RAW_NS = re.compile(r"(?<![\w.])\d{16,19}(?![\w.])")                   # ns since the epoch, bare
ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?")
UNITS = r"(?:s|ms|µs|ns|h|d|min|B|kB|MB|GB|TB|%|x|Hz)\b"
BARE_FLOAT = re.compile(rf"(?<![\w.\-/])\d+\.\d+(?![\w.])(?!\s?{UNITS})")


def time_problems(text: str) -> list[str]:
    """Times and durations in ``text`` that a reader would have to decode."""
    problems = [f"raw ns {m[0]}" for m in RAW_NS.finditer(text)]
    problems += [f"time without zone {m[0]}" for m in ISO.finditer(text)
                 if not text[m.end():].startswith(("Z", " UTC"))]
    problems += [f"number without unit {text[max(m.start() - 20, 0):m.end() + 5]!r}"
                 for m in BARE_FLOAT.finditer(text)]
    return problems


def test_the_checker_sees_raw_times_and_bare_durations():
    assert time_problems("start: 1546509600000000000") == ["raw ns 1546509600000000000"]
    assert time_problems("end: 2019-01-03T10:00:00") == ["time without zone 2019-01-03T10:00:00"]
    assert len(time_problems("livetime: 1670.0")) == 1
    assert time_problems("livetime 1670.0 s (27.8 min), at 2019-01-03T10:00:00Z; _sr1_v0.2, 0.1.0, 1.85 MB") == []


@pytest.fixture(scope="module")
def demo(built_demo, tmp_path_factory) -> Path:
    return copy_demo(built_demo, tmp_path_factory.mktemp("cli"))


def run(demo: Path, *args: str, shell: bool = False) -> subprocess.CompletedProcess:
    command = ["bash", "-o", "pipefail", "-c", args[0]] if shell else [SUPERRUNS, *args]
    return subprocess.run(command, cwd=demo, capture_output=True, text=True, timeout=300)


def test_every_command_has_a_case():
    commands = parser()._subparsers._group_actions[0].choices
    assert set(commands) == set(CASES), "add a case for each new command (and drop removed ones)"


@pytest.fixture(scope="module")
def outputs(demo) -> dict:
    strax = demo.parent / "strax_export"
    found = {}
    for command, invocations in CASES.items():
        for args in invocations:
            args = [a.replace("{strax}", str(strax)).replace("{init}", str(demo.parent / "init_here"))
                    for a in args]
            if any("*" in a for a in args):
                args = [str(next(demo.glob(a))) if "*" in a else a for a in args]
            result = run(demo, *args)
            assert result.returncode == 0, f"superruns {' '.join(args)}:\n{result.stderr[-2000:]}"
            found[" ".join(args)] = (command, result.stdout)
    return found


def test_every_time_printed_is_iso_utc_or_has_a_unit(outputs):
    problems = {line: time_problems(text) for line, (_, text) in outputs.items() if time_problems(text)}
    assert not problems, problems
    assert "span: 4597410.0 s (53.2 d)" in outputs["show _sr1_v0.2"][1]
    assert "start: 2019-01-10T14:00:00Z" in outputs["show 000003"][1]


def test_tables_fit_100_columns(outputs):
    for line, (command, text) in outputs.items():
        if command in TABLES:
            assert max(len(row) for row in text.splitlines()) <= 100, line


def test_a_closed_pipe_is_quiet(demo):
    for pipe in ("superruns list | head -1", "superruns list | true", "superruns show _sr1_v0.2 | head -c 10"):
        result = run(demo, pipe.replace("superruns", SUPERRUNS), shell=True)
        assert result.returncode == 0 and result.stderr == "", (pipe, result.stderr)
    assert run(demo, f"{SUPERRUNS} list | head -1", shell=True).stdout.split() == ["run", "start", "livetime", "built"]


def test_an_unknown_name_gets_a_suggestion(demo):
    result = run(demo, "show", "_sr1_v02")
    assert result.returncode == 1 and "Did you mean '_sr1_v0.2'?" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    result = run(demo, "lst")
    assert result.returncode == 2 and "Did you mean 'list'?" in result.stderr
