"""strax serves dataset superruns (query, set operations, vetoes) like any other: their run
documents carry the resolved spec and the exact livetime."""

from __future__ import annotations

import pytest

strax = pytest.importorskip("strax")

from support.workflows import SECOND, T0, Workflow, run_entry  # noqa: E402

pytestmark = [pytest.mark.strax]


def test_run_documents_of_dataset_superruns(tmp_path):
    from superruns.straxio.frontend import SuperrunsFrontend

    flow = Workflow(tmp_path)
    veto = [T0 + 2 * SECOND, T0 + 5 * SECOND]
    flow.write({"1": run_entry(0, 30, tags=["q"]), "2": run_entry(40, 30, tags=["q"]),
                "3": run_entry(80, 30, tags=["x"])},
               {"_q": {"query": {"tags": ["q"]}, "veto": {"1": [veto]}},
                "_u": {"union": ["_q", "3"]}},
               lock="config/superruns.lock.yaml")
    project = flow.project()
    context = strax.Context(storage=[SuperrunsFrontend(project)])
    doc = context.run_metadata("_u")
    assert doc["sub_run_spec"] == {"1": [[T0, veto[0]], [veto[1], T0 + 30 * SECOND]],
                                   "2": "all", "3": "all"}
    assert doc["livetime"] == 87.0
    assert not (tmp_path / "config" / "superruns.lock.yaml").exists()   # reading never writes the lock
