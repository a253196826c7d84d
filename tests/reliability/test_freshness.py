"""One notion of fresh (issue 22, class 2), table-driven, real snakemake.

A stored file is current when its lineage, its definition (superruns: ``sub_run_spec_hash``)
and the registry spans its rows were cut to match the configuration now
(:mod:`superruns.storage.freshness`). Each case edits one thing after a build -- a defect added
to a DQ file, a run taken out of a definition, a veto added, a run's ``end`` moved in the
registry -- and asserts that every reader agrees: ``load`` and ``iter_chunks`` refuse the old
file naming the command that rebuilds it (and read it on purpose with ``allow_stale``),
``is_stored`` says no, ``status`` and ``verify`` call it stale, and Snakemake's dry run plans
exactly the files that depend on the edit and nothing else; the run then makes every reader
agree the data are current again, with the rows the edit asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml

import superruns
from superruns.storage.freshness import StaleDataError, rebuild_command

from support.reliability import OPTIONS, RUNS, copy_workflow, snakemake_run, t
from support.workflows import RUN_CHAIN, Workflow, planned_outputs

pytestmark = pytest.mark.e2e

SUPERRUNS = {"_a": {"runs": ["8", "9"]}, "_b": {"runs": ["_a", "10"]},
             "_q": {"query": {"mode": "background", "dq": {"version": "v1", "require": ["tpc"]}}}}
DQ = {"subsystems": ["tpc"], "runs": {run: {"tpc": "good"} for run in RUNS}}
TARGETS = ["_a/peaks", "_b/peaks", "_q/peaks"]


def write_dq(flow: Workflow, dq: dict) -> None:
    (flow.root / "config" / "dq").mkdir(parents=True, exist_ok=True)
    (flow.root / "config" / "dq" / "v1.yaml").write_text(yaml.safe_dump(dq))


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory) -> Workflow:
    flow = Workflow(tmp_path_factory.mktemp("fresh"))
    flow.write(RUNS, SUPERRUNS, OPTIONS)
    write_dq(flow, DQ)
    snakemake_run(flow, *TARGETS)
    assert (flow.root / "config" / "superruns.lock.yaml").is_file()      # _q locked by the run
    return flow


# -- the edits ---------------------------------------------------------------------------------------


def add_dq_defect(flow):
    write_dq(flow, {**DQ, "defects": {"tpc": [[t(11), t(12)]]}})


def remove_a_run(flow):
    flow.write(RUNS, {**SUPERRUNS, "_a": {"runs": ["8"]}}, OPTIONS)


def add_a_veto(flow):
    flow.write(RUNS, {**SUPERRUNS, "_q": {**SUPERRUNS["_q"], "veto": {"8": [[t(1), t(2)]]}}}, OPTIONS)


def move_an_end(flow):
    runs = {**RUNS, "9": {**RUNS["9"], "end": RUNS["9"]["end"] - 2 * 10**9}}
    flow.write(runs, SUPERRUNS, OPTIONS)
    # the lock refuses a changed registry entry of a locked run until it is accepted
    assert snakemake_run(flow, "-n", "_q/peaks", check=False).returncode == 1
    assert superruns_cli(flow, "lock", "--update", "_q") == 0


def superruns_cli(flow, *args) -> int:
    import subprocess
    import sys

    command = [str(Path(sys.executable).parent / "superruns"), *args]
    return subprocess.run(command, cwd=flow.root, capture_output=True, text=True, timeout=300).returncode


@dataclass
class Case:
    id: str
    edit: Callable
    stale: tuple                 # (run or superrun, data type) now stale
    plan: set                    # what the dry run of TARGETS plans, exactly
    check: Callable | None = None


def no_rows_in_defect(flow):
    rows = superruns.load("_q", "peaks", project=flow.project())
    assert len(rows) and not np.any((rows["time"] >= t(11)) & (rows["time"] < t(12)))


def a_holds_only_8(flow):
    project = flow.project()
    assert np.array_equal(superruns.load("_a", "peaks", project=project), superruns.load("8", "peaks", project=project))


def no_rows_in_veto(flow):
    rows = superruns.load("_q", "peaks", project=flow.project())
    assert len(rows) and not np.any((rows["time"] >= t(1)) & (rows["time"] < t(2)))


def nine_ends_earlier(flow):
    project = flow.project()
    rows = superruns.load("9", "raw_records", project=project)
    assert rows["time"].max() < RUNS["9"]["end"] - 2 * 10**9
    assert superruns.run_metadata("_a", project=project)["end"] == RUNS["9"]["end"] - 2 * 10**9


CASES = [
    Case("dq-defect-added", add_dq_defect, (("_q", "peaks"),), {"data/_q/peaks"}, no_rows_in_defect),
    Case("run-removed-from-a-definition", remove_a_run, (("_a", "peaks"), ("_b", "peaks")),
         {"data/_a/peaks", "data/_b/peaks"}, a_holds_only_8),
    Case("veto-added", add_a_veto, (("_q", "peaks"),), {"data/_q/peaks"}, no_rows_in_veto),
    Case("run-end-moved", move_an_end,
         (("9", "raw_records"), ("9", "peaks"), ("_a", "peaks"), ("_b", "peaks"), ("_q", "peaks")),
         {f"data/9/{dt}" for dt in RUN_CHAIN} | {"data/_a/peaks", "data/_b/peaks", "data/_q/peaks"},
         nine_ends_earlier),
]


@pytest.fixture
def flow(fresh_build, tmp_path):
    return copy_workflow(fresh_build, tmp_path / "flow")


def assert_refused_everywhere(flow, run_id, data_type):
    project = flow.project()
    command = rebuild_command(run_id, data_type)
    for read in (superruns.load, superruns.iter_chunks):
        with pytest.raises(StaleDataError) as error:
            read(run_id, data_type, project=project)
        assert str(project.path(run_id, data_type)) in str(error.value) and command in str(error.value)
    assert not superruns.is_stored(run_id, data_type, project=project)
    assert superruns.is_stored(run_id, data_type, allow_stale=True, project=project)
    assert len(superruns.load(run_id, data_type, allow_stale=True, project=project)) > 0


def status_counts(project) -> dict:
    """``{(group, data_type): {done, stale, missing}}`` of ``superruns.status`` (its rows)."""
    rows = superruns.status(project=project, as_frame=False)
    return {(row["group"], row["data_type"]): row for row in rows}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_reader_and_snakemake_agree_on_what_is_stale(flow, case, monkeypatch):
    from superruns.cli import commands as cli

    case.edit(flow)
    for run_id, data_type in case.stale:
        assert_refused_everywhere(flow, run_id, data_type)
    counts = status_counts(flow.project())
    for run_id, data_type in case.stale:
        group = "superruns" if run_id.startswith("_") else "runs"
        assert counts[group, data_type]["stale"] == sum(
            (r.startswith("_"), dt) == (run_id.startswith("_"), data_type) for r, dt in case.stale), counts
    monkeypatch.chdir(flow.root)
    import io

    out = io.StringIO()
    assert cli.main(["verify", "data"], out=out) == 0, out.getvalue()
    for run_id, data_type in case.stale:
        assert f"data/{run_id}/{flow.file(run_id, data_type).name}: stale" in out.getvalue()
    assert planned_outputs(snakemake_run(flow, "-n", *TARGETS)) == case.plan
    snakemake_run(flow, *TARGETS)
    project = flow.project()
    for run_id, data_type in case.stale:
        assert superruns.is_stored(run_id, data_type, project=project)
    assert status_counts(project)["superruns", "peaks"]["stale"] == 0
    assert planned_outputs(snakemake_run(flow, "-n", *TARGETS)) == set()
    case.check(flow)


def test_nothing_is_stale_after_a_build(fresh_build):
    """The baseline the cases change: every reader calls the built files current."""
    project = fresh_build.project()
    for target in TARGETS:
        superruns.load(*target.split("/"), project=project)
    assert planned_outputs(snakemake_run(fresh_build, "-n", *TARGETS)) == set()


def test_a_script_job_refuses_files_changed_since_the_parse(flow):
    """A script job (a process of its own) reads the configuration again; the Snakefile hands it
    what it parsed, and an edit in between stops it before it writes anything."""
    from types import SimpleNamespace

    from superruns.orchestration import jobs
    from superruns.project import PARSED_KEY

    parsed = flow.project().inputs_fingerprint()
    remove_a_run(flow)
    project = flow.project()
    output = project.path("_a", "peak_basics")
    log = flow.data / "logs" / "test.log"
    smk = SimpleNamespace(config=dict(project.config, **{PARSED_KEY: parsed}), rule="superrun_level",
                          input={}, output=[str(output)], log=[str(log)], params={},
                          wildcards=SimpleNamespace(target="_a", data_type="peak_basics"))
    with pytest.raises(SystemExit) as exit:
        jobs.superrun_level_job(smk)
    assert exit.value.code == 1
    text = log.read_text()
    assert "changed since Snakemake parsed" in text and "superruns.yaml" in text and "run snakemake again" in text.lower()
    assert not output.exists()


def test_the_strax_frontend_serves_no_stale_file(tmp_path):
    """strax asks our frontend by lineage and definition; a run's moved end (in neither) makes
    the run's files and the superrun holding it stale, and the frontend serves neither."""
    strax = pytest.importorskip("strax")
    from superruns.build.concatenation import build_from_project
    from superruns.build.processing import process_run
    from superruns.detector.common import PMT_GAINS_PER_RUN
    from superruns.straxio.frontend import SuperrunsFrontend, plugin_stubs

    from support.reliability import run_entry

    gains = PMT_GAINS_PER_RUN[0][1]       # plain: strax cannot resolve per-run defaults of superruns
    flow, options = Workflow(tmp_path), {"chunk_duration_s": 1, "pmt_gains": gains, "sim_pmt_gains": gains}
    runs = {"1": run_entry(0, 3), "2": run_entry(10, 3)}
    flow.write(runs, {"_sr": {"runs": ["1", "2"]}}, options)
    project = flow.project()
    for run in runs:
        for data_type in ("raw_records", "peaks"):
            inputs = {d: project.path(run, d) for d in project.registry[data_type].depends_on}
            process_run(project, run, data_type, inputs, project.path(run, data_type))
    build_from_project(project, "_sr", "peaks", project.path("_sr", "peaks"))

    def served(project, run_id, data_type):
        context = strax.Context(storage=[SuperrunsFrontend(project)], register=plugin_stubs(project, ["peaks"]),
                                use_per_run_defaults=False)
        return context.is_stored(run_id, data_type)

    assert served(project, "_sr", "peaks") and served(project, "2", "peaks")
    flow.write({**runs, "2": {**runs["2"], "end": runs["2"]["end"] - 10**9}}, {"_sr": {"runs": ["1", "2"]}}, options)
    project = flow.project()
    assert not served(project, "_sr", "peaks") and not served(project, "2", "peaks")
    assert served(project, "1", "peaks")
