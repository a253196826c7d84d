"""straxen 4.1.1 in its own environment (docs/strax.md, "straxen"), through real snakemake.

straxen's utilix needs pydantic<2 and Snakemake 9 pydantic 2, so straxen lives in a second
virtual environment (`make straxen-env`: .venv-straxen, straxen 4.1.1 + the core package, no
Snakemake; CI builds it in its own step and exports $SUPERRUNS_STRAXEN_PYTHON). The workflow,
run by snakemake in this environment, imports the XAMS run's peaks (cut into three runs at its
chunk boundaries), has straxen's PeakBasicsVanilla compute peak_basics of each run inside the
straxen environment (`strax: {python: ...}`), and builds the superrun; a straxen Context loads it
through the frontend (serve_superruns), bitwise equal to superruns.load there.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from superruns.storage import DataFile
from superruns.straxio.importer import import_directory

from support.workflows import REPO, Workflow
from support.xams import PIECES, RUN, XAMS, missing_decoder, piece_runs

pytestmark = [pytest.mark.strax, pytest.mark.e2e]

HERE = Path(__file__).parent / "straxen_env"
STRAXEN = Path(os.environ.get("SUPERRUNS_STRAXEN_PYTHON") or REPO / ".venv-straxen" / "bin" / "python")

if not XAMS.is_dir():
    pytest.skip(f"the XAMS test data are not at {XAMS}", allow_module_level=True)
if missing_decoder("zstd"):      # the XAMS peaks are zstd chunks
    pytest.skip(f"imports the XAMS peaks: {missing_decoder('zstd')}", allow_module_level=True)
if not STRAXEN.exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"CI: no straxen environment at {STRAXEN} (make straxen-env)")
    pytest.skip(f"no straxen environment at {STRAXEN}: make straxen-env", allow_module_level=True)


def in_straxen(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    result = subprocess.run([str(STRAXEN), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    root = tmp_path_factory.mktemp("straxen")
    for name in ("xams_context.py", "xams_options.json", "check_context.py"):
        shutil.copy(HERE / name, root / name)
    patch = pytest.MonkeyPatch()
    patch.setenv("PYTHONPATH", str(root), prepend=os.pathsep)
    workflow = Workflow(root)
    workflow.write({}, {"_xams": {"runs": PIECES}}, plugins=[], options={},
                   strax={"imported": ["peaks"], "context": "xams_context:make_context",
                          "data_types": ["peak_basics"], "python": str(STRAXEN)})
    import_directory(XAMS, root / "data", runs=piece_runs(),
                     data_types=["peaks"], runs_file=root / "config" / "runs.yaml")
    workflow.snakemake("_xams/peak_basics", "_xams/peaks")
    yield workflow
    patch.undo()


@pytest.fixture(scope="module")
def straxen_oracle(flow, tmp_path_factory):
    """peak_basics as straxen computes it from the original folder, and its key."""
    out = tmp_path_factory.mktemp("oracle")
    shutil.copytree(XAMS, out / "xams")
    code = ("import strax, numpy as np, xams_context\n"
            "st = xams_context.make_context()\n"
            f"st.storage = [strax.DataDirectory({str(out / 'xams')!r}, provide_run_metadata=True)]\n"
            f"np.save({str(out / 'peak_basics.npy')!r}, st.get_array('{RUN}', 'peak_basics', progress_bar=False))\n"
            f"print(st.key_for('{RUN}', 'peak_basics').lineage_hash)\n")
    result = in_straxen("-c", code, cwd=flow.root)
    return np.load(out / "peak_basics.npy"), result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def loaded(flow, tmp_path_factory):
    out = tmp_path_factory.mktemp("loaded")
    in_straxen("check_context.py", str(flow.root / "config" / "config.yaml"), "_xams", "peak_basics", str(out),
               cwd=flow.root)
    return out


def test_straxen_computes_each_run_in_its_own_environment_with_its_lineage_hash(flow, straxen_oracle):
    rows, lineage_hash = straxen_oracle
    project = flow.project()
    for piece in PIECES:
        data = DataFile(project.path(piece, "peak_basics"))
        assert data.metadata["lineage_hash"] == lineage_hash
        assert data.metadata["strax"]["plugin"] == "PeakBasicsVanilla"
    superrun = DataFile(project.path("_xams", "peak_basics"))
    assert superrun.metadata["lineage_hash"] == lineage_hash
    assert superrun.load().tobytes() == rows.tobytes()         # straxen's own result, byte for byte


def test_the_jobs_ran_in_the_straxen_interpreter(flow):
    """The main environment here has strax too: each job's log names its interpreter."""
    for piece in PIECES:
        log = (flow.data / "logs" / "strax_produce" / piece / f"{flow.file(piece, 'peak_basics').name}.log").read_text()
        assert f"interpreter {STRAXEN}" in log and "done in" in log


def test_a_straxen_context_loads_the_superrun_bitwise_equal(loaded):
    facts = json.loads((loaded / "facts.json").read_text())
    assert facts["straxen"] == "4.1.1" and facts["snakemake_importable"] is False
    assert "does not allowed superrun" in facts["unprepared"]      # straxen's refusal, unprepared
    assert facts["is_stored"] and facts["key"].endswith(facts["file_lineage_hash"])
    strax_rows, ours = np.load(loaded / "strax.npy"), np.load(loaded / "ours.npy")
    assert len(ours) == 6204 and strax_rows.dtype == ours.dtype and strax_rows.tobytes() == ours.tobytes()
    with open(loaded / "df_strax.pkl", "rb") as f, open(loaded / "df_ours.pkl", "rb") as g:
        df_strax, df_ours = pickle.load(f), pickle.load(g)
    assert list(df_strax.columns) == list(df_ours.columns)
    for column in df_ours.columns:
        assert df_strax[column].to_numpy().tobytes() == df_ours[column].to_numpy().tobytes(), column


MAKE = """
import sys, superruns
project = superruns.Project.from_file("config/config.yaml")
try:
    superruns.make("_xams_two", "peaks", project=project)
except superruns.orchestration.campaign.MakeError as error:
    print("MakeError:", error, file=sys.stderr)
    sys.exit(3)
assert not any(name.split(".")[0] == "snakemake" for name in sys.modules)
"""


def test_superruns_make_from_the_straxen_environment_builds_through_the_workflows(flow):
    """One kernel: superruns.make in the straxen environment (no Snakemake there, pydantic 1)
    runs the workflow's own Snakemake in the workflow's environment, with the progress bar;
    without one named it says how, and gives no advice that would break straxen."""
    import sys

    (flow.root / "config" / "superruns.d" / "two.yaml").write_text(f"_xams_two: {{runs: {PIECES[:2]}}}\n")
    env = {**os.environ, "PYTHONPATH": str(flow.root)}
    env.pop("SUPERRUNS_WORKFLOW_PYTHON", None)
    refused = subprocess.run([str(STRAXEN), "-c", MAKE], cwd=flow.root, env=env, capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode == 3 and "workflow_python" in refused.stderr and "pydantic 1" in refused.stderr
    assert "pip install" not in refused.stderr
    assert not flow.file("_xams_two", "peaks").exists()
    env["SUPERRUNS_WORKFLOW_PYTHON"] = sys.executable          # the workflow's environment (this one)
    built = subprocess.run([str(STRAXEN), "-c", MAKE], cwd=flow.root, env=env, capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "superruns.make [" in built.stderr and "1/1 jobs" in built.stderr
    assert DataFile(flow.file("_xams_two", "peaks")).metadata["sub_run_spec"] == {p: "all" for p in PIECES[:2]}
