"""Superrun-level data types with real snakemake: nested superruns, a run as a superrun of
one, byte-identical rebuilds, a definition edit rebuilding exactly what depends on it, and
the refusal of a per-run-default option that differs across the subruns."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from superruns.detector.accidentals import accidental_events
from superruns.model.superrun_plugins import memory_estimate_mb, uniform_options
from superruns.storage import DataFile

from support.reliability import assert_same_file
from support.workflows import Workflow, run_entry

pytestmark = pytest.mark.e2e

RUNS = {"000001": run_entry(0, 20), "000002": run_entry(40, 20), "000003": run_entry(80, 20),
        "000004": run_entry(120, 20)}
SUPERRUNS = {"_a": {"runs": ["000001", "000002"]}, "_b": {"runs": ["000003"]},
             "_ab": {"runs": ["_a", "_b"]}, "_c": {"runs": ["000004"]}}
LEVEL = ["_ab/accidental_events", "_ab/peak_rates", "_a/accidental_events", "_c/accidental_events",
         "000004/accidental_events"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    flow = Workflow(tmp_path_factory.mktemp("level"))
    flow.write(RUNS, SUPERRUNS)
    flow.snakemake("-n", *LEVEL)                 # a dry run: inputs not built count as empty
    result = flow.snakemake(*LEVEL)
    flow.build_output = result.stdout + result.stderr
    return flow


def test_nested_superrun_computes_over_all_leaf_runs_as_one(built):
    project = built.project()
    leaves = np.concatenate([DataFile(built.file(run, "peak_basics")).load()
                             for run in ("000001", "000002", "000003")])
    config = uniform_options(project, "_ab", "accidental_events")
    expected = accidental_events(leaves, config, project.run_metadata("_ab")["start"])
    result = DataFile(built.file("_ab", "accidental_events"))
    assert len(expected) > 0 and result.load().tobytes() == expected.tobytes()
    assert result.metadata["sub_run_spec_hash"] == project.run_metadata("_ab")["sub_run_spec_hash"]
    assert result.metadata["lineage_hash"] == project.lineage_hash("_ab", "accidental_events")
    # computed over the superrun's own (concatenated) input, never concatenated itself
    assert not (built.file("_a", "peak_rates")).exists()
    assert (built.file("_ab", "peak_basics")).exists()
    rates = DataFile(built.file("_ab", "peak_rates")).load()
    assert rates["n_peaks"].sum() == len(leaves)


def test_the_job_asks_for_the_memory_the_plugin_estimates_from_its_inputs(built):
    project = built.project()
    plugin = project.registry["accidental_events"]
    inputs = [DataFile(built.file("_ab", "peak_basics"))]
    expected = memory_estimate_mb(plugin, inputs)
    assert expected > plugin.memory_overhead_mb      # the input's size counts
    job = built.build_output.split("output: data/_ab/accidental_events")[1].split("resources:")[1].split("\n")[0]
    assert f"mem_mb={expected}," in job
    assert DataFile(built.file("_ab", "accidental_events")).metadata["superrun_level"] == {
        "exhaust": True, "memory_estimate_mb": expected}


def test_a_regular_run_is_a_superrun_of_one(built):
    run = DataFile(built.file("000004", "accidental_events"))
    one = DataFile(built.file("_c", "accidental_events"))
    assert len(run.load()) > 0 and run.load().tobytes() == one.load().tobytes()
    # the plugin's own entry is the same; the inputs' lineages differ as for any data type
    # (a superrun's per-run options are <SUBRUN-DEPENDENT:...>, a run's are resolved)
    assert run.metadata["lineage"]["accidental_events"] == one.metadata["lineage"]["accidental_events"]
    assert "sub_run_spec_hash" not in run.metadata and "sub_run_spec_hash" in one.metadata


def test_two_builds_are_byte_identical(built, tmp_path):
    again = Workflow(tmp_path)
    shutil.copytree(built.root / "config", tmp_path / "config")
    again.snakemake(*LEVEL, "--cores", "1")
    for target in LEVEL:
        assert_same_file(built.file(target), again.file(target))


def test_a_definition_edit_rebuilds_exactly_what_depends_on_it(built, tmp_path):
    flow = Workflow(tmp_path / "copy")
    shutil.copytree(built.root, flow.root, symlinks=True)
    before = {t: flow.file(t).stat().st_mtime_ns for t in LEVEL}
    old_hash = DataFile(flow.file("_ab", "accidental_events")).metadata["sub_run_spec_hash"]
    superruns = dict(SUPERRUNS, _b={"runs": ["000003", "000004"]})
    (flow.root / "config" / "superruns.yaml").write_text(yaml.safe_dump(superruns))
    flow.snakemake(*LEVEL)
    changed = {t for t in LEVEL if flow.file(t).stat().st_mtime_ns != before[t]}
    assert changed == {"_ab/accidental_events", "_ab/peak_rates"}
    rebuilt = DataFile(flow.file("_ab", "accidental_events"))
    assert rebuilt.metadata["sub_run_spec_hash"] != old_hash
    assert "000004" in rebuilt.metadata["sub_run_spec_flat"].__repr__()


def test_per_run_default_option_differing_across_subruns_is_refused(tmp_path):
    flow = Workflow(tmp_path)
    per_run = {"default_per_run": [[0, 50_000], [3, 80_000]]}
    flow.write(RUNS, SUPERRUNS, options={"accidental_isolation_ns": per_run})
    result = flow.snakemake("_ab/accidental_events", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "SuperrunPluginError" in output and "'accidental_isolation_ns'" in output
    assert "000001, 000002: 50000; 000003: 80000" in output and "_ab" in output
    assert not (flow.data / "_ab").exists()         # refused before any work
    flow.snakemake("_a/accidental_events")           # one value over _a's subruns: fine
    assert DataFile(flow.file("_a", "accidental_events")).metadata["lineage"]["accidental_events"][2][
        "accidental_isolation_ns"] == 50_000
