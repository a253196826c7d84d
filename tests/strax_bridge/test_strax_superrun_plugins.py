"""strax parity of superrun-level plugins: accidental_events written as a strax plugin
(``allow_superrun = True``, an ``ExhaustPlugin``) and run by strax 2.2.3 on strax's own
superrun of the same subruns gives rows bitwise equal to ours; and our superrun-level files
load from a strax Context through the frontend."""

from __future__ import annotations

import numpy as np
import pytest

strax = pytest.importorskip("strax")

import superruns  # noqa: E402
from superruns.build.concatenation import build_from_project  # noqa: E402
from superruns.build.processing import process_run  # noqa: E402
from superruns.build.superrun_processing import process_superrun_level  # noqa: E402
from superruns.detector.accidentals import ACCIDENTAL_OPTIONS, accidental_events  # noqa: E402
from superruns.detector.common import PMT_GAINS_PER_RUN  # noqa: E402
from superruns.detector.events import EVENT_BASICS_DTYPE  # noqa: E402

from support.workflows import Workflow, run_entry  # noqa: E402

pytestmark = pytest.mark.strax

CHAIN = ["raw_records", "peaks", "peak_basics"]
GAINS = PMT_GAINS_PER_RUN[0][1]
SUBRUNS = ["1", "2", "3"]


@strax.takes_config(*[strax.Option(o.name, default=o.default, track=True, help=o.help)
                      for o in ACCIDENTAL_OPTIONS])
class AccidentalEvents(strax.ExhaustPlugin):
    """The same algorithm as ours, as strax runs it: once over every chunk of a superrun."""

    __version__ = "0.1.0"
    provides = "accidental_events"
    depends_on = "peak_basics"
    data_kind = "accidental_events"
    dtype = EVENT_BASICS_DTYPE
    allow_superrun = True
    save_when = strax.SaveWhen.NEVER

    def compute(self, peaks, start, end):      # peak_basics is of data kind peaks
        return accidental_events(peaks, self.config, start)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Three short runs, their superrun's peak_basics and its accidental_events (no snakemake)."""
    workflow = Workflow(tmp_path_factory.mktemp("level"))
    runs = {run: run_entry(20 * i, 8) for i, run in enumerate(SUBRUNS)}
    # Plain gains: strax cannot resolve per-run defaults for superruns (strax-reference 2.9).
    workflow.write(runs, {"_sr": {"runs": SUBRUNS}},
                   options={"chunk_duration_s": 2, "pmt_gains": GAINS, "sim_pmt_gains": GAINS,
                            "accidental_isolation_ns": 20_000})
    project = workflow.project()
    for run in SUBRUNS:
        for data_type in CHAIN:
            inputs = {d: project.path(run, d) for d in project.registry[data_type].depends_on}
            process_run(project, run, data_type, inputs, project.path(run, data_type))
    build_from_project(project, "_sr", "peak_basics", project.path("_sr", "peak_basics"))
    for data_type in ("accidental_events", "peak_rates"):
        process_superrun_level(project, "_sr", data_type, {"peak_basics": project.path("_sr", "peak_basics")},
                               project.path("_sr", data_type))
    return project


def stubs(project, data_types):
    from superruns.straxio.frontend import plugin_stubs

    return plugin_stubs(project, data_types)


def test_strax_exhaust_plugin_on_its_own_superrun_gives_our_rows_bitwise(project, tmp_path):
    from superruns.straxio.frontend import SuperrunsFrontend

    classes = stubs(project, ["peak_basics"])
    for cls in classes:          # strax loads peak_basics per subrun and concatenates them
        cls.allow_superrun = False
    # strax's own superrun: its run document in a DataDirectory (our frontend defines none),
    # with the subruns' documents (strax 2.2.3 asks only the first frontend that answers)
    frontend = SuperrunsFrontend(project)
    directory = strax.DataDirectory(str(tmp_path), provide_run_metadata=True, readonly=False)
    for run in SUBRUNS:
        directory.write_run_metadata(run, frontend.run_metadata(run))
    st = strax.Context(storage=[directory, frontend],
                       register=classes + [AccidentalEvents], use_per_run_defaults=False,
                       config={"accidental_isolation_ns": 20_000})
    st.define_run("_strax_sr", SUBRUNS)
    theirs = st.get_array("_strax_sr", "accidental_events", progress_bar=False)
    ours = superruns.load("_sr", "accidental_events", project=project)
    assert len(ours) > 5
    assert theirs.dtype == ours.dtype and theirs.tobytes() == ours.tobytes()
    # pairs span the subruns: the shuffle is over the whole superrun, not per run
    run_of = np.searchsorted([project.runs[r].start for r in SUBRUNS], ours["s1_time"] - ours["drift_time"])
    assert len(set(run_of.tolist())) > 1


def test_our_superrun_level_files_load_from_a_strax_context(project):
    from superruns.straxio.frontend import SuperrunsFrontend

    level = ["accidental_events", "peak_rates"]          # exhaust and streaming
    st = strax.Context(storage=[SuperrunsFrontend(project)], register=stubs(project, level),
                       use_per_run_defaults=False)
    for data_type in level:
        assert st.key_for("_sr", data_type).lineage_hash == project.lineage_hash("_sr", data_type)
        loaded = st.get_array("_sr", data_type, progress_bar=False)
        ours = superruns.load("_sr", data_type, project=project)
        assert len(ours) > 0 and loaded.tobytes() == ours.tobytes()
