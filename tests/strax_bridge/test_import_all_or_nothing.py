"""Import is all or nothing: codecs, folders and the run registry are checked before anything
is written; on any error the data directory and config/runs.yaml are as they were."""

from __future__ import annotations

import sys

import pytest

from superruns.straxio.cli import main
from superruns.straxio.format import StraxFormatError, iter_folder_chunks, read_folder_metadata, scan_directory
from superruns.straxio.importer import import_directory

from support.workflows import REPO
from support.xams import missing_decoder

XAMS = REPO.parent / "shared" / "data" / "xams-002240"
if not XAMS.is_dir():
    pytest.skip(f"the XAMS test data are not at {XAMS}", allow_module_level=True)
# The tests that copy rows decompress the XAMS raw_records (lz4) and peaks (zstd) chunks.
MISSING = missing_decoder("lz4", "zstd")
reads_chunks = pytest.mark.skipif(MISSING is not None, reason=f"reads the XAMS lz4 and zstd chunks: {MISSING}")

RUN = "002240"
RUNS_TEXT = "# my runs\nruns:\n  \"other\": {start: 1, end: 2}\n"


def bounds():
    md = read_folder_metadata(next(f for f in scan_directory(XAMS) if f.data_type == "raw_records"))
    return [c["start"] for c in md["chunks"]] + [md["chunks"][-1]["end"]]


def snapshot(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")), (root / "runs.yaml").read_text()


@pytest.fixture
def root(tmp_path):
    (tmp_path / "runs.yaml").write_text(RUNS_TEXT)
    (tmp_path / "data").mkdir()
    return tmp_path


def test_a_missing_decoder_is_named_before_anything_is_written(root, monkeypatch):
    for module in ("zstandard", "zstd"):
        monkeypatch.setitem(sys.modules, module, None)      # import fails
    before = snapshot(root)
    with pytest.raises(StraxFormatError, match="'zstandard'"):
        import_directory(XAMS, root / "data", runs=[RUN], runs_file=root / "runs.yaml")
    assert snapshot(root) == before
    code = main(["--config", str(root / "none.yaml"), "import", str(XAMS)])  # no config: one-line error too
    assert code == 1 and snapshot(root) == before


@reads_chunks
def test_a_registry_conflict_leaves_no_data_behind(root):
    (root / "runs.yaml").write_text(RUNS_TEXT + f"  \"{RUN}_1\": {{start: 5, end: 6}}\n")
    before = snapshot(root)
    b = bounds()
    with pytest.raises(StraxFormatError, match="already registered"):
        import_directory(XAMS, root / "data", runs={f"{RUN}_0": (RUN, b[0], b[1]), f"{RUN}_1": (RUN, b[1], b[2])},
                         data_types=["raw_records", "peak_basics"], runs_file=root / "runs.yaml")
    assert snapshot(root) == before


@reads_chunks
def test_an_error_while_copying_the_second_run_keeps_nothing_of_the_first(root):
    before = snapshot(root)
    b = bounds()
    folder = next(f for f in scan_directory(XAMS) if f.data_type == "peaks")
    rows = next(rows for _, rows in iter_folder_chunks(folder, read_folder_metadata(folder)))
    row = rows[(rows["time"] > b[1]) & (rows["length"] > 2)][0]
    cut = int(row["time"]) + 1          # a peak of run "b" reaches across it
    with pytest.raises(StraxFormatError, match="reaches across the cut"):
        import_directory(XAMS, root / "data", runs={"a": (RUN, b[0], b[1]), "b": (RUN, b[1], cut)},
                         data_types=["raw_records", "peaks"], runs_file=root / "runs.yaml")
    assert snapshot(root) == before


@reads_chunks
def test_a_successful_import_writes_every_file_and_entry(root):
    b = bounds()
    results = import_directory(XAMS, root / "data", runs={"a": (RUN, b[0], b[1]), "b": (RUN, b[1], b[2])},
                               data_types=["raw_records", "peak_basics"], runs_file=root / "runs.yaml")
    assert sorted((r.run_id, r.data_type) for r in results) == [
        ("a", "peak_basics"), ("a", "raw_records"), ("b", "peak_basics"), ("b", "raw_records")]
    # strax's {run}-{data_type}-{hash} folder -> data/{run}/{data_type}-{hash} (superruns.storage.layout)
    assert all(r.path == root / "data" / r.run_id / f"{r.data_type}-{r.lineage_hash}" and r.path.is_file()
               for r in results)
    assert sorted(p.name for p in (root / "data").iterdir()) == ["a", "b"]       # no staging left
    text = (root / "runs.yaml").read_text()
    assert text.startswith(RUNS_TEXT) and '"a":' in text and '"b":' in text


@reads_chunks
def test_plugins_left_out_and_an_imported_type_is_one_line_not_a_traceback(tmp_path):
    """Leaving `plugins` out loads the simulated detector, which also provides peaks: snakemake
    stops with one line naming both sources and the fix; with `plugins: []` the plan is made."""
    import yaml

    from support.workflows import Workflow

    workflow = Workflow(tmp_path)
    workflow.write({}, {"_x": {"runs": [RUN]}}, strax={"imported": ["peaks"]})
    config = yaml.safe_load((tmp_path / "config" / "config.yaml").read_text())
    del config["plugins"]
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    import_directory(XAMS, tmp_path / "data", runs=[RUN], data_types=["peaks"],
                     runs_file=tmp_path / "config" / "runs.yaml")
    result = workflow.snakemake("-n", "_x/peaks", check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and 'File "' not in result.stderr
    assert "PluginError: Data type 'peaks' is provided twice: by superruns.detector and by " in result.stderr
    assert "plugins: []" in result.stderr
    config["plugins"] = []
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    workflow.snakemake("-n", "_x/peaks")
