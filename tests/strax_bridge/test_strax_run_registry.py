"""The run registry from a strax Context (``run_registry:``): real strax DataDirectory run
documents (the XAMS run's in ../shared/data, and documents strax itself writes) drive a
``query:`` superrun and its lock through real snakemake, as ``runs.yaml`` does."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys

import pytest
import yaml

strax = pytest.importorskip("strax")

from support.workflows import Workflow  # noqa: E402
from support.xams import RUN, XAMS  # noqa: E402

pytestmark = [pytest.mark.strax, pytest.mark.e2e]

if not XAMS.is_dir():
    pytest.skip(f"the XAMS test data are not at {XAMS}", allow_module_level=True)

EPOCH = datetime.datetime(2019, 1, 1)
CONTEXT = '''
import strax

def make_context():
    """The run documents: the XAMS DataDirectory (read only) and one strax writes here."""
    return strax.Context(storage=[strax.DataDirectory({xams!r}, readonly=True, provide_run_metadata=True),
                                  strax.DataDirectory({rundb!r}, readonly=True, provide_run_metadata=True)])
'''


def write_document(rundb, run_id: str, start_s: float, mode="background", tags=("sr1",)):
    """A run document as strax's DataDirectory writes it (bson $date times)."""
    start = EPOCH + datetime.timedelta(seconds=start_s)
    strax.DataDirectory(str(rundb), readonly=False).write_run_metadata(
        run_id, {"name": run_id, "number": int(run_id), "start": start, "end": start + datetime.timedelta(seconds=3),
                 "mode": mode, "source": "none", "tags": [{"name": t} for t in tags]})


def straxio(workflow, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "superruns.straxio", "--config", "config/config.yaml", *args],
                          cwd=workflow.root, capture_output=True, text=True, env={**os.environ})


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    root = tmp_path_factory.mktemp("rundb")
    rundb = root / "rundb"
    rundb.mkdir()
    for i, (mode, tags) in enumerate([("background", ["sr1"]), ("background", ["sr1"]),
                                      ("background", ["sr1", "low_rate"]), ("kr83m", ["sr1"])]):
        write_document(rundb, f"00000{i + 1}", 10 * i, mode, tags)
    (root / "rundb_context.py").write_text(CONTEXT.format(xams=str(XAMS), rundb=str(rundb)))
    patch = pytest.MonkeyPatch()
    patch.syspath_prepend(str(root))
    patch.setenv("PYTHONPATH", str(root), prepend=os.pathsep)
    workflow = Workflow(root)
    workflow.write({}, {"_bg": {"query": {"mode": "background", "tags": ["sr1"], "exclude_tags": ["low_rate"]}}},
                   run_registry={"context": "rundb_context:make_context"})
    (root / "config" / "runs.yaml").unlink()          # not used: the registry is the Context's
    workflow.rundb = rundb
    workflow.first = workflow.snakemake("_bg/peaks")
    yield workflow
    patch.undo()


def test_the_registry_is_the_contexts_run_documents(flow):
    project = flow.project()
    assert set(project.runs) == {"000001", "000002", "000003", "000004", RUN}
    xams = project.runs[RUN]                            # XAMS's own document ($date in ms)
    assert (xams.start, xams.end, xams.mode, xams.number) == (1636719575004000000, 1636719591496000000,
                                                              "xamsl_V1730_30ADC_th", 2240)
    one = project.runs["000001"]
    assert one.start == int((EPOCH - datetime.datetime(1970, 1, 1)).total_seconds()) * 10**9
    assert one.end - one.start == 3 * 10**9 and one.tags == ("sr1",) and one.number == 1
    cache = json.loads((flow.root / "config" / "runs.strax.json").read_text())
    assert cache["format"] == "superruns.straxio.rundb/1" and cache["source"]["context"] == "rundb_context:make_context"
    assert "written to" in flow.first.stderr and "--refresh" in flow.first.stderr


def test_a_query_superrun_is_built_from_it_and_locked(flow):
    from superruns.storage import DataFile

    data = DataFile(flow.project().path("_bg", "peaks"))
    assert list(data.metadata["sub_run_spec"]) == ["000001", "000002"]
    lock = yaml.safe_load((flow.root / "config" / "superruns.lock.yaml").read_text())
    assert "000003" not in json.dumps(lock) and "000001" in json.dumps(lock)


def test_new_run_documents_reach_the_lock_only_on_refresh(flow):
    write_document(flow.rundb, "000005", 60)                       # a new good SR1 background run
    assert "Nothing to be done" in flow.snakemake("-n", "_bg/peaks").stdout      # the cache holds
    refreshed = straxio(flow, "runs", "--refresh")
    assert refreshed.returncode == 0 and "added: 000005" in refreshed.stdout, refreshed.stderr
    locked = flow.snakemake("-n", "_bg/peaks", check=False)
    said = locked.stdout + locked.stderr
    assert locked.returncode != 0 and "LockError" in said and "runs added: 000005" in said
    assert "runs.strax.json" in said                               # the registry it names is the cache
    updated = subprocess.run([sys.executable, "-m", "superruns.cli.commands", "lock", "--update", "_bg"],
                             cwd=flow.root, capture_output=True, text=True)
    assert updated.returncode == 0, updated.stderr
    planned = flow.snakemake("-n", "_bg/peaks")
    assert "000005" in planned.stdout + planned.stderr


def test_a_cache_that_is_not_ours_is_never_overwritten(flow, tmp_path):
    from superruns.project import Project
    from superruns.straxio.registry import StraxBridgeError

    config = yaml.safe_load((flow.root / "config" / "config.yaml").read_text())
    config["run_registry"]["cache"] = str(tmp_path / "mine.json")
    (tmp_path / "mine.json").write_text('{"my": "notes"}')
    with pytest.raises(StraxBridgeError, match="is not a run-document cache of superruns"):
        Project(config, flow.root).runs
    assert (tmp_path / "mine.json").read_text() == '{"my": "notes"}'
