"""Refuse at the door (issue 22, class 4), table-driven, real snakemake.

Everything a job would trip over is refused while Snakemake parses the workflow, with the
file, the key and the fix, and nothing is written: option values of a kind or range their
option does not take (plain and per-run), a plugin whose ``provides`` is no data type name,
selections whose name or source is a path or whose data type is unknown, an empty veto file,
runs that per-run options cannot place (a run id that is not a number, a run before the first
entry). And at the API: ``superruns.make`` with ``cores`` below 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

import superruns
from superruns.orchestration.campaign import MakeError

from support.reliability import OPTIONS, RUNS, Workflow, files_under, run_entry, snakemake_many
from support.workflows import REPO

pytestmark = pytest.mark.e2e

SUPERRUNS = {"_a": {"runs": ["8", "9"]}}
GAINS = [80.0, 95.0, 105.0, 90.0, 100.0, 85.0, 110.0, 92.0]
VETO_COLUMNS = [("time", "<i8"), ("endtime", "<i8"), ("run_id", "<U8")]


@dataclass
class Case:
    id: str
    says: tuple                          # the file first, then the key and the problem
    config: dict = field(default_factory=dict)      # merged into config.yaml
    runs: dict | None = None
    superruns: dict | None = None
    files: dict = field(default_factory=dict)       # relative path -> text, or a numpy array
    target: str = "_a/raw_records"


CASES = [
    Case("option-out-of-range", ("config.yaml", "options", "chunk_duration_s", "-1 is not above 0"),
         {"options": {**OPTIONS, "chunk_duration_s": -1}}),
    Case("option-of-another-kind", ("config.yaml", "peak_min_channels", "'many' is a str, not a int"),
         {"options": {**OPTIONS, "peak_min_channels": "many"}}),
    Case("option-a-number-for-a-list", ("config.yaml", "sim_pmt_gains", "is a float, not a list"),
         {"options": {**OPTIONS, "sim_pmt_gains": 90.0}}),
    Case("per-run-value-out-of-range", ("config.yaml", "pmt_gains", "-1.0 is not above 0"),
         {"options": {**OPTIONS, "pmt_gains": {"default_per_run": [[0, GAINS], [9, [-1.0] * 8]]}}}),
    Case("provides-is-no-name", ("config.yaml", "plugins", "support.bad_plugins", "DashedName", "'peaks-v2'"),
         {"plugins": ["superruns.detector", "support.bad_plugins"]}),
    Case("selection-name-is-a-path", ("config.yaml", "selections", "'../../x'", "not a selection name"),
         {"selections": {"../../x": {"source": "_a"}}}),
    Case("selection-source-is-a-path", ("config.yaml", "selections", "'../../x'", "not a run or superrun"),
         {"selections": {"low": {"source": "../../x"}}}),
    Case("selection-of-an-unknown-data-type", ("config.yaml", "selections", "'nosuch'", "no plugin provides"),
         {"selections": {"low": {"source": "_a", "data_type": "nosuch"}}}),
    Case("veto-file-empty-csv", ("superruns.yaml", "'_v'", "veto", "holds no rows"),
         superruns={**SUPERRUNS, "_v": {"runs": ["8", "9"], "veto": "config/veto.csv"}},
         files={"config/veto.csv": "time,endtime,run_id\n"}, target="_v/raw_records"),
    Case("veto-file-empty-npy", ("superruns.yaml", "'_v'", "veto", "holds no rows"),
         superruns={**SUPERRUNS, "_v": {"runs": ["8", "9"], "veto": "config/veto.npy"}},
         files={"config/veto.npy": np.zeros(0, VETO_COLUMNS)}, target="_v/raw_records"),
    Case("run-id-per-run-options-cannot-order", ("runs.yaml", "run 'calib_a'", "numeric", "pmt_gains"),
         runs={**RUNS, "calib_a": run_entry(40, 5)}),
    Case("run-before-the-first-per-run-entry", ("runs.yaml", "run '8'", "no per-run default", "pmt_gains"),
         {"options": {**OPTIONS, "pmt_gains": {"default_per_run": [[9, GAINS]]}}}),
]


def write_case(root: Path, case: Case) -> Workflow:
    flow = Workflow(root)
    flow.write(case.runs or RUNS, case.superruns or SUPERRUNS, OPTIONS)
    path = root / "config" / "config.yaml"
    path.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **case.config}))
    for relative, content in case.files.items():
        if isinstance(content, np.ndarray):
            np.save(root / relative, content)
        else:
            (root / relative).write_text(content)
    return flow


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    base = tmp_path_factory.mktemp("door")
    cases = [*CASES, Case("good", ())]
    flows = [write_case(base / case.id, case) for case in cases]
    with pytest.MonkeyPatch.context() as patch:         # the test plugins' modules, for snakemake
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO / "tests"), os.environ.get("PYTHONPATH")])))
        outputs = snakemake_many([(flow.root, [case.target]) for flow, case in zip(flows, cases)], base)
    return {case.id: (flow, result) for case, flow, result in zip(cases, flows, outputs)}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_when_the_workflow_is_parsed(results, case):
    flow, (code, output) = results[case.id]
    assert code == 1, output
    for words in case.says:
        assert words in output, f"{words!r} not in:\n{output}"
    assert "fix" in output.lower()
    assert "Finished job" not in output and "rule " not in output, output
    assert files_under(flow.data) == []


def test_the_good_workflow_builds(results):
    """The baseline every case changes one thing of."""
    flow, (code, output) = results["good"]
    assert code == 0, output
    assert flow.file("_a", "raw_records").is_file()


@pytest.mark.parametrize("cores", [0, -1, 1.5, "2", True])
def test_make_refuses_cores_it_cannot_run_with(workflow, cores):
    workflow.write(RUNS, {}, OPTIONS)
    with pytest.raises(MakeError, match=r"cores=.*at least 1"):
        superruns.make("8", "peaks", cores=cores, project=workflow.project())
    assert not workflow.data.exists()
