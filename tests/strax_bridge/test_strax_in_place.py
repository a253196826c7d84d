"""Subruns read in place: real XAMS strax folders (lz4, zstd, blosc chunks) in ../shared/data
serve a superrun's subrun data with no copy (``strax: {in_place, directories}``).

snakemake builds superruns of run 002240 straight from its strax folders: no file of the run is
written anywhere, the strax directory is untouched, and every field equals strax's own reading
of the folders (strax's backend is the oracle).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

strax = pytest.importorskip("strax")

from superruns.storage import DataFile  # noqa: E402
from superruns.straxio.format import read_folder_metadata, scan_directory  # noqa: E402

from support.workflows import Workflow  # noqa: E402
from support.xams import RUN, XAMS, chunk_bounds, strax_only_root  # noqa: E402

pytestmark = [pytest.mark.strax, pytest.mark.e2e]

if not XAMS.is_dir():
    pytest.skip(f"the XAMS test data are not at {XAMS}", allow_module_level=True)

DATA_TYPES = ["raw_records", "peaks", "peak_basics", "peak_positions"]


def strax_rows(data_type: str, strax_dir=XAMS) -> np.ndarray:
    """What strax's own backend reads from the folder, in order."""
    folder = next(f for f in scan_directory(strax_dir) if f.data_type == data_type)
    return np.concatenate([chunk.data for chunk in strax.FileSytemBackend().loader(str(folder.path))])


def assert_fields_equal(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Every field equal; strax's dtype has its padding as fields of its own (``f5``, void:
    docs/strax.md, divergence 12), ours keeps it as gaps."""
    assert len(ours) == len(theirs) > 0
    padding = [name for name in theirs.dtype.names if theirs.dtype[name].kind == "V" and not theirs.dtype[name].shape]
    assert [n for n in theirs.dtype.names if n not in padding] == list(ours.dtype.names)
    for name in ours.dtype.names:
        assert np.array_equal(ours[name], theirs[name], equal_nan=ours[name].dtype.kind == "f"), name


def tree(path) -> dict:
    """Every file under ``path`` with its size and modification time."""
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.rglob("*"))}


def the_run_document():
    doc = json.loads((XAMS / f"{RUN}-metadata.json").read_text())
    return {RUN: {"start": doc["start"]["$date"], "end": doc["end"]["$date"], "mode": doc["mode"],
                  "source": "none"}}


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    root, patch = strax_only_root(tmp_path_factory, "in_place")
    bounds = chunk_bounds()
    superruns_doc = {"_xams": {"runs": [RUN]},
                     "_xams_middle": {"ranges": {RUN: [[bounds[1], bounds[2]]]}},
                     "_xams_again": {"runs": ["_xams_middle"]}}
    workflow = Workflow(root)
    workflow.write(the_run_document(), superruns_doc, plugins=["no_native_plugins"], options={},
                   strax={"in_place": DATA_TYPES, "directories": [str(XAMS)]})
    before = tree(XAMS)
    workflow.before = before
    workflow.result = workflow.snakemake(*[f"_xams/{dt}" for dt in DATA_TYPES], "_xams_middle/peaks",
                                         "_xams_again/peaks")
    yield workflow
    patch.undo()


@pytest.mark.parametrize("data_type", DATA_TYPES)
def test_superrun_read_in_place_equals_strax_field_by_field(flow, data_type):
    project = flow.project()
    data = DataFile(project.path("_xams", data_type))
    assert_fields_equal(data.load(), strax_rows(data_type))
    folder = next(f for f in scan_directory(XAMS) if f.data_type == data_type)
    assert data.metadata["lineage_hash"] == folder.lineage_hash == project.lineage_hash(RUN, data_type)
    assert read_folder_metadata(folder)["compressor"] in ("lz4", "zstd", "blosc")
    [(name, described)] = data.metadata["provenance"]["inputs"].items()
    assert name == str(folder.path) and described["lineage_hash"] == folder.lineage_hash


def test_no_subrun_data_was_copied_or_written(flow):
    """Only the superruns' own files appear in data/; the strax directory is as it was."""
    made = {p.relative_to(flow.data).parts[0] for p in flow.data.rglob("*")
            if p.is_file() and p.relative_to(flow.data).parts[0] != "logs"}
    assert made == {"_xams", "_xams_middle", "_xams_again"}
    assert not (flow.data / RUN).exists()
    assert tree(XAMS) == flow.before
    assert "strax_produce" not in flow.result.stderr and "rule process" not in flow.result.stderr


def test_a_range_of_the_run_read_in_place(flow):
    """A time range of the run, selected by containment from the strax chunks it overlaps;
    a superrun of it, taken unchanged."""
    bounds = chunk_bounds()
    rows = strax_rows("peaks")
    ends = rows["time"] + rows["length"] * rows["dt"]
    inside = rows[(rows["time"] >= bounds[1]) & (rows["time"] < bounds[2]) & (ends <= bounds[2])]
    project = flow.project()
    middle = DataFile(project.path("_xams_middle", "peaks"))
    assert_fields_equal(middle.load(), inside)
    assert_fields_equal(DataFile(project.path("_xams_again", "peaks")).load(), inside)


def test_snakemake_checks_the_folders_it_reads(flow):
    """The superrun rule's inputs are the strax folders: planned with nothing to do once
    built, and the folder is what a dry run of the rule names."""
    assert "Nothing to be done" in flow.snakemake("-n", "_xams/peaks").stdout
    folder = next(f for f in scan_directory(XAMS) if f.data_type == "peaks")
    dry = flow.snakemake("-n", "--forcerun", "_xams/peaks", "-p")
    assert str(folder.path) in dry.stdout + dry.stderr


def test_a_folder_whose_name_disagrees_with_its_lineage_is_refused(flow, tmp_path):
    """Lineage identity is checked as for our files: a folder renamed to another hash is refused
    when the workflow plans (naming the folder), and nothing is built."""
    strax_dir = tmp_path / "strax"
    source = next(f for f in scan_directory(XAMS) if f.data_type == "peak_positions")
    copy = strax_dir / source.path.name.replace(source.lineage_hash, "aaaaaaaaaa")
    shutil.copytree(source.path, copy)
    (copy / f"{source.prefix}-metadata.json").rename(copy / "peak_positions-aaaaaaaaaa-metadata.json")
    root = tmp_path / "flow"
    root.mkdir()
    (root / "no_native_plugins.py").write_text("PLUGINS = []\n")
    Workflow(root).write(the_run_document(), {"_x": {"runs": [RUN]}}, plugins=["no_native_plugins"], options={},
                         strax={"in_place": ["peak_positions"], "directories": [str(strax_dir)]})
    result = Workflow(root).snakemake("_x/peak_positions", check=False, cwd=root)
    assert result.returncode != 0
    assert "does not match its metadata" in result.stderr and "aaaaaaaaaa" in result.stderr
    assert not (root / "data" / "_x").exists()
