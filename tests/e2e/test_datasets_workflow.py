"""Datasets with real snakemake: a query superrun locked, the registry grown, the parse
stopped, ``superruns lock --update`` accepted and the superrun rebuilt; a DQ version edit
rebuilding exactly what uses it; livetime and rows equal to an independent computation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

import superruns
from superruns.base import kernels

from support.workflows import RUN_CHAIN, SECOND, T0, Workflow, planned_outputs, run_entry

CLI = Path(sys.executable).parent / "superruns"
RUNS = {"1": run_entry(0, 30, tags=["q"]), "2": run_entry(40, 30, tags=["q"]),
        "3": run_entry(80, 30, tags=["q"]), "4": run_entry(120, 30, tags=["other"])}
VETO = [T0 + 5 * SECOND, T0 + 12 * SECOND]          # inside run 1
DEFECT = [T0 + 50 * SECOND, T0 + 53 * SECOND]       # inside run 2
DQ = {"subsystems": ["tpc"], "runs": {"1": {"tpc": "good"}, "2": {"tpc": "good"},
                                      "3": {"tpc": "bad"}, "5": {"tpc": "good"}},
      "defects": {"tpc": [DEFECT]}}
SUPERRUNS = {
    "_q": {"query": {"tags": ["q"], "dq": {"version": "v1", "require": ["tpc"]}},
           "veto": {"1": [VETO]}},
    "_plain": {"runs": ["4"]},
    "_u": {"union": ["_q", "_plain"]},
    "_v2": {"query": {"tags": ["q"], "dq": {"version": "v2", "require": ["tpc"]}}},
}


def setup(root: Path) -> Workflow:
    flow = Workflow(root)
    flow.write(RUNS, SUPERRUNS)
    (root / "config" / "dq").mkdir()
    for version in ("v1", "v2"):
        (root / "config" / "dq" / f"{version}.yaml").write_text(yaml.safe_dump(DQ))
    return flow


def cli(flow: Workflow, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), "--config", str(flow.root / "config" / "config.yaml"), *args],
                          capture_output=True, text=True, cwd=flow.root, timeout=120)


def expected_spans(run_ids) -> dict[str, list[list[int]]]:
    """Independently: whole runs, minus the veto (run 1) and the DQ defect (run 2)."""
    out = {}
    for r in run_ids:
        s, e = RUNS[r]["start"], RUNS[r]["end"]
        cut = {"1": VETO, "2": DEFECT}.get(r)
        out[r] = [[s, cut[0]], [cut[1], e]] if cut else [[s, e]]
    return out


def rows_in(rows, spans):
    """The selection rule (contained), in plain numpy."""
    end = kernels.endtime(rows)
    keep = np.zeros(len(rows), bool)
    for s, e in spans:
        keep |= (rows["time"] >= s) & (rows["time"] < e) & (end <= e)
    return rows[keep]


def check_built(flow: Workflow, name: str, run_ids) -> None:
    project = flow.project()
    spans = expected_spans(run_ids)
    md = superruns.run_metadata(name, project=project)
    livetime_ns = sum(e - s for r in spans for s, e in spans[r])
    assert md["livetime"] == livetime_ns / 1e9
    assert md["exposure"]["per_subrun"]["1"]["vetoed"] == (VETO[1] - VETO[0]) / 1e9
    stored = superruns.load(name, "raw_records", project=project)
    expected = np.concatenate([rows_in(superruns.load(r, "raw_records", project=project), spans[r])
                               for r in run_ids])
    assert len(stored) > 0 and len(stored) < sum(
        len(superruns.load(r, "raw_records", project=project)) for r in run_ids)
    assert stored.tobytes() == expected.tobytes()


def test_query_locked_grown_registry_stops_update_rebuilds(tmp_path):
    flow = setup(tmp_path)
    result = flow.snakemake("_q/raw_records")
    assert "locked _q to 2 run(s)" in result.stderr
    lock = yaml.safe_load((tmp_path / "config" / "superruns.lock.yaml").read_text())
    assert lock["superruns"]["_q"]["runs"] == ["1", "2"]
    check_built(flow, "_q", ["1", "2"])
    from superruns.stored.report import render_html, summary

    page = render_html(summary(flow.file("_q", "raw_records")))
    assert "vetoed 10.0 s, of which DQ 3.0 s" in page and "vetoed [s]" in page   # 7 s veto + 3 s DQ defect

    # The registry grows: a new good run tagged q. The parse stops, naming it and the fix.
    runs = dict(RUNS, **{"5": run_entry(160, 30, tags=["q"])})
    (tmp_path / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}))
    stopped = flow.snakemake("-n", "_q/raw_records", check=False)
    assert stopped.returncode != 0
    text = stopped.stdout + stopped.stderr
    assert "runs added: 5; runs removed: none" in text
    assert "superruns lock --update _q" in text
    assert "Traceback" not in text
    diff = cli(flow, "diff", "_q")
    assert diff.returncode == 1 and "runs added: 5" in diff.stdout

    # Accept it; the superrun is rebuilt with run 5.
    update = cli(flow, "lock", "--update", "_q", "_v2")  # _v2 matches run 5 too
    assert update.returncode == 0, update.stderr
    assert "_q: updated: 3 run(s)" in update.stdout
    planned = planned_outputs(flow.snakemake("-n", "_q/raw_records"))
    assert planned == {"data/_q/raw_records"} | {f"data/5/{dt}" for dt in RUN_CHAIN}   # run 5's one job
    flow.snakemake("_q/raw_records")
    RUNS["5"] = runs["5"]
    try:
        check_built(flow, "_q", ["1", "2", "5"])
    finally:
        del RUNS["5"]
    assert cli(flow, "diff").returncode == 0


def test_dq_edit_rebuilds_exactly_what_uses_it(tmp_path):
    flow = setup(tmp_path)
    targets = ["_q/raw_records", "_u/raw_records", "_v2/raw_records", "_plain/raw_records"]
    flow.snakemake(*targets)
    quiet = flow.snakemake("-n", *targets)
    assert "Nothing to be done" in quiet.stdout + quiet.stderr
    edited = dict(DQ, defects={"tpc": [[DEFECT[0], DEFECT[1] + SECOND]]})
    (tmp_path / "config" / "dq" / "v1.yaml").write_text(yaml.safe_dump(edited))
    planned = planned_outputs(flow.snakemake("-n", *targets))
    assert planned == {"data/_q/raw_records", "data/_u/raw_records"}


def test_union_holds_its_operands_rows(tmp_path):
    flow = setup(tmp_path)
    flow.snakemake("_u/raw_records")
    project = flow.project()
    stored = superruns.load("_u", "raw_records", project=project)
    spans = dict(expected_spans(["1", "2"]), **{"4": [[RUNS["4"]["start"], RUNS["4"]["end"]]]})
    expected = np.concatenate([rows_in(superruns.load(r, "raw_records", project=project), spans[r])
                               for r in ("1", "2", "4")])
    assert stored.tobytes() == expected.tobytes()
    md = superruns.run_metadata("_u", project=project)
    assert md["sub_run_spec"]["4"] == "all"
    assert md["livetime"] == sum(e - s for r in spans for s, e in spans[r]) / 1e9
    show = cli(flow, "show", "_u")
    assert show.returncode == 0 and "exposure:" in show.stdout and "vetoed: " in show.stdout
