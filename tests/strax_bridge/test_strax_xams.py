"""Import of real strax data (XAMS run 002240: lz4, zstd and blosc chunks) and export back.

The run is cut at its raw_records chunk boundaries into three runs; the workflow builds a
superrun of them with snakemake, and every data type equals what strax reads from the original
folders, byte for byte (padding included). strax's own reader is the oracle.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import yaml

strax = pytest.importorskip("strax")

from superruns.storage import DataFile  # noqa: E402
from superruns.straxio.exporter import export_run  # noqa: E402
from superruns.straxio.format import StraxFormatError, iter_folder_chunks, read_folder_metadata, scan_directory  # noqa: E402
from superruns.straxio.importer import import_directory  # noqa: E402

from support.workflows import Workflow  # noqa: E402
from support.xams import PIECES, RUN, XAMS, chunk_bounds, piece_runs, strax_only_root  # noqa: E402

pytestmark = [pytest.mark.strax, pytest.mark.e2e]

if not XAMS.is_dir():
    pytest.skip(f"the XAMS test data are not at {XAMS}", allow_module_level=True)

DATA_TYPES = ["raw_records", "peaks", "peak_basics", "peak_positions"]


def strax_rows(data_type: str) -> bytes:
    """What strax's own backend reads from the original folder: the rows' bytes, in order."""
    folder = next(f for f in scan_directory(XAMS) if f.data_type == data_type)
    return b"".join(chunk.data.tobytes() for chunk in strax.FileSytemBackend().loader(str(folder.path)))


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    root, patch = strax_only_root(tmp_path_factory, "xams")
    workflow = Workflow(root)
    superruns_doc = {"_xams": {"runs": PIECES}, "_whole": {"runs": [RUN]}}
    workflow.write({}, superruns_doc, plugins=["no_native_plugins"], strax={"imported": DATA_TYPES}, options={})
    runs_file = root / "config" / "runs.yaml"
    import_directory(XAMS, root / "data", runs=piece_runs(),
                     runs_file=runs_file)
    import_directory(XAMS, root / "data", runs=[RUN], runs_file=runs_file)
    workflow.snakemake(*[f"_xams/{dt}" for dt in DATA_TYPES], "_whole/peaks")
    yield workflow
    patch.undo()


def test_reads_lz4_zstd_and_blosc_like_strax():
    compressors = set()
    for folder in scan_directory(XAMS):
        md = read_folder_metadata(folder)
        compressors.add(md["compressor"])
        ours = b"".join(rows.tobytes() for _, rows in iter_folder_chunks(folder, md))
        assert ours == strax_rows(folder.data_type)
    assert compressors == {"lz4", "zstd", "blosc"}


def test_registry_gets_run_documents_and_cuts(flow):
    project = flow.project()
    bounds = chunk_bounds()
    assert [(project.runs[p].start, project.runs[p].end) for p in PIECES] == list(zip(bounds[:-1], bounds[1:]))
    whole = project.runs[RUN]     # from 002240-metadata.json ($date, milliseconds)
    assert (whole.start, whole.end) == (1636719575004000000, 1636719591496000000)
    assert whole.mode == "xamsl_V1730_30ADC_th" and whole.source == "none"
    for data_type in DATA_TYPES:
        folder = next(f for f in scan_directory(XAMS) if f.data_type == data_type)
        assert project.lineage_hash("_xams", data_type) == folder.lineage_hash
        assert project.registry[data_type].data_kind == read_folder_metadata(folder)["data_kind"]


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_superrun_of_the_cut_run_equals_strax_data(flow, data_type):
    project = flow.project()
    data = DataFile(project.path("_xams", data_type))
    assert data.load().tobytes() == strax_rows(data_type)
    assert data.metadata["lineage_hash"] == project.lineage_hash(RUN, data_type)
    assert list(data.metadata["sub_run_spec"]) == PIECES
    held = {run for chunk in data.chunks for run in chunk.subruns}
    assert held == set(PIECES)


def test_whole_run_keeps_rows_before_its_run_document(flow):
    """The run document ends before the last peak does (and starts 4 ms after the data's first
    chunk): a subrun named whole keeps every row."""
    project = flow.project()
    data = DataFile(project.path("_whole", "peaks"))
    assert data.load().tobytes() == strax_rows("peaks")
    assert data.metadata["start"] < project.runs[RUN].start
    assert data.chunks[-1].last_endtime > project.runs[RUN].end


def test_kind_merge_of_imported_types(flow):
    import superruns

    merged = superruns.load("_xams", ["peaks", "peak_basics", "peak_positions"], project=flow.project())
    basics = np.frombuffer(strax_rows("peak_basics"), DataFile(flow.project().path(RUN, "peak_basics")).dtype)
    assert len(merged) == len(basics) == 6204
    for name in ("area", "range_50p_area", "center_time"):
        assert np.array_equal(merged[name], basics[name], equal_nan=True)


def test_export_reads_back_in_strax(flow, tmp_path):
    project = flow.project()
    folders = export_run(project, "_xams", ["peaks"], tmp_path)                       # blosc
    folders += export_run(project, "_xams", ["peak_positions"], tmp_path, compressor="bz2")
    md = DataFile(project.path("_xams", "peaks")).metadata
    key = strax.DataKey("_xams", "peaks", md["lineage"], subruns={p: "all" for p in PIECES})
    assert folders[0].name == str(key)
    for folder, data_type in zip(folders, ["peaks", "peak_positions"]):
        chunks = list(strax.FileSytemBackend().loader(str(folder)))
        assert b"".join(c.data.tobytes() for c in chunks) == strax_rows(data_type)
        assert all(c.run_id == "_xams" and set(c.subruns) <= set(PIECES) for c in chunks)
    doc = strax.DataDirectory(str(tmp_path), readonly=True).run_metadata("_xams")
    assert doc["sub_run_spec"] == {p: "all" for p in PIECES}
    assert doc["start"].isoformat() == "2021-11-12T12:19:35"


def test_cut_inside_a_row_is_refused(tmp_path):
    folder = next(f for f in scan_directory(XAMS) if f.data_type == "peaks")
    _, rows = next(iter_folder_chunks(folder))
    wide = int(np.argmax(rows["length"] * rows["dt"]))
    cut = int(rows["time"][wide]) + 1
    with pytest.raises(StraxFormatError, match="reaches across the cut"):
        import_directory(XAMS, tmp_path, runs={"a": (RUN, cut - 10**9, cut)}, data_types=["peaks"])
    assert not (tmp_path / "a" / "peaks").exists()


def test_incomplete_or_damaged_folders_are_refused(tmp_path):
    source = next(f for f in scan_directory(XAMS) if f.data_type == "peak_positions")
    copy = tmp_path / "strax" / source.path.name
    shutil.copytree(source.path, copy)
    md_path = copy / f"{source.prefix}-metadata.json"
    md = json.loads(md_path.read_text())
    md_path.write_text(json.dumps({k: v for k, v in md.items() if k != "writing_ended"}))
    with pytest.raises(StraxFormatError, match="writing never ended"):
        import_directory(tmp_path / "strax", tmp_path / "data")
    md_path.write_text(json.dumps(md))
    chunk = copy / md["chunks"][0]["filename"]
    chunk.write_bytes(chunk.read_bytes()[:-100])
    with pytest.raises(StraxFormatError, match="damaged"):
        import_directory(tmp_path / "strax", tmp_path / "data")
    assert not (tmp_path / "data" / RUN / "peak_positions").exists()


def test_registry_conflicts_are_refused(tmp_path):
    runs_file = tmp_path / "runs.yaml"
    runs_file.write_text("# my runs\nruns:\n  \"000001\":\n    start: 0\n    end: 10\n")
    import_directory(XAMS, tmp_path / "data", runs=[RUN], data_types=["peak_positions"], runs_file=runs_file)
    text = runs_file.read_text()
    assert text.startswith("# my runs\n") and set(yaml.safe_load(text)["runs"]) == {"000001", RUN}
    with pytest.raises(StraxFormatError, match="already registered"):
        import_directory(XAMS, tmp_path / "data2", runs={RUN: (RUN, chunk_bounds()[0], chunk_bounds()[1])},
                         data_types=["peak_positions"], runs_file=runs_file)
    assert runs_file.read_text() == text


def test_command_line(tmp_path, monkeypatch, capsys):
    """``superruns import|export`` (the bridge's commands in the one tree, through the entry
    point group superruns.commands), also as ``python -m superruns.straxio``."""
    from superruns.cli.commands import main as superruns_main
    from superruns.straxio.cli import main

    (tmp_path / "no_native_plugins.py").write_text("PLUGINS = []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    Workflow(tmp_path).write({}, {"_one": {"runs": [RUN]}}, plugins=["no_native_plugins"],
                             strax={"imported": ["peak_positions"]}, options={})
    config = str(tmp_path / "config" / "config.yaml")
    assert superruns_main(["--config", config, "import", str(XAMS), "--runs", RUN, "--data-types",
                           "peak_positions"]) == 0
    assert f"imported {RUN}/peak_positions (6204 rows" in capsys.readouterr().out
    assert main(["--config", config, "export", RUN, "peak_positions", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / f"{RUN}-peak_positions-b3uvsccosw").is_dir()
    assert main(["--config", config, "import", str(tmp_path / "nowhere")]) == 1
    assert "not a directory" in capsys.readouterr().err


def test_a_run_document_that_does_not_cover_the_data_is_refused(tmp_path):
    """Importer bug 1: a run document holding none of the run's data (here one day late) used
    to give a registry entry under which every superrun of the run failed; it is refused at
    import, naming the run and the fix, and nothing is written."""
    strax_dir = tmp_path / "strax"
    folder = next(f for f in scan_directory(XAMS) if f.data_type == "peak_positions")
    shutil.copytree(folder.path, strax_dir / folder.path.name)
    doc = json.loads((XAMS / f"{RUN}-metadata.json").read_text())
    for key in ("start", "end"):
        doc[key]["$date"] = doc[key]["$date"].replace("2021-11-12", "2021-11-13")
    (strax_dir / f"{RUN}-metadata.json").write_text(json.dumps(doc))
    runs_file = tmp_path / "runs.yaml"
    runs_file.write_text("runs: {}\n")
    with pytest.raises(StraxFormatError, match=rf"run {RUN}: its run document .* none of it inside.*"
                                               rf"--runs {RUN}={RUN}:\d+:\d+"):
        import_directory(strax_dir, tmp_path / "data", runs=[RUN], runs_file=runs_file)
    assert runs_file.read_text() == "runs: {}\n" and not list((tmp_path / "data").glob(f"{RUN}/*"))
    fix = re.search(rf"--runs {RUN}=({RUN}):(\d+):(\d+)", str(_refusal(strax_dir, tmp_path, runs_file)))
    import_directory(strax_dir, tmp_path / "data", runs={RUN: (fix[1], int(fix[2]), int(fix[3]))},
                     runs_file=runs_file)                              # the fix it names works
    assert yaml.safe_load(runs_file.read_text())["runs"][RUN]["start"] == int(fix[2])


def _refusal(strax_dir, tmp_path, runs_file) -> StraxFormatError:
    try:
        import_directory(strax_dir, tmp_path / "data", runs=[RUN], runs_file=runs_file)
    except StraxFormatError as error:
        return error
    raise AssertionError("not refused")


def test_an_imported_type_is_never_made_nor_deleted_by_the_workflow(flow):
    """Importer bug 2: asking snakemake for an imported data type of a run without its file
    crashed in the generic rule (StopIteration), and --forcerun deleted the imported file. No
    rule makes imported data: snakemake says so, and --forcerun leaves the file alone."""
    runs_file = flow.root / "config" / "runs.yaml"
    text = runs_file.read_text()
    runs_file.write_text(text + '  "extra": {start: 1636719600000000000, end: 1636719601000000000}\n')
    try:
        missing = flow.snakemake("extra/peaks", check=False)
    finally:
        runs_file.write_text(text)
    assert missing.returncode != 0 and "StopIteration" not in missing.stderr
    assert "No rule to produce data/extra/peaks-" in missing.stderr
    piece = flow.file(PIECES[0], "peaks")
    before = piece.stat().st_mtime_ns
    forced = flow.snakemake("--forcerun", f"{PIECES[0]}/peaks", check=False)
    assert "StopIteration" not in forced.stderr and "rule process" not in forced.stdout + forced.stderr
    assert piece.exists() and piece.stat().st_mtime_ns == before
