"""End to end: real snakemake runs in a temporary directory, then load what they built."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import superruns
from superruns.storage import DataFile

from support.workflows import RUN_CHAIN, planned_outputs, run_entry

pytestmark = pytest.mark.e2e

# Ids whose string order ("10" < "8" < "9") differs from their time order (8, 9, 10, 11).
RUNS = {
    "8": run_entry(0, 30),
    "9": run_entry(40, 30),
    "10": run_entry(80, 30),
    "11": run_entry(120, 30),
}
SUPERRUNS = {
    "_inner": {"runs": ["10", "9"]},
    "_middle": {"runs": ["_inner", "8"]},          # three levels: _top > _middle > _inner
    "_top": {"runs": ["11", "_middle"]},
    "_other": {"runs": ["8", "11"]},
}
TIME_ORDER = ["8", "9", "10", "11"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One workflow, built once for the tests that only read it."""
    from support.workflows import Workflow

    flow = Workflow(tmp_path_factory.mktemp("flow"))
    flow.write(RUNS, SUPERRUNS)
    flow.snakemake("_top/event_info", "_top/peaks", "_top/raw_records", "_top/event_basics",
                   "_top/event_positions", "_other/event_info")
    return flow


def concatenated_leaves(flow, data_type, runs=TIME_ORDER):
    project = flow.project()
    return np.concatenate([superruns.load(run, data_type, project=project) for run in runs])


@pytest.mark.parametrize("data_type", ["event_info", "peaks", "raw_records"])
def test_nested_superrun_is_its_leaf_runs_in_time_order(built, data_type):
    project = built.project()
    stored = superruns.load("_top", data_type, project=project)
    expected = concatenated_leaves(built, data_type)
    assert len(stored) > 0
    assert stored.dtype == expected.dtype
    assert stored.tobytes() == expected.tobytes()
    assert np.all(np.diff(stored["time"]) >= 0)


def test_superrun_metadata_says_what_it_holds(built):
    project = built.project()
    data = DataFile(built.file("_top", "event_info"))
    md = data.metadata
    assert md["run_id"] == "_top"
    assert md["lineage_hash"] == project.lineage_hash("_top", "event_info")
    assert list(md["sub_run_spec_flat"]) == TIME_ORDER
    assert md["sub_run_spec"] == {"_middle": "all", "11": "all"}
    assert set(md["input_lineage_hashes"]) == {"_middle", "11"}
    # pmt_gains is a per-run-default option: the superrun's lineage names its spec's hash.
    assert md["lineage"]["peaks"][2]["pmt_gains"].startswith("<SUBRUN-DEPENDENT:")
    assert "pmt_gains" in md["per_run_defaults"]
    held = {}
    for chunk in data.chunks:
        for run, span in chunk.subruns.items():
            held.setdefault(run, []).append((span["start"], span["end"]))
    assert list(held) == TIME_ORDER
    for run in TIME_ORDER:
        leaf = DataFile(built.file(run, "event_info"))
        assert min(s for s, _ in held[run]) == leaf.metadata["start"]
        assert max(e for _, e in held[run]) == leaf.metadata["end"]
    run_md = md["run_metadata"]
    assert run_md["livetime"] == pytest.approx(4 * 30.0)
    assert run_md["start"] == RUNS["8"]["start"] and run_md["end"] == RUNS["11"]["end"]


def test_kind_merge_loads_one_array(built):
    project = built.project()
    merged = superruns.load("_top", ["event_basics", "event_positions"], project=project)
    basics = superruns.load("_top", "event_basics", project=project)
    positions = superruns.load("_top", "event_positions", project=project)
    assert set(basics.dtype.names) | set(positions.dtype.names) == set(merged.dtype.names)
    for name in positions.dtype.names:
        assert merged[name].tobytes() == positions[name].tobytes()
    for name in basics.dtype.names:
        assert merged[name].tobytes() == basics[name].tobytes()
    with pytest.raises(ValueError, match="different data kinds"):
        superruns.load("_top", ["event_info", "peaks"], project=project)


def test_same_kind_shares_chunk_boundaries(built):
    tables = [[(c.start, c.end, c.n) for c in DataFile(built.file("_top", dt)).chunks]
              for dt in ("event_basics", "event_positions", "event_info")]
    assert tables[0] == tables[1] == tables[2]
    run_tables = [[(c.start, c.end) for c in DataFile(built.file("8", dt)).chunks]
                  for dt in ("raw_records", "peaks", "event_info")]
    assert run_tables[0] == run_tables[1] == run_tables[2]


def test_single_run_file_has_its_lineage(built):
    project = built.project()
    for data_type in ("raw_records", "peaks", "event_info"):
        md = DataFile(built.file("8", data_type)).metadata
        assert md["lineage_hash"] == project.lineage_hash("8", data_type)
        assert md["data_type"] == data_type and md["run_id"] == "8"


def test_up_to_date_workflow_has_nothing_to_do(built):
    result = built.snakemake("-n", "_top/event_info", "_other/event_info")
    assert "Nothing to be done" in result.stdout + result.stderr
    # The full path names the same file.
    result = built.snakemake("-n", "data/_top/event_info", "data/8/peaks")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_only_data_and_snakemake_state_in_the_working_directory(built):
    assert {p.name for p in built.root.iterdir()} == {"config", "data", ".snakemake"}
    assert (built.data / "logs" / "superrun" / "_top" / f"{built.file('_top', 'event_info').name}.log").is_file()


def test_forcerun_takes_short_names(built):
    result = built.snakemake("-n", "--forcerun", "8/event_info", "--", "_top/event_info")
    # run 8's job (job_layout per_run: its whole chain) and the superruns that hold it
    run_8 = {f"data/8/{data_type}" for data_type in RUN_CHAIN}
    assert planned_outputs(result) == run_8 | {"data/_middle/event_info", "data/_top/event_info"}


def test_edited_definition_rebuilds_only_what_depends_on_it(workflow):
    workflow.write(RUNS, SUPERRUNS)
    targets = ["_top/event_info", "_other/event_info"]
    workflow.snakemake(*targets)
    edited = dict(SUPERRUNS, _inner={"runs": ["10"], "description": "without run 9"})
    (workflow.root / "config" / "superruns.yaml").write_text(yaml.safe_dump(edited))
    planned = planned_outputs(workflow.snakemake("-n", *targets))
    assert planned == {"data/_inner/event_info", "data/_middle/event_info", "data/_top/event_info"}


PAIR_RUNS = {"000001": run_entry(0, 10), "000002": run_entry(20, 10)}
PAIR = {"_pair": {"runs": ["000001", "000002"]}}


def test_no_target_builds_the_default_target_in_the_directory_given(tmp_path):
    """`snakemake -d DIR` with no target reads DIR's config, builds its default_target in DIR's
    data_dir and writes nothing where it was started; `--report` with no target reports it."""
    from support.workflows import Workflow

    flow, elsewhere = Workflow(tmp_path / "flow"), tmp_path / "elsewhere"
    elsewhere.mkdir()
    flow.write(PAIR_RUNS, PAIR, default_target=["_pair/raw_records", "summary/_pair/raw_records.html"])
    flow.snakemake("-d", str(flow.root), cwd=elsewhere)
    assert (flow.file("_pair", "raw_records")).is_file()
    assert (flow.data / "summary" / "_pair" / "raw_records.html").is_file()
    assert not (flow.file("_pair", "peaks")).exists()
    assert list(elsewhere.iterdir()) == []
    flow.snakemake("-d", str(flow.root), "--report", "report.html", cwd=elsewhere)
    assert "raw_records.html" in (flow.root / "report.html").read_text()
    assert list(elsewhere.iterdir()) == []


def test_no_default_target_builds_nothing(workflow):
    workflow.write(PAIR_RUNS, PAIR)
    workflow.snakemake()
    assert not workflow.data.exists()
    workflow.snakemake("--report", "report.html")
    assert (workflow.root / "report.html").is_file()


def test_config_with_a_key_twice_stops_snakemake(workflow):
    """Snakemake's own YAML loader keeps the last of two equal keys; the Snakefile refuses."""
    workflow.write(PAIR_RUNS, PAIR)
    config = workflow.root / "config" / "config.yaml"
    config.write_text(config.read_text() + "data_dir: elsewhere\n")
    result = workflow.snakemake("-n", "_pair/raw_records", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "config.yaml" in output and "'data_dir' appears twice" in output
    assert not (workflow.root / "elsewhere").exists()


def test_unknown_superrun_has_no_rule(workflow):
    workflow.write(RUNS, SUPERRUNS)
    result = workflow.snakemake("_nosuch/event_info", check=False)
    assert result.returncode != 0
    assert "No rule to produce _nosuch/event_info" in result.stdout + result.stderr
    assert not (workflow.data / "_nosuch").exists()


# The message names the file, the superrun and what is wrong (not just a name that the
# target "8/event_info" or any listing would contain anyway).
@pytest.mark.parametrize("superruns_doc, message", [
    ({"nounderscore": {"runs": ["8"]}}, "superrun 'nounderscore': superrun name 'nounderscore' does not start with '_'"),
    ({"_a": {"runs": ["8", "99"]}}, "superrun '_a', runs[1] '99': run '99' is not in the run registry"),
    ({"_a": {"runs": ["_b"]}, "_b": {"runs": ["_a"]}}, "superrun '_a': superruns contain each other: _a -> _b -> _a"),
    ({"_a": {"runs": ["8", "8"]}}, "superrun '_a', runs[1]: '8' is listed twice (also runs[0])"),
    ({"_a": {"runs": []}}, "superrun '_a': holds no subruns"),
])
def test_bad_definition_stops_snakemake_before_any_job(workflow, superruns_doc, message):
    workflow.write(RUNS, superruns_doc)
    result = workflow.snakemake("8/event_info", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"config/superruns.yaml: {message}" in output, output
    assert not (workflow.file("8", "event_info")).exists()


def test_cli_reports_runs_superruns_and_files(built, capsys):
    from superruns.cli import commands as cli

    config = str(built.root / "config" / "config.yaml")
    assert cli.main(["--config", config, "--json", "list"]) == 0
    rows = {row["run_id"]: row for row in json.loads(capsys.readouterr().out)}
    assert "event_info" in rows["_top"]["built"] and rows["_top"]["livetime_s"] == pytest.approx(120)
    assert cli.main(["--config", config, "--json", "show", "_top"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["leaf_runs"] == TIME_ORDER and shown["direct_subruns"] == ["_middle", "11"]
    assert cli.main(["info", str(built.file("_top", "event_info"))]) == 0
    text = capsys.readouterr().out
    assert "lineage_hash" in text and "8,9,10,11" in text
    assert cli.main(["--config", config, "show", "_nosuch"]) == 1
