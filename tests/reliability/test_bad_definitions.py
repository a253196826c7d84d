"""Issue 12, classes 3 and 6-9, table-driven with real snakemake: YAML that would cost without
bound, events files taken wrongly, names that would fail later, nesting too deep, definitions
that would be skipped. Every case stops snakemake before any job with exit status 1 and a
message naming the file (and the superrun or entry), writes nothing under data/ and changes
no file of the workflow.

Cases run through ``snakemake_forks.py`` like ``test_bad_input.py`` (two at a time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

from superruns.base.errors import MAX_MESSAGE_CHARS
from superruns.base.names import MAX_NAME_LENGTH
from superruns.definitions.records import MAX_NESTING_DEPTH

from support.reliability import OPTIONS, RUNS, Workflow, files_under, snakemake_many, t

pytestmark = pytest.mark.e2e

SUPERRUNS = {"_a": {"runs": ["8", "9"]}}


@dataclass
class Case:
    id: str
    files: dict                  # relative path -> YAML-able object, str, bytes, array, or a symlink
    names: tuple                 # what the message must show: the file first
    target: str = "8/raw_records"
    superruns: dict = field(default_factory=lambda: dict(SUPERRUNS))
    config: dict = field(default_factory=dict)


def sr(id, doc, *names, **kw):
    return Case(id, {"config/superruns.yaml": doc}, ("superruns.yaml", *names), **kw)


def ev(id, content, *names, path="selections/ev.npy"):
    return Case(id, {"config/superruns.yaml": dict(SUPERRUNS, _ev={"events": path}), path: content},
                ("superruns.yaml", "'_ev'", *names), target="_ev/raw_records")


def records(**columns) -> np.ndarray:
    out = np.zeros(len(next(iter(columns.values()))),
                   dtype=[(k, np.asarray(v).dtype) for k, v in columns.items()])
    for k, v in columns.items():
        out[k] = v
    return out


def alias_bomb(levels: int = 10, width: int = 10) -> str:
    lines = ["x0: &a0 [" + ", ".join(["8"] * width) + "]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\n_a: {{runs: *a{levels - 1}}}\n"


def chain(depth: int) -> dict:
    """``_n1`` holds run 8, ``_n{k}`` holds ``_n{k-1}``: superruns ``depth`` levels deep."""
    return {"_n1": {"runs": ["8"]}, **{f"_n{k}": {"runs": [f"_n{k - 1}"]} for k in range(2, depth + 1)}}


LONG = "_" + "x" * 299
F = {"time": [t(1)], "run_id": ["8"]}

CASES = [
    # 3. YAML that costs without bound, and long messages
    Case("yaml-alias-bomb-in-definitions", {"config/superruns.yaml": alias_bomb()},
         ("superruns.yaml", "aliases repeat more than", "line")),
    Case("yaml-alias-bomb-in-runs", {"config/runs.yaml": alias_bomb().replace("_a: {runs: *a9}", "runs: *a9")},
         ("runs.yaml", "aliases repeat more than")),
    Case("yaml-recursive-alias", {"config/superruns.yaml": "_a: &x {runs: [8, *x]}\n"},
         ("superruns.yaml", "inside its own anchor")),
    Case("yaml-alias-bomb-with-a-tag", {"config/superruns.yaml": "t: !!str x\n" + alias_bomb()},
         ("superruns.yaml", "aliases repeat more than")),
    sr("long-list-in-message", {"_a": {"runs": ["8"], "description": list(range(100_000))}},
       "'_a'", "description", "..."),
    Case("config-duplicate-key", {"config/config.yaml": "data_dir: data\ndata_dir: other\n"},
         ("config.yaml", "'data_dir'", "twice")),
    # 6. events files validated as a whole
    ev("events-float-length", records(**F, length=[1.5], dt=[1e9]), "row 0", "'length'", "1.5",
       "not a whole number"),
    ev("events-nan-length", records(**F, length=[np.nan], dt=[1]), "row 0", "'length'", "NaN"),
    ev("events-infinite-endtime", records(**F, endtime=[np.inf]), "row 0", "'endtime'", "infinite"),
    ev("events-2d-array", np.zeros((2, 2), dtype=[("time", "i8"), ("endtime", "i8")]),
       "2-dimensional"),
    ev("events-0d-array", np.zeros((), dtype=[("time", "i8"), ("endtime", "i8")]), "0-dimensional"),
    ev("events-subarray-column", np.zeros(2, dtype=[("time", "i8", (2,)), ("endtime", "i8")]),
       "'time'", "(2,)-shaped"),
    ev("events-plain-array", np.zeros(3), "plain float64 array"),
    ev("events-not-npy", b"time,endtime\n1,2\n", "not a .npy file"),
    ev("events-run-id-not-ascii", records(time=[t(1)], endtime=[t(2)], run_id=[b"\xff8"]),
       "row 0", "'run_id'", "not ASCII"),
    ev("events-negative-dt", records(**F, length=[3], dt=[-1]), "row 0", "'dt'", "not > 0"),
    ev("events-overflow", records(**F, length=[2**62], dt=[4]), "row 0", "past 2**63-1"),
    ev("events-csv-duplicate-column", "time,time,endtime,run_id\n1,2,3,8\n", "'time' twice",
       path="selections/ev.csv"),
    ev("events-csv-latin1", "time,endtime,run_id\n1,2,é\n".encode("latin-1"), "not UTF-8",
       path="selections/ev.csv"),
    ev("events-csv-nan", f"time,endtime,run_id\n{t(1)},nan,8\n", "row 1", "'endtime'", "NaN",
       path="selections/ev.csv"),
    # 7. names checked at parse time
    sr("superrun-name-300-chars", {LONG: {"runs": ["8"]}}, "300 characters", f"limit is {MAX_NAME_LENGTH}"),
    sr("superrun-names-differ-in-case", {"_a": {"runs": ["8"]}, "_A": {"runs": ["9"]}},
       "'_A'", "'_a'", "only in case"),
    Case("run-id-logs", {"config/runs.yaml": {"runs": {**RUNS, "logs": {"start": t(40), "end": t(45)}}}},
         ("runs.yaml", "'logs'", "own folders")),
    Case("run-id-summary-any-case", {"config/runs.yaml": {"runs": {**RUNS, "Summary": {"start": t(40),
                                                                                      "end": t(45)}}}},
         ("runs.yaml", "'Summary'", "own folders")),
    Case("run-ids-differ-in-case", {"config/runs.yaml": {"runs": {**RUNS, "r1": {"start": t(40), "end": t(45)},
                                                                 "R1": {"start": t(50), "end": t(55)}}}},
         ("runs.yaml", "'r1'", "'R1'", "only in case")),
    Case("run-id-too-long", {"config/runs.yaml": {"runs": {**RUNS, "r" * 101: {"start": t(40), "end": t(45)}}}},
         ("runs.yaml", "101 characters", f"limit is {MAX_NAME_LENGTH}")),
    # 8. nesting deeper than the limit
    sr("nesting-too-deep", chain(MAX_NESTING_DEPTH + 1), f"'_n{MAX_NESTING_DEPTH + 1}'",
       f"the limit is {MAX_NESTING_DEPTH}"),
    # 9. definitions never skipped silently
    Case("definitions-dangling-symlink", {"config/superruns.d/_x.yaml": ("symlink", "nowhere.yaml")},
         ("_x.yaml", "dangling symbolic link")),
    Case("definitions-other-file", {"config/superruns.d/_x.yaml.bak": {"_x": {"runs": ["8"]}}},
         ("_x.yaml.bak", "not a definition file")),
    Case("definitions-path-misspelt", {}, ("superuns.d", "does not exist"),
         config={"superruns": ["config/superruns.yaml", "config/superuns.d"]}),
    Case("definitions-subdirectory", {"config/superruns.d/sub.yaml/x": "x"},
         ("sub.yaml", "subdirectories are not read")),
]


def write_case(root: Path, case: Case) -> Workflow:
    flow = Workflow(root)
    flow.write(RUNS, case.superruns, OPTIONS)
    if case.config:
        config = root / "config" / "config.yaml"
        config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), **case.config}))
    for relative, content in case.files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            path.symlink_to(content[1])
        elif isinstance(content, np.ndarray):
            with open(path, "wb") as stream:  # np.save would append .npy to other names
                np.save(stream, content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(yaml.safe_dump(content))
    return flow


def snapshot(root: Path) -> dict:
    """Every file (and link) of the workflow, with its bytes; directories aside."""
    return {p: (p.read_bytes() if p.is_file() else str(p.readlink())) for p in sorted(root.rglob("*"))
            if ".snakemake" not in p.parts and (p.is_file() or p.is_symlink())}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    base = tmp_path_factory.mktemp("bad_definitions")
    flows = [write_case(base / case.id, case) for case in CASES]
    before = [snapshot(flow.root) for flow in flows]
    good = write_case(base / "deepest", Case("deepest", {}, (), superruns=chain(MAX_NESTING_DEPTH)))
    commands = [(flow.root, [case.target]) for flow, case in zip(flows, CASES)]
    commands.append((good.root, ["-n", f"_n{MAX_NESTING_DEPTH}/raw_records"]))
    started = time.monotonic()
    out = snakemake_many(commands, base)
    elapsed = time.monotonic() - started
    named = {case.id: (flow, result, snap) for case, flow, result, snap
             in zip(CASES, flows, out, before)}
    named["deepest"] = (good, out[-1], None)
    named["_elapsed"] = elapsed
    return named


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_definitions_stop_snakemake_with_a_clear_message(results, case):
    flow, (code, output), before = results[case.id]
    assert code == 1, output
    for name in case.names:
        assert name in output, f"{name!r} not in:\n{output}"
    for raw in ("RecursionError", "AttributeError", "TypeError", "KeyError", "File name too long"):
        assert raw not in output, output  # (Snakemake itself prints a "Traceback:" section)
    assert "rule run_chain" not in output and "rule process" not in output and "Finished job" not in output, output
    assert files_under(flow.data) == [], files_under(flow.data)
    assert snapshot(flow.root) == before  # nothing appeared or changed (but .snakemake)
    longest = max(len(line) for line in output.splitlines())
    assert longest < MAX_MESSAGE_CHARS + 500, longest


def test_deepest_nesting_allowed_is_planned(results):
    """The limit is one Snakemake can plan: a chain of MAX_NESTING_DEPTH superruns dry-runs."""
    flow, (code, output), _ = results["deepest"]
    assert code == 0, output[-3000:]
    assert "superrun" in output


def test_the_alias_bombs_cost_nothing(results):
    """All cases (two at a time) together take seconds, not the 30-40 s of one alias bomb."""
    assert results["_elapsed"] < 120
