"""The strax bridge with strax's own test plugins (strax-reference section 4, "Fixture F").

One workflow makes the subruns ``0``, ``1``, ``2`` with strax's ``Records``/``Peaks``/
``PeakClassification`` through the rule ``strax_produce`` (real snakemake) and builds the
superrun ``_superrun_test``; strax itself makes the same subruns and stores the same superrun
(``write_superruns=True``). The tests compare the two bit for bit, through the storage frontend,
the export and the import, and turn the behaviours of strax-reference section 4 into tests of
this project (where strax is wrong, our behaviour is tested: docs/strax.md lists the divergences).
"""

from __future__ import annotations

import datetime
import json
import shutil
import sys

import numpy as np
import pytest
import yaml

strax = pytest.importorskip("strax")
testutils = pytest.importorskip("strax.testutils", reason="strax's test plugins need boltons")

from superruns.storage import DataFile  # noqa: E402

from support.workflows import Workflow  # noqa: E402

pytestmark = [pytest.mark.strax, pytest.mark.e2e,   # strax warns so making its reference superrun:
              pytest.mark.filterwarnings("ignore:The subruns are not continuous:UserWarning")]

FACTORY = "strax_fixture_f"
FACTORY_SOURCE = '''
"""strax's test plugins as a strax Context factory for the workflow (Fixture F)."""
import strax
from strax.testutils import PeakClassification, Peaks, Records as _Records

PLUGINS = []      # no plugins of the superruns package: every data type comes from strax


class Records(_Records):
    """strax's test Records; run N starts at 10 * N ns, as the subruns of strax's superrun tests."""

    def setup(self):
        self.config = dict(self.config, secret_time_offset=10 * int(self.run_id))


def make_context():
    return strax.Context(storage=[], register=[Records, Peaks, PeakClassification],
                         config={"bonus_area": 42, "n_chunks": 1}, use_per_run_defaults=False)
'''
SUBRUNS = ["0", "1", "2"]
ID_ORDER = ["8", "9", "10"]          # string order "10" < "8" < "9" is not time order
RUNS = {run: {"start": 10 * int(run), "end": 10 * int(run) + 1, "mode": mode, "source": "test"}
        for run, mode in zip(SUBRUNS + ID_ORDER, ["mode_a", "mode_b", "mode_a"] * 2)}
SUPERRUNS = {
    "_superrun_test": {"runs": SUBRUNS},
    "_ranges": {"ranges": {"0": [[0, 1]], "1": [[10, 11]]}},       # strax: list of pairs crashes
    "_inner": {"runs": ["0", "1"]},
    "_nested": {"runs": ["_inner", "2"]},                           # strax: nesting fails
    "_ids": {"runs": ["10", "9", "8"]},                             # strax: out-of-order chunks
}
STRAX_CONFIG = {"context": f"{FACTORY}:make_context", "data_types": ["records", "peaks", "peak_classification"]}
LINEAGE_HASHES = {"records": "j3nd2fjbiq", "peaks": "xia2iit6vb"}   # strax-reference 2.9


def our_context(project, **kwargs):
    """The factory's Context reading the workflow's files (and nothing else)."""
    from superruns.straxio.frontend import SuperrunsFrontend

    context = sys.modules[FACTORY].make_context()
    context.storage = [SuperrunsFrontend(project, **kwargs)]
    return context


def build_superrun(project, name, data_type):
    from superruns.build.concatenation import build_from_project

    build_from_project(project, name, data_type, project.path(name, data_type))


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    """Subruns made by strax through snakemake, the superrun built by the workflow; then, in
    this process, peak_classification and the other superruns (to keep the test fast)."""
    root = tmp_path_factory.mktemp("strax_flow")
    (root / f"{FACTORY}.py").write_text(FACTORY_SOURCE)
    patch = pytest.MonkeyPatch()
    patch.syspath_prepend(str(root))
    patch.setenv("PYTHONPATH", str(root), prepend=":")
    workflow = Workflow(root)
    workflow.write(RUNS, SUPERRUNS, plugins=[FACTORY], strax=STRAX_CONFIG)
    workflow.snakemake("_superrun_test/peaks")
    project = workflow.project()
    from superruns.straxio.producer import produce

    for run in SUBRUNS:
        produce(project, run, "peak_classification", {"peaks": project.path(run, "peaks")},
                project.path(run, "peak_classification"))
    for run in ID_ORDER:
        for data_type, inputs in (("records", {}), ("peaks", {"records": project.path(run, "records")})):
            produce(project, run, data_type, inputs, project.path(run, data_type))
    build_superrun(project, "_superrun_test", "peak_classification")
    for name in ("_ranges", "_inner", "_nested", "_ids"):
        build_superrun(project, name, "peaks")
    yield workflow
    patch.undo()


def write_run_doc(directory, run_id, start, end, **extra):
    from bson import json_util

    doc = {"name": run_id, "start": start, "end": end, **extra}
    (directory / f"{run_id}-metadata.json").write_text(json.dumps(doc, default=json_util.default))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """strax's own Fixture F: subruns 0, 1, 2 and the stored superrun _superrun_test."""
    path = tmp_path_factory.mktemp("strax_reference")
    context = strax.Context(
        storage=[strax.DataDirectory(str(path), provide_run_metadata=True, readonly=False, deep_scan=True)],
        register=[testutils.Records, testutils.Peaks, testutils.PeakClassification],
        config={"bonus_area": 42, "n_chunks": 1}, use_per_run_defaults=False, write_superruns=True)
    epoch = datetime.datetime(1970, 1, 1)
    for run in SUBRUNS:
        context.set_config({"secret_time_offset": 10 * int(run)})
        context.make(run, "peaks", progress_bar=False)
        # As strax's test does: the run document spans seconds, the data nanoseconds.
        start = epoch + datetime.timedelta(seconds=10 * int(run))
        write_run_doc(path, run, start, start + datetime.timedelta(seconds=1), mode=RUNS[run]["mode"], source="test")
    context.set_config({"secret_time_offset": 0})
    context.define_run("_superrun_test", SUBRUNS)
    context.make("_superrun_test", "peak_classification", progress_bar=False)
    context.path = path
    return context


# -- subruns made by strax through the workflow -------------------------------------------------------------


def test_subruns_keep_strax_lineage_and_data(flow, reference):
    project = flow.project()
    for run in SUBRUNS:
        for data_type in ("records", "peaks", "peak_classification"):
            md = DataFile(project.path(run, data_type)).metadata
            key = reference.key_for(run, data_type)
            assert md["lineage_hash"] == key.lineage_hash == project.lineage_hash(run, data_type)
            assert md["lineage"] == json.loads(json.dumps(key.lineage))
            ours = DataFile(project.path(run, data_type)).load()
            assert ours.tobytes() == reference.get_array(run, data_type, progress_bar=False).tobytes()
    assert {dt: reference.key_for("0", dt).lineage_hash for dt in LINEAGE_HASHES} == LINEAGE_HASHES
    # peak_classification's plugin also provides lone_hits: strax keys its lineage by that.
    assert "lone_hits" in DataFile(project.path("0", "peak_classification")).metadata["lineage"]


def test_built_strax_workflow_has_nothing_to_do(flow):
    result = flow.snakemake("-n", "_superrun_test/peaks")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_registry_knows_strax_data_types(flow):
    registry = flow.project().registry
    assert registry["records"].depends_on == ()
    assert registry["peaks"].depends_on == ("records",)
    assert registry["peak_classification"].data_kind == "peaks"
    assert registry["peaks"].dtype == np.dtype(strax.peak_dtype())
    assert registry.data_types_of_kind("peaks") == ["peaks", "peak_classification"]


def test_strax_data_types_come_from_the_provider_and_say_their_lineage(flow):
    from superruns.straxio.registry import StraxDataType

    project = flow.project()
    assert project.plugin_references() == [FACTORY, "superruns.straxio:plugins"]
    assert all(isinstance(project.registry[dt], StraxDataType) for dt in project.registry)
    assert project.lineage_hash("0", "peaks") == LINEAGE_HASHES["peaks"]
    assert project.lineage("_superrun_test", "peaks") == project.lineage("0", "peaks")


def test_strax_made_outputs_have_a_provenance_record(flow):
    """The rule strax_produce runs through the one job wrapper, like every rule."""
    provenance = DataFile(flow.project().path("0", "peaks")).metadata["provenance"]
    assert provenance["job"] == {"rule": "strax_produce", "run_id": "0", "data_type": "peaks"}
    assert provenance["lineage_hash"] == LINEAGE_HASHES["peaks"]
    [(name, described)] = provenance["inputs"].items()
    assert name.endswith(f"0/records-{LINEAGE_HASHES['records']}") and described["lineage_hash"] == LINEAGE_HASHES["records"]


def test_superrun_through_frontend_equals_strax_stored_superrun(flow, reference):
    """The acceptance test: same key, same lineage hash, same bytes."""
    project = flow.project()
    context = our_context(project)
    ours = context.get_array("_superrun_test", "peaks", progress_bar=False)
    theirs = reference.get_array("_superrun_test", "peaks", progress_bar=False)
    assert reference.is_stored("_superrun_test", "peaks")
    assert len(ours) == 30 and ours.dtype == theirs.dtype
    assert ours.tobytes() == theirs.tobytes()
    key = context.key_for("_superrun_test", "peaks")
    assert str(key) == str(reference.key_for("_superrun_test", "peaks")) == "_superrun_test_xasmpdqviq-peaks-xia2iit6vb"
    assert DataFile(project.path("_superrun_test", "peaks")).metadata["lineage_hash"] == key.lineage_hash
    # strax's item 37: the superrun is its subruns' data.
    assert ours.tobytes() == context.get_array(SUBRUNS, "peaks", add_run_id_field=False,
                                               progress_bar=False).tobytes()


def test_several_data_types_of_one_kind(flow, reference):
    context = our_context(flow.project())
    targets = ("peaks", "peak_classification")
    ours = context.get_array("_superrun_test", targets, progress_bar=False)
    theirs = reference.get_array("_superrun_test", targets, progress_bar=False)
    assert ours.dtype == theirs.dtype and len(ours) == 30
    assert ours.tobytes() == theirs.tobytes()


def test_is_stored_checks_lineage_and_definition(flow):
    context = our_context(flow.project())
    assert context.is_stored("_superrun_test", "peaks") and context.is_stored("0", "records")
    assert not context.is_stored("_superrun_test", "records")       # never built
    assert not context.is_stored("_superrun_test", "peaks", combining=True)
    assert not our_context(flow.project(), exclude_superruns="peaks").is_stored("_superrun_test", "peaks")
    assert not our_context(flow.project(), exclude_superruns="peaks").is_stored("_superrun_test", "peaks")
    other = context.new_context(config={"bonus_area": 1})             # another lineage hash
    assert not other.is_stored("_superrun_test", "peaks") and not other.is_stored("0", "peaks")
    assert other.is_stored("0", "records")


def test_frontend_run_documents(flow):
    """strax items 1, 2, 3, 10: start/end/livetime of the superrun, subruns in time order,
    sorted modes, no empty tag."""
    context = our_context(flow.project())
    doc = context.run_metadata("_superrun_test")
    subs = [context.run_metadata(run) for run in SUBRUNS]
    assert doc["start"] == subs[0]["start"] and doc["end"] == subs[-1]["end"]
    assert doc["livetime"] == pytest.approx(sum((RUNS[r]["end"] - RUNS[r]["start"]) / 1e9 for r in SUBRUNS))
    assert list(doc["sub_run_spec"]) == SUBRUNS
    assert doc["mode"] == ["mode_a", "mode_b"] and doc["source"] == ["test"] and doc["tags"] == []
    assert context.run_metadata("_superrun_test", projection="sub_run_spec") == {
        "sub_run_spec": {"0": "all", "1": "all", "2": "all"}}
    with pytest.raises(strax.RunMetadataNotAvailable):
        context.run_metadata("_nosuch")
    runs = context.select_runs()
    assert set(runs["name"]) == set(RUNS) | set(SUPERRUNS)          # no phantom runs (strax item 57)
    assert runs.set_index("name").loc["_superrun_test", "mode"] == "mode_a,mode_b"      # item 56


def test_frontend_lets_strax_fall_through_to_the_next_frontend(flow, reference, tmp_path):
    """Our frontend first, a DataDirectory behind it: a run only the DataDirectory knows (its
    data and run document written by strax itself), a superrun defined with strax's own
    define_run and computed by strax, and our stored superrun, all in one Context."""
    from superruns.straxio import serve_superruns

    behind = strax.DataDirectory(str(tmp_path), provide_run_metadata=True, readonly=False)
    context = sys.modules[FACTORY].make_context()
    context.storage = [behind]
    context.set_config({"secret_time_offset": 50})
    context.make("5", "records", progress_bar=False)           # run 5: strax's data, strax's run document
    start = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=50)
    behind.write_run_metadata("5", {"name": "5", "start": start, "end": start + datetime.timedelta(seconds=1),
                                    "mode": "mode_c", "source": "test"})
    context.set_config({"secret_time_offset": 0})
    serve_superruns(context, flow.project())                   # ours first, strax's behind
    assert context.run_metadata("5")["mode"] == "mode_c"       # only the DataDirectory knows run 5
    assert context.run_metadata("0")["source"] == "test"       # ours
    context.define_run("_strax_sr", ["0", "5"])                # written to the DataDirectory
    assert (tmp_path / "_strax_sr-metadata.json").is_file() and not (flow.project().data_dir / "_strax_sr").exists()
    computed = context.get_array("_strax_sr", "peaks", progress_bar=False)
    subruns = context.get_array(["0", "5"], "peaks", add_run_id_field=False, progress_bar=False)
    assert len(computed) == 20 and computed.tobytes() == subruns.tobytes()
    ours = context.get_array("_superrun_test", "peaks", progress_bar=False)
    assert ours.tobytes() == reference.get_array("_superrun_test", "peaks", progress_bar=False).tobytes()
    assert set(context.select_runs()["name"]) >= {"5", "_strax_sr", "_superrun_test", "0"}


def test_frontend_without_project_reads_files(flow):
    project = flow.project()
    context = sys.modules[FACTORY].make_context()
    from superruns.straxio.frontend import SuperrunsFrontend

    context.storage = [SuperrunsFrontend(data_dir=project.data_dir)]
    assert context.get_array("_superrun_test", "peaks", progress_bar=False).tobytes() == \
        our_context(project).get_array("_superrun_test", "peaks", progress_bar=False).tobytes()


def test_stored_superrun_chunks_and_metadata(flow, reference):
    """strax items 38, 40, 41: one chunk holding exactly what each subrun's peaks span."""
    context = our_context(flow.project())
    meta = context.get_metadata("_superrun_test", "peaks")
    chunks = list(context.get_iter("_superrun_test", "peaks", progress_bar=False))
    assert len(meta["chunks"]) == len(chunks) == 1
    chunk = chunks[0]
    assert chunk.is_superrun and chunk.run_id == "_superrun_test"
    assert meta["chunks"][0]["subruns"] == chunk.subruns == reference.get_metadata(
        "_superrun_test", "peaks")["chunks"][0]["subruns"]
    for run, span in chunk.subruns.items():
        peaks = context.get_array(run, "peaks", progress_bar=False)
        assert span == {"start": int(peaks["time"].min()), "end": int(strax.endtime(peaks).max())}
    assert chunk.first_subrun == {"run_id": "0", **chunk.subruns["0"]}
    assert chunk.last_subrun == {"run_id": "2", **chunk.subruns["2"]}
    assert meta["chunks"][0]["first_time"] == 0 and meta["chunks"][0]["last_endtime"] == 21


def test_time_range_on_stored_superrun(flow, reference):
    """strax item 46: a stored superrun loads a time range."""
    context = our_context(flow.project())
    ours = context.get_array("_superrun_test", "peaks", time_range=(0, 12), progress_bar=False)
    assert len(ours) == 20
    assert ours.tobytes() == reference.get_array("_superrun_test", "peaks", time_range=(0, 12),
                                                 progress_bar=False).tobytes()


def test_superrun_needs_no_subrun_files(flow):
    """strax item 45: the stored superrun is read alone."""
    project = flow.project()
    moved = project.data_dir / "moved"
    moved.mkdir()
    try:
        for run in SUBRUNS:
            shutil.move(str(project.data_dir / run), str(moved / run))
        assert len(our_context(project).get_array("_superrun_test", "peaks", progress_bar=False)) == 30
    finally:
        for run in SUBRUNS:
            shutil.move(str(moved / run), str(project.data_dir / run))
        moved.rmdir()


def test_ranges_and_nested_superruns(flow):
    """strax items 12-14 and 16: a list of ranges per subrun and nested superruns load (strax
    crashes on the first and cannot load the second)."""
    project = flow.project()
    context = our_context(project)
    ranged = context.get_array("_ranges", "peaks", progress_bar=False)
    assert len(ranged) == 20 and set(ranged["time"]) == {0, 10}
    nested = context.get_array("_nested", "peaks", progress_bar=False)
    assert nested.tobytes() == context.get_array("_superrun_test", "peaks", progress_bar=False).tobytes()
    assert context.run_metadata("_nested")["sub_run_spec"] == {"_inner": "all", "2": "all"}
    assert context.run_metadata("_ranges")["sub_run_spec"] == {"0": [[0, 1]], "1": [[10, 11]]}


def test_only_superrun_level_types_load_through_strax(flow):
    """strax item 29: strax refuses superruns of data types that do not allow them (records),
    even when stored; superruns.load reads them."""
    import superruns

    project = flow.project()
    build_superrun(project, "_superrun_test", "records")
    with pytest.raises(ValueError, match="does not allowed superrun"):
        our_context(project).get_array("_superrun_test", "records", progress_bar=False)
    assert len(superruns.load("_superrun_test", "records", project=project)) == 30
    with pytest.raises(ValueError):                               # strax item 27
        our_context(project).get_array("0", "peaks", combining=True, progress_bar=False)


def test_redefinition_hides_the_old_superrun_file(flow):
    """strax items 20, 21: the superrun key carries the definition's hash; a file built for
    another definition is not served until rebuilt, and the order of subruns does not matter."""
    path = flow.root / "config" / "superruns.yaml"
    original = path.read_text()
    try:
        path.write_text(yaml.safe_dump(dict(SUPERRUNS, _superrun_test={"runs": ["0", "1"]})))
        project = flow.project()
        context = our_context(project)
        assert str(context.key_for("_superrun_test", "peaks")) == "_superrun_test_dgoccabkea-peaks-xia2iit6vb"
        assert not context.is_stored("_superrun_test", "peaks")
        path.write_text(yaml.safe_dump(dict(SUPERRUNS, _superrun_test={"runs": ["2", "1", "0"]})))
        assert our_context(flow.project()).is_stored("_superrun_test", "peaks")
    finally:
        path.write_text(original)


def test_chunk_subruns_stay_exact_after_rechunking(flow):
    """strax item 53: strax's stored chunks claim supersets of their subruns after a split;
    ours say exactly which subruns each chunk holds, and strax's continuity check accepts them."""
    project = flow.project()
    project.config["storage"]["chunk_target_size_mb"] = 1e-6          # ~one subrun per chunk
    output = project.data_dir / "_superrun_test" / "peaks.small"
    from superruns.build.concatenation import build_from_project

    build_from_project(project, "_superrun_test", "peaks", output)
    chunks = DataFile(output).chunks
    assert [list(c.subruns) for c in chunks] == [["0"], ["1"], ["2"]]
    for c in chunks:
        rows = DataFile(output).read_chunk(c.chunk_i)
        (run, span), = c.subruns.items()
        assert span == {"start": int(rows["time"].min()), "end": int(strax.endtime(rows).max())}
        assert set(rows["time"]) == {10 * int(run)}
    from superruns.straxio.frontend import SuperrunsBackend

    loaded = list(SuperrunsBackend().loader(str(output)))
    assert [c.subruns for c in loaded] == [c.subruns for c in chunks]
    assert len(list(strax.continuity_check(iter(loaded)))) == 3
    output.unlink()


# -- export and import -----------------------------------------------------------------------------------------


def test_export_loads_in_a_vanilla_strax_context(flow, reference, tmp_path):
    from superruns.straxio.exporter import export_run

    project = flow.project()
    folders = export_run(project, "_superrun_test", ["peaks", "peak_classification"], tmp_path)
    for run in SUBRUNS:
        export_run(project, run, ["records", "peaks"], tmp_path)
    assert folders[0].name == "_superrun_test_xasmpdqviq-peaks-xia2iit6vb"
    vanilla = strax.Context(storage=[strax.DataDirectory(str(tmp_path), provide_run_metadata=True, readonly=True)],
                            register=[testutils.Records, testutils.Peaks, testutils.PeakClassification],
                            config={"bonus_area": 42}, use_per_run_defaults=False)
    assert vanilla.is_stored("_superrun_test", "peaks") and vanilla.is_stored("1", "records")
    for targets in ("peaks", ("peaks", "peak_classification")):
        assert vanilla.get_array("_superrun_test", targets, progress_bar=False).tobytes() == \
            reference.get_array("_superrun_test", targets, progress_bar=False).tobytes()
    assert vanilla.get_array(SUBRUNS, "records", progress_bar=False).tobytes() == \
        reference.get_array(SUBRUNS, "records", progress_bar=False).tobytes()
    # The metadata is strax's, field for field, and the chunk file is byte-identical.
    ours_md = json.loads((folders[0] / "peaks-xia2iit6vb-metadata.json").read_text())
    theirs_dir = reference.path / "_superrun_test_xasmpdqviq-peaks-xia2iit6vb"
    theirs_md = json.loads((theirs_dir / "peaks-xia2iit6vb-metadata.json").read_text())
    for md in (ours_md, theirs_md):
        md.pop("writing_started"), md.pop("writing_ended")
    assert ours_md == theirs_md
    assert (folders[0] / "peaks-xia2iit6vb-000000").read_bytes() == \
        (theirs_dir / "peaks-xia2iit6vb-000000").read_bytes()
    doc = json.loads((tmp_path / "_superrun_test-metadata.json").read_text())
    assert doc["sub_run_spec"] == {"0": "all", "1": "all", "2": "all"} and "$date" in doc["start"]


@pytest.mark.parametrize("compressor", ["zstd", "lz4", "bz2"])
def test_export_with_other_compressors(flow, reference, tmp_path, compressor):
    from superruns.straxio.exporter import export_run

    project = flow.project()
    export_run(project, "_nested", ["peaks"], tmp_path, compressor=compressor)
    vanilla = strax.Context(storage=[strax.DataDirectory(str(tmp_path), provide_run_metadata=True, readonly=True)],
                            register=[testutils.Records, testutils.Peaks], config={"bonus_area": 42},
                            use_per_run_defaults=False)
    assert vanilla.get_array("_nested", "peaks", progress_bar=False).tobytes() == \
        reference.get_array("_superrun_test", "peaks", progress_bar=False).tobytes()


def test_import_builds_a_superrun_equal_to_strax(reference, tmp_path, monkeypatch):
    """strax's subrun folders imported (without run documents: start/end from the data); the
    superrun built here equals strax's stored one."""
    from superruns.straxio.importer import import_directory

    strax_dir = tmp_path / "strax"
    for folder in reference.path.iterdir():
        if folder.is_dir() and folder.name[0] in "012":
            shutil.copytree(folder, strax_dir / folder.name)
    (tmp_path / "no_native_plugins.py").write_text("PLUGINS = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    Workflow(tmp_path).write({}, {"_superrun_test": {"runs": SUBRUNS}}, plugins=["no_native_plugins"],
                             strax={"imported": ["records", "peaks"]}, options={})
    results = import_directory(strax_dir, tmp_path / "data", runs=SUBRUNS, data_types=["records", "peaks"],
                               runs_file=tmp_path / "config" / "runs.yaml")
    assert {(r.run_id, r.data_type) for r in results} == {(r, dt) for r in SUBRUNS for dt in ("records", "peaks")}
    project = Workflow(tmp_path).project()
    assert [(run.start, run.end) for run in project.runs.values()] == [(0, 1), (10, 11), (20, 21)]
    assert project.lineage_hash("_superrun_test", "peaks") == "xia2iit6vb"
    build_superrun(project, "_superrun_test", "peaks")
    ours = DataFile(project.path("_superrun_test", "peaks")).load()
    assert ours.tobytes() == reference.get_array("_superrun_test", "peaks", progress_bar=False).tobytes()
    again = import_directory(strax_dir, tmp_path / "data", runs=SUBRUNS, data_types=["records", "peaks"])
    assert all(r.skipped for r in again)                                   # imports are idempotent


def test_subruns_in_time_order_not_id_order(flow, tmp_path):
    """strax items 3 and 55: strax stores sub_run_spec sorted by id string and then fails
    ("out-of-order chunks") for ids 8, 9, 10; here subruns are in time order everywhere."""
    from superruns.straxio.exporter import export_run

    project = flow.project()
    context = our_context(project)
    assert list(context.run_metadata("_ids")["sub_run_spec"]) == ID_ORDER
    times = context.get_array("_ids", "peaks", progress_bar=False)["time"]
    assert list(times) == sorted(times) and set(times) == {80, 90, 100}
    export_run(project, "_ids", ["peaks"], tmp_path)
    vanilla = strax.Context(storage=[strax.DataDirectory(str(tmp_path), provide_run_metadata=True, readonly=True)],
                            register=[testutils.Records, testutils.Peaks], config={"bonus_area": 42},
                            use_per_run_defaults=False)
    assert list(vanilla.get_array("_ids", "peaks", progress_bar=False)["time"]) == list(times)


@pytest.mark.parametrize("name, data, message", [
    ("nounderscore", ["0", "1"], "_"),          # strax item 4: prepends "_" silently
    ("_dup", ["0", "0", "1"], "twice"),         # item 5: collapses duplicates silently
    ("_number", 5, None),                       # item 6
    ("_string", "0", None),                     # item 6
    ("_unknown", ["0", "99"], "99"),            # item 7
    ("_empty", [], None),                       # item 17: strax accepts an empty superrun
    ("_overlap", ["_superrun_test", "1"], "1"),  # item 16: strax stores it, then cannot load it
])
def test_bad_definitions_are_refused(flow, name, data, message):
    import superruns
    from superruns.definitions import DefinitionError

    project = flow.project()
    with pytest.raises(DefinitionError, match=message):
        superruns.define_run(name, data, project=project)
    assert not list((flow.root / "config" / "superruns.d").glob("*.yaml"))


def test_define_from_events_array(flow):
    """strax item 15: strax cannot define a superrun from an array; here the events' windows
    become ranges, and strax loads the superrun built from them."""
    import superruns

    project = flow.project()
    events_by_run = np.zeros(2, dtype=strax.time_fields + [(("run", "run_id"), "U8")])
    events_by_run["time"], events_by_run["endtime"], events_by_run["run_id"] = [0, 20], [1, 21], ["0", "2"]
    path = superruns.define_run("_events", events_by_run, project=project)
    try:
        project = flow.project()
        assert project.definitions.sub_run_spec("_events") == {"0": [[0, 1]], "2": [[20, 21]]}
        build_superrun(project, "_events", "peaks")
        peaks = our_context(project).get_array("_events", "peaks", progress_bar=False)
        assert len(peaks) == 20 and set(peaks["time"]) == {0, 20}
    finally:
        path.unlink()
        shutil.rmtree(project.data_dir / "_events", ignore_errors=True)
