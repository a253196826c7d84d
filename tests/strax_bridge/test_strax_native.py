"""This package's own data types (the simulated detector) loaded by a strax Context: plugin
stubs with our lineage, data through the superruns frontend."""

from __future__ import annotations

import pytest

strax = pytest.importorskip("strax")

import superruns  # noqa: E402
from superruns.build.concatenation import build_from_project  # noqa: E402
from superruns.build.processing import process_run  # noqa: E402
from superruns.detector.common import PMT_GAINS_PER_RUN  # noqa: E402

from support.workflows import Workflow, run_entry  # noqa: E402

pytestmark = pytest.mark.strax

CHAIN = ["raw_records", "peaks", "peak_basics", "events", "event_basics", "event_positions", "event_info"]
GAINS = PMT_GAINS_PER_RUN[0][1]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Two 3 s runs processed in this process and their superrun (no snakemake: fast)."""
    workflow = Workflow(tmp_path_factory.mktemp("native"))
    # Plain gains: strax cannot resolve per-run defaults for superruns (strax-reference 2.9).
    workflow.write({"1": run_entry(0, 3), "2": run_entry(10, 3)}, {"_sr": {"runs": ["1", "2"]}},
                   options={"chunk_duration_s": 1, "pmt_gains": GAINS, "sim_pmt_gains": GAINS})
    project = workflow.project()
    for run in ("1", "2"):
        for data_type in CHAIN:
            inputs = {d: project.path(run, d) for d in project.registry[data_type].depends_on}
            process_run(project, run, data_type, inputs, project.path(run, data_type))
    for data_type in ("peaks", "event_basics", "event_positions", "event_info"):
        build_from_project(project, "_sr", data_type, project.path("_sr", data_type))
    return project


def context(project):
    from superruns.straxio.frontend import SuperrunsFrontend, plugin_stubs

    return strax.Context(storage=[SuperrunsFrontend(project)], register=plugin_stubs(project),
                         use_per_run_defaults=False)


def test_stub_lineages_equal_ours(project):
    st = context(project)
    for data_type in CHAIN:
        for run_id in ("1", "_sr"):
            assert st.key_for(run_id, data_type).lineage_hash == project.lineage_hash(run_id, data_type)


def test_strax_loads_our_runs_and_superruns(project):
    st = context(project)
    for run_id, data_type in (("1", "raw_records"), ("2", "peaks"), ("_sr", "peaks"), ("_sr", "event_info")):
        assert st.get_array(run_id, data_type, progress_bar=False).tobytes() == \
            superruns.load(run_id, data_type, project=project).tobytes()
    merged = st.get_array("_sr", ("event_basics", "event_positions"), progress_bar=False)
    ours = superruns.load("_sr", ["event_basics", "event_positions"], project=project)
    assert len(merged) == len(ours) > 0
    for name in ("s2_area", "x", "drift_time"):
        assert (merged[name] == ours[name]).all()
    assert not st.is_stored("_sr", "events")          # never built as a superrun


def test_unbuilt_data_say_which_snakemake_command_builds_them(project):
    """A stub cannot compute: where strax would, it says how to build what was asked (not
    strax's "Plugin forbids saving of raw_records"), for a regular run and, prepared by
    serve_superruns, for a superrun before strax reads any subrun."""
    from superruns.straxio import serve_superruns
    from superruns.straxio.frontend import NotBuiltError

    st = context(project)
    stored = project.path("1", "event_info")
    stored.rename(stored.with_name("aside"))
    try:
        for save in ((), "event_info"):
            with pytest.raises(NotBuiltError, match=r"snakemake --cores 2 1/event_info.* "
                                                    r"superruns.make\('1', 'event_info'\)"):
                st.get_array("1", "event_info", save=save, progress_bar=False)
    finally:
        stored.with_name("aside").rename(stored)
    serve_superruns(st, project)
    read = []
    original = st.storage[0].backends[0].data_file
    st.storage[0].backends[0].data_file = lambda path: read.append(path) or original(path)
    with pytest.raises(NotBuiltError, match=f"_sr/events is not built.*snakemake --cores 2 _sr/events`"
                                            f" in {project.base_dir}"):
        st.get_array("_sr", "events", progress_bar=False)
    assert not [path for path in read if "/_sr/" not in str(path)]     # no subrun file was opened
    with pytest.raises(strax.DataNotAvailable):                          # strax's own error class too
        st.get_array("_sr", "events", progress_bar=False)


def test_available_for_run_lists_what_is_stored(project):
    st = context(project)
    table = st.available_for_run("_sr").set_index("target")["is_stored"]
    assert table["peaks"] and table["event_info"] and not table["events"]
    assert set(table.index) == set(project.registry)                # every data type, stored or not
    assert set(table[table].index) == {"peaks", "event_basics", "event_positions", "event_info"}
    assert set(st.available_for_run("1").set_index("target")["is_stored"].pipe(lambda t: t[t].index)) == set(CHAIN)


def test_per_run_defaults_get_the_superrun_value_in_stubs(tmp_path):
    """An option with per-run defaults gets our superrun lineage's value in the stub: the
    superrun's key is our superrun file's; a regular run's is not its file's (not served)."""
    from superruns.model.lineage import per_run_spec
    from superruns.straxio.frontend import SuperrunsFrontend, plugin_stubs

    workflow = Workflow(tmp_path)
    workflow.write({"1": run_entry(0, 3), "2": run_entry(5, 3)}, {"_s": {"runs": ["1", "2"]}})
    project = workflow.project()
    per_run = [o.name for dt in project.registry.dependencies("peaks") for o in project.registry[dt].options
               if o.track and per_run_spec(o, project.options) is not None]
    assert per_run, "the test needs a per-run-default option below peaks"
    context = strax.Context(storage=[SuperrunsFrontend(project)], register=plugin_stubs(project, ["peaks"]))
    assert context.key_for("_s", "peaks").lineage_hash == project.lineage_hash("_s", "peaks")
    assert context.key_for("1", "peaks").lineage_hash != project.lineage_hash("1", "peaks")
    # The stub's key stands for the run's value under the per-run spec: the run's current file
    # is served (its lineage has the run's own value).
    for data_type in ("raw_records", "peaks"):
        inputs = {d: project.path("1", d) for d in project.registry[data_type].depends_on}
        process_run(project, "1", data_type, inputs, project.path("1", data_type))
    assert context.is_stored("1", "peaks")
    assert context.get_array("1", "peaks", progress_bar=False).tobytes() == \
        superruns.load("1", "peaks", project=project).tobytes()
    # Another per-run spec (its hash is in the key) names no stored file.
    other = strax.Context(storage=[SuperrunsFrontend(project)], register=plugin_stubs(project, ["peaks"]),
                          config={per_run[0]: "<SUBRUN-DEPENDENT:aaaaaaaaaa>"})
    assert not other.is_stored("1", "peaks")
