"""Processing versions side by side (superruns.storage.layout, versions, campaign_status, campaign)
without Snakemake: names, lineages of many runs at once, what clean would remove, the
progress bar, a list of runs loaded with run_id."""

from __future__ import annotations

import io

import numpy as np
import pytest

from superruns.orchestration.campaign import ProgressBar, targets_of
from superruns.project import OtherLineageError
from superruns.project.lineages import current_lineages
from superruns.storage.layout import data_file_name, parse_data_file_name, place_of, stored_in_run
from superruns.stored.campaign_status import status
from superruns.stored.loading import LoadError, as_data_frame, with_run_ids
from superruns.stored.versions import CleanError, clean, stored_files


@pytest.mark.parametrize("name, parsed", [
    ("peaks-fq5vyd3ii5", ("peaks", "fq5vyd3ii5")),
    ("event_info-abc", ("event_info", "abc")),
    ("peaks", None),                                  # the layout before versions
    (".peaks-abc.tmp-12-ab", None), (".peaks-abc", None),   # temporary, hidden files
    ("peaks-ABC", None), ("peaks-", None), ("-abc", None), ("a-b-c", None),
])
def test_file_names(name, parsed):
    assert parse_data_file_name(name) == parsed
    if parsed:
        assert data_file_name(*parsed) == name


def test_place_of():
    assert place_of("data/8/peaks-abc") == ("8", "peaks", "abc")
    assert place_of("data/8/peaks") == ("8", "peaks", None)


def test_lineages_of_many_runs_equal_the_project_s(project):
    ids = list(project.runs) + ["_all"]
    lineage_of = current_lineages(project, ids, list(project.registry))
    for run_id in ids:
        for data_type in project.registry:
            assert lineage_of(run_id, data_type) == project.lineage_hash(run_id, data_type)
    assert project.lineage_hash("5", "peaks") != project.lineage_hash("7", "peaks")    # pmt_gains
    assert project.lineage_hash("5", "peaks") == project.lineage_hash("6", "peaks")


def test_paths_are_of_the_current_lineage_and_only_it_is_built(project):
    current = project.lineage_hash("5", "peaks")
    assert project.path("5", "peaks") == project.data_dir / "5" / f"peaks-{current}"
    assert project.path("5", "peaks", "abc") == project.data_dir / "5" / "peaks-abc"
    assert project.current_lineage_hash("5", "peaks", current) == current
    with pytest.raises(OtherLineageError, match=f"makes lineage {current} of 5/peaks, not abc"):
        project.current_lineage_hash("5", "peaks", "abc")


def touch(path, project=None):
    """An empty data file at ``path`` that says it is what its place names (clean removes only
    files whose metadata say so)."""
    from superruns.storage import DataWriter
    from superruns.storage.layout import place_of

    run_id, data_type, lineage = place_of(path)
    md = {"run_id": run_id, "data_type": data_type, "data_kind": data_type,
          "lineage_hash": lineage or "oldlayout"}
    if project is not None:
        md["run_metadata"] = project.run_metadata(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with DataWriter(path, np.dtype([("time", "i8"), ("endtime", "i8")]), md):
        pass
    return path


def test_status_and_clean_from_names(project):
    current = {r: touch(project.path(r, "raw_records"), project) for r in ("5", "6")}
    old = {r: touch(project.path(r, "raw_records", "oldlineage")) for r in ("6", "7")}
    before_versions = touch(project.data_dir / "8" / "raw_records")
    not_data = project.data_dir / "7" / "notes-2024"
    not_data.write_text("named like a data file")
    counts = status(project)
    assert counts["runs"]["raw_records"] == {"done": 2, "stale": 2, "missing": 1}
    assert counts["runs"]["peaks"] == {"done": 0, "stale": 0, "missing": 5}
    assert set(stored_in_run(project.data_dir, "6")) == {("raw_records", project.lineage_hash("6", "raw_records")),
                                                         ("raw_records", "oldlineage")}
    assert {f.path for f in stored_files(project) if f.current} == set(current.values())
    with pytest.raises(CleanError, match="--keep-current"):
        clean(project)
    with pytest.raises(CleanError, match="not a lineage hash"):
        clean(project, lineage="../x")
    listed = clean(project, keep_current=True, dry_run=True)
    assert {f["path"] for f in listed["would_remove"]} == {str(p) for p in [*old.values(), before_versions]}
    assert listed["bytes"] == sum(p.stat().st_size for p in [*old.values(), before_versions])
    assert all(p.exists() for p in old.values())
    assert [f["path"] for f in listed["left"]] == [str(not_data)]
    with pytest.raises(CleanError, match="not a run or superrun"):
        clean(project, keep_current=True, run_ids=["../x"])
    assert [f["path"] for f in clean(project, lineage="oldlineage", run_ids=["7"])["removed"]] == [str(old["7"])]
    clean(project, keep_current=True)
    assert not old["6"].exists() and not before_versions.exists() and not_data.exists()
    assert all(p.exists() for p in current.values())


def test_targets_of_make_are_the_current_files(project):
    assert targets_of(project, "_all", ["peaks"]) == [f"data/_all/peaks-{project.lineage_hash('_all', 'peaks')}"]
    with pytest.raises(Exception, match="Unknown superrun"):
        targets_of(project, "_nosuch", "peaks")


def test_progress_bar_follows_snakemake_lines():
    out = io.StringIO()
    bar = ProgressBar(out)
    for line in ["Job stats:\n", "total        4\n", "1 of 4 steps (25%) done\n", "noise\n",
                 "4 of 4 steps (100%) done\n"]:
        bar.feed(line)
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("0/4 jobs") and lines[1].endswith("1/4 jobs") and lines[-1].endswith("4/4 jobs")
    assert "#" * ProgressBar.WIDTH in lines[-1]
    quiet = io.StringIO()
    ProgressBar(quiet).close()
    assert "nothing to build" in quiet.getvalue()


def test_runs_concatenated_with_run_id():
    a = np.array([(1, 2.0)], dtype=[("time", "i8"), ("x", "f8")])
    b = np.array([(3, 4.0), (5, 6.0)], dtype=a.dtype)
    rows = with_run_ids([b, a], ["10", "9"])
    assert rows.dtype.names == ("run_id", "time", "x") and rows.dtype["run_id"] == np.dtype("<U2")
    assert rows["run_id"].tolist() == ["10", "10", "9"] and rows["time"].tolist() == [3, 5, 1]
    with pytest.raises(LoadError, match="different dtypes"):
        with_run_ids([a, np.zeros(1, dtype=[("time", "i8")])], ["1", "2"])
    pytest.importorskip("pandas")
    assert as_data_frame(rows, ["x"])["run_id"].tolist() == ["10", "10", "9"]


def test_migrate_names_old_files_by_their_lineage(project):
    import superruns
    from superruns.storage import DataWriter
    from superruns.stored.versions import migrate

    def old_file(run_id, says_run, lineage):
        path = project.data_dir / run_id / "raw_records"
        path.parent.mkdir(parents=True, exist_ok=True)
        md = {"run_id": says_run, "data_type": "raw_records", "data_kind": "raw_records", "lineage_hash": lineage,
              "run_metadata": project.run_metadata(says_run)}
        with DataWriter(path, np.dtype([("time", "i8"), ("endtime", "i8")]), md):
            pass
        return path

    current = project.lineage_hash("5", "raw_records")
    ok, other, moved_here = old_file("5", "5", current), old_file("6", "6", "oldlineage"), old_file("7", "5", current)
    listed = migrate(project, dry_run=True)
    assert {m["from"] for m in listed["would_move"]} == {str(ok), str(other)} and ok.exists()
    assert [f["path"] for f in listed["left"]] == [str(moved_here)]
    assert "not 7/raw_records as its name says" in listed["left"][0]["reason"]
    assert not superruns.is_stored("5", "raw_records", project=project)
    result = migrate(project)
    assert not ok.exists() and project.path("5", "raw_records").is_file()
    assert project.path("6", "raw_records", "oldlineage").is_file() and moved_here.exists()
    assert [m["current"] for m in sorted(result["moved"], key=lambda m: m["from"])] == [True, False]
    assert superruns.is_stored("5", "raw_records", project=project)
    assert migrate(project)["moved"] == []
