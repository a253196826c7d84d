"""Processing versions side by side, and Python for campaigns (issue 15, items 3 and 4).

Real snakemake in a temporary workflow: two option sets built one after the other both stay
loadable, switching back plans nothing (Snakemake's dry run), `superruns clean` removes the
old version only; `superruns.make` builds a missing superrun; `superruns status` counts right
after a partial build and after an option change; `load` of a list of runs, as a DataFrame.
"""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest

import superruns
from superruns.base.errors import SuperrunsError
from superruns.cli import commands as cli
from superruns.orchestration.campaign import MakeError
from superruns.storage import content_hash
from superruns.stored.loading import LoadError

from support.workflows import RUN_CHAIN, Workflow, run_entry

pytestmark = pytest.mark.e2e

RUNS = {"000001": run_entry(0, 10), "000002": run_entry(20, 10)}
SUPERRUNS = {"_ab": {"runs": ["000001", "000002"]}}
OTHER = {"peak_min_channels": 3}                 # peaks and what follows; raw_records as before
CHAIN = RUN_CHAIN
TARGETS = ("_ab/event_info", "_ab/peaks")
BUILT = [(r, dt) for r in RUNS for dt in CHAIN] + [("_ab", "event_info"), ("_ab", "peaks")]


def status_counts(*args, **kwargs) -> dict:
    """``superruns.status`` as ``{group: {data_type: {done, stale, missing}}}``; its DataFrame
    (where pandas is installed: the test extra has it) has the same rows as its list."""
    rows = superruns.status(*args, as_frame=False, **kwargs)
    if importlib.util.find_spec("pandas"):
        assert superruns.status(*args, **kwargs).to_dict("records") == rows
    counts: dict = {}
    for row in rows:
        counts.setdefault(row["group"], {})[row["data_type"]] = {s: row[s] for s in ("done", "stale", "missing")}
    return counts


def planned_jobs(flow: Workflow, *targets: str) -> int:
    """How many jobs Snakemake's dry run plans (0 when it says there is nothing to be done)."""
    result = flow.snakemake("-n", *targets)
    output = result.stdout + result.stderr
    if "Nothing to be done" in output:
        return 0
    return int(re.search(r"^total\s+(\d+)", output, re.MULTILINE)[1])


def lineage(flow: Workflow, run_id: str, data_type: str) -> str:
    return flow.project().lineage_hash(run_id, data_type)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory):
    """``_ab``'s event_info and peaks built with the test options (version A), then with
    ``peak_min_channels: 3`` (version B), one after the other in one data directory."""
    flow = Workflow(tmp_path_factory.mktemp("versions"))
    flow.write(RUNS, SUPERRUNS)
    flow.snakemake(*TARGETS)
    a = {(r, dt): (lineage(flow, r, dt), content_hash(flow.file(r, dt))) for r, dt in BUILT}
    flow.write(RUNS, SUPERRUNS, OTHER)
    planned_b = planned_jobs(flow, *TARGETS)
    flow.snakemake(*TARGETS)
    return flow, a, planned_b


def test_a_new_version_is_built_beside_the_old_one(two_versions):
    flow, a, planned_b = two_versions
    # raw_records keeps its lineage: only the 6 data types after it are built again, and the
    # superrun's two files.
    assert planned_b == 6 * 2 + 2
    for (run_id, data_type), (hash_a, content_a) in a.items():
        old = flow.file(run_id, data_type, hash_a)
        assert old.is_file() and content_hash(old) == content_a, old      # untouched
        hash_b = lineage(flow, run_id, data_type)
        assert (hash_b == hash_a) == (data_type == "raw_records")
        assert flow.file(run_id, data_type).name == f"{data_type}-{hash_b}"


def test_both_versions_load(two_versions):
    flow, a, _ = two_versions
    project = flow.project()
    hash_a = a[("_ab", "peaks")][0]
    current = superruns.load("_ab", "peaks", project=project)
    old = superruns.load("_ab", "peaks", lineage=hash_a, project=project)
    assert len(old) > len(current) > 0              # 3 channels drop peaks that 2 kept
    assert np.all(current["n_channels"] >= 3) and np.any(old["n_channels"] == 2)
    assert superruns.is_stored("_ab", "peaks", project=project)
    assert superruns.is_stored("_ab", "peaks", lineage=hash_a, project=project)
    assert not superruns.is_stored("_ab", "peaks", lineage="aaaaaaaaaa", project=project)


def test_switching_back_plans_nothing_and_status_says_so(two_versions):
    flow, a, _ = two_versions
    flow.write(RUNS, SUPERRUNS)                    # version A again
    try:
        assert planned_jobs(flow, *TARGETS) == 0
        assert lineage(flow, "_ab", "peaks") == a[("_ab", "peaks")][0]
        counts = status_counts(project=flow.project())
        assert counts["runs"]["event_info"] == {"done": 2, "stale": 0, "missing": 0}
        assert counts["superruns"]["peaks"] == {"done": 1, "stale": 0, "missing": 0}
    finally:
        flow.write(RUNS, SUPERRUNS, OTHER)
    assert planned_jobs(flow, *TARGETS) == 0              # and forth: B is there too


def test_an_option_given_on_the_command_line_is_the_same_version(two_versions):
    """`--config 'options={...}'` hands values over as text ('3'): typed by the option, they
    name the same version as in config.yaml (the issue's command)."""
    flow, a, _ = two_versions
    flow.write(RUNS, SUPERRUNS)                    # version A in the file, B on the command line
    try:
        result = flow.snakemake("-n", *TARGETS, "--config", "options={chunk_duration_s: 10, peak_min_channels: 3}")
        assert "Nothing to be done" in result.stdout + result.stderr
    finally:
        flow.write(RUNS, SUPERRUNS, OTHER)


def test_another_version_is_not_built_by_name(two_versions):
    flow, a, _ = two_versions
    target = f"_ab/peaks-{a[('_ab', 'peaks')][0]}"    # A's name, under B's configuration
    (flow.file(target)).rename(flow.root / "moved")
    try:
        result = flow.snakemake(target, check=False)
        assert result.returncode != 0
        assert "the configuration makes lineage" in result.stderr + result.stdout
    finally:
        (flow.root / "moved").rename(flow.file(target))


def test_clean_lists_then_removes_the_old_version_only(tmp_path):
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS)
    flow.snakemake("_ab/peaks")
    # Each run's one job made its whole chain; all but raw_records change lineage with OTHER.
    old = {f"{r}/{dt}": flow.file(r, dt) for r in RUNS for dt in CHAIN[1:]}
    old["_ab"] = flow.file("_ab", "peaks")
    flow.write(RUNS, SUPERRUNS, OTHER)
    flow.snakemake("_ab/peaks")
    config = str(flow.root / "config" / "config.yaml")
    out = _Out()
    assert cli.main(["--config", config, "clean", "--keep-current", "--dry-run", "--json"], out=out) == 0
    listed = json.loads(out.text)
    assert sorted(f["path"] for f in listed["would_remove"]) == sorted(map(str, old.values()))
    assert all(p.is_file() for p in old.values())          # a dry run removes nothing
    assert cli.main(["--config", config, "clean", "--keep-current"], out=_Out()) == 0
    assert not any(p.exists() for p in old.values())
    assert superruns.load("_ab", "peaks", project=flow.project()).size > 0
    assert flow.file("000001", "raw_records").is_file()    # shared by both versions: kept
    logs = list((flow.data / "logs").rglob(f"{old['_ab'].name}.log"))
    assert logs == []


def test_make_builds_a_missing_superrun_and_status_counts(tmp_path, capfd):
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS)
    project = flow.project()
    flow.snakemake("000001/peaks")             # a partial build: run 000001's one job, its chain
    counts = status_counts(project=project)
    assert sum(counts["runs"]["raw_records"].values()) == 2 and sum(counts["superruns"]["peaks"].values()) == 1
    assert counts["runs"]["peaks"] == {"done": 1, "stale": 0, "missing": 1}
    assert counts["runs"]["raw_records"]["done"] == 1 and counts["runs"]["event_info"]["missing"] == 1
    assert counts["superruns"]["peaks"] == {"done": 0, "stale": 0, "missing": 1}

    files = superruns.make("_ab", "peak_basics", cores=2, project=project)
    assert files == [project.path("_ab", "peak_basics")] and files[0].is_file()
    assert "superruns.make [" in capfd.readouterr().err          # the progress bar
    counts = status_counts("_ab", ["peaks", "peak_basics"], project=project)
    assert counts["runs"]["peak_basics"] == {"done": 2, "stale": 0, "missing": 0}
    assert counts["superruns"]["peak_basics"]["done"] == 1
    assert superruns.make(["_ab"], ["peak_basics"], project=project, progress=False) == files

    flow.write(RUNS, SUPERRUNS, OTHER)                     # an option change: stale, not missing
    changed = flow.project()
    counts = status_counts(project=changed)
    assert counts["runs"]["peaks"] == {"done": 0, "stale": 2, "missing": 0}
    assert counts["runs"]["raw_records"] == {"done": 2, "stale": 0, "missing": 0}
    assert counts["superruns"]["peak_basics"] == {"done": 0, "stale": 1, "missing": 0}
    out = _Out()
    assert cli.main(["--config", str(flow.root / "config" / "config.yaml"), "status", "_ab"], out=out) == 0
    assert re.search(r"peaks\s+0\s+2\s+0", out.text), out.text


def test_make_says_what_failed(tmp_path):
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS)
    with pytest.raises(SuperrunsError, match="Unknown data type"):
        superruns.make("_ab", "nosuch", project=flow.project())
    (flow.data / "000001").mkdir(parents=True)
    (flow.file("000001", "raw_records")).mkdir()           # a directory where the file goes
    with pytest.raises(MakeError, match=r"snakemake failed .* its log is"):
        superruns.make("000001", "peaks", project=flow.project(), progress=False)


def test_load_a_list_of_runs_with_run_id_and_as_frame(tmp_path):
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS)
    flow.snakemake("000001/event_info", "000002/event_info")
    project = flow.project()
    rows = superruns.load(["000002", "000001"], "event_info", project=project)
    assert rows.dtype.names[0] == "run_id"
    one, two = (superruns.load(r, "event_info", project=project) for r in ("000001", "000002"))
    assert list(rows["run_id"]) == ["000002"] * len(two) + ["000001"] * len(one)
    assert rows[len(two):]["time"].tolist() == one["time"].tolist()
    frame = superruns.load(["000001", "000002"], ["event_basics", "event_positions"], as_frame=True,
                           project=project)
    assert len(frame) == len(one) + len(two) and {"run_id", "x", "s2_area"} <= set(frame.columns)
    with pytest.raises(LoadError, match=r"array fields \(data\)"):
        superruns.load("000001", "raw_records", as_frame=True, project=project)


class _Out:
    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass

    @property
    def text(self):
        return "".join(self.parts)
