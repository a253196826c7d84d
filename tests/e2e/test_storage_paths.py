"""Jobs open exactly the files Snakemake hands them: with Snakemake's storage (here the
``fs`` storage plugin, a folder standing in for remote storage) every input and output path
of a job differs from the project's ``data_dir`` paths, and the workflow still builds runs,
superruns of runs, superruns of superruns, cut and vetoed superruns and event selections, byte for byte as a
local build does. Before, the superrun job re-derived its subruns' paths from ``data_dir``
and failed with ``DataFileMissing``. (A superrun defined by ``events:`` that the workflow
selects is not here: its definition is read when Snakemake plans, from the events file's
configured path, which remote storage does not fill.)
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from superruns.storage import DataFile

from support.workflows import SECOND, T0, Workflow, run_entry

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(importlib.util.find_spec("snakemake_storage_plugin_fs") is None,
                       reason="needs snakemake-storage-plugin-fs (the test extra)"),
    pytest.mark.skipif(shutil.which("rsync") is None,
                       reason="the fs storage plugin copies with rsync, which is not installed "
                              "(apt-get install rsync; .ci/run does)"),
]

RUNS = {"000001": run_entry(100, 40), "000002": run_entry(200, 40), "000003": run_entry(300, 40)}
SUPERRUNS = {
    "_a": {"runs": ["000001", "000002"]},
    "_nested": {"runs": ["_a", "000003"]},
    "_cut": {"ranges": {"000002": [[T0 + 205 * SECOND, T0 + 225 * SECOND]]}, "runs": ["000003"]},
    "_vetoed": {"runs": ["000001"], "veto": {"000001": [[T0 + 110 * SECOND, T0 + 120 * SECOND]]}},
}
SELECTIONS = {"lowE": {"source": "_nested", "data_type": "event_info", "cuts": {"s1_area": [3, 15]}}}
TARGETS = [f"{name}/{data_type}" for name in SUPERRUNS for data_type in ("peaks", "event_info")]
SELECTION = "selections/lowE.npy"


def make_workflow(root) -> Workflow:
    workflow = Workflow(root)
    workflow.write(RUNS, SUPERRUNS, selections=SELECTIONS)
    return workflow


def test_jobs_read_and_write_where_snakemake_says(tmp_path):
    local, remote = make_workflow(tmp_path / "local"), make_workflow(tmp_path / "remote")
    storage = tmp_path / "storage"
    storage.mkdir()
    local.snakemake(*TARGETS, SELECTION)
    remote.snakemake(*TARGETS, SELECTION, "--default-storage-provider", "fs",
                     "--default-storage-prefix", str(storage))

    assert not any(p.is_file() for p in remote.data.rglob("*-*") if "logs" not in p.parts), \
        "a job wrote into data_dir instead of Snakemake's storage"
    project = local.project()
    for target in TARGETS:
        name, data_type = target.split("/")
        built = project.path(name, data_type)
        stored = storage / built.relative_to(local.root)
        assert stored.is_file(), f"{target}: not in the storage folder"
        ours, theirs = DataFile(built), DataFile(stored)
        assert ours.load().tobytes() == theirs.load().tobytes(), target
        assert [c.subruns for c in ours.chunks] == [c.subruns for c in theirs.chunks], target
    assert (storage / "data" / SELECTION).read_bytes() == (local.data / SELECTION).read_bytes()
