"""Byte-identical rebuilds, provenance records, and the Snakemake report.

The standard (demo-like) workflow is built twice from scratch in two directories, once with
``--cores 2`` (the session's reference build) and once with ``--cores 1``: every data file
has the same frames (compressed bytes), rows and metadata, apart from the fields that record
when and where it was written (``docs/reliability.md``).
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from superruns.build.provenance import WHEN_AND_WHERE, WRITER_TIMES, code_version, config_hash, reproducible_metadata
from superruns.storage import DataFile, content_hash, verify_paths

from support.reliability import (
    TARGETS,
    assert_same_file,
    copy_workflow,
    data_hashes,
    reference_build,
    snakemake_run,
    standard_workflow,
)
from support.workflows import short_name

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    first = reference_build(tmp_path_factory)                      # --cores 2
    second = standard_workflow(tmp_path_factory.mktemp("rebuild"))
    snakemake_run(second, *TARGETS, cores=1)
    return first, second


def differing_fields(a: dict, b: dict, prefix: str = "") -> set[str]:
    out = set()
    for key in set(a) | set(b):
        if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            out |= differing_fields(a[key], b[key], f"{prefix}{key}.")
        elif a.get(key) != b.get(key):
            out.add(prefix + key)
    return out


def test_rebuild_is_byte_identical(builds):
    first, second = builds
    hashes = data_hashes(first.data)
    assert len(hashes) == 3 * 7 + 5          # every data type of 3 runs (one job per run: run 10 too); 5 superrun files
    assert data_hashes(second.data) == hashes
    allowed = set(WRITER_TIMES) | {f"provenance.{k}" for k in WHEN_AND_WHERE}
    seen = set()
    for name in hashes:
        a, b = first.file(name), second.file(name)
        assert_same_file(a, b)                      # frames' bytes, rows, metadata but when/where
        differing = differing_fields(DataFile(a).metadata, DataFile(b).metadata)
        assert differing <= allowed, (name, differing - allowed)
        seen |= differing
    assert {"writing_started", "writing_ended", "provenance.time"} <= seen


def test_every_output_has_the_common_metadata_in_one_order(builds):
    """Runs' and superruns' files get their metadata from one builder: the same leading keys,
    in the same order (the order is part of the bytes), with the lineage hash of the lineage."""
    from superruns.model.lineage import lineage_hash

    common = ["run_id", "data_type", "data_kind", "lineage", "lineage_hash", "chunk_target_size_mb",
              "run_metadata"]
    first, _ = builds
    for name in data_hashes(first.data):
        md = DataFile(first.file(name)).metadata
        assert list(md)[:len(common)] == common, name
        assert md["lineage_hash"] == lineage_hash(md["lineage"]) and "/".join((md["run_id"], md["data_type"])) == name
    superrun = list(DataFile(first.file("_a", "peaks")).metadata)
    assert superrun[len(common):len(common) + 7] == ["sub_run_spec", "sub_run_spec_flat", "sub_run_spec_hash",
                                                    "registry_spans_hash", "selection", "per_run_defaults",
                                                    "input_lineage_hashes"]


def test_superrun_files_carry_frames_over(builds):
    """The reference exercises both paths of the build: frames copied as they are (large
    raw_records frames) and rows merged and recompressed (small event_info frames)."""
    first, _ = builds

    def carried(data_type):
        run_frames = {f["crc32"] for run in ("8", "9", "10") if (first.file(run, data_type)).exists()
                      for f in DataFile(first.file(run, data_type)).metadata["frames"]}
        frames = DataFile(first.file("_b" if data_type == "raw_records" else "_a", data_type)).metadata["frames"]
        return sum(f["crc32"] in run_frames for f in frames), len(frames)

    copied, total = carried("raw_records")
    assert copied == total > 3
    copied, total = carried("event_info")
    assert copied == 0 and total >= 1


def test_provenance_record(builds):
    first, second = builds
    project = first.project()
    md = DataFile(first.file("_b", "raw_records")).metadata
    record = md["provenance"]
    assert record["config_hash"] == config_hash(project) == config_hash(second.project())
    assert record["lineage_hash"] == md["lineage_hash"] == project.lineage_hash("_b", "raw_records")
    assert record["job"] == {"rule": "superrun", "run_id": "_b", "data_type": "raw_records"}
    code = record["code"]
    assert code == code_version() and code["superruns"] and code["numpy"] and code["blosc2"]
    if code["git_commit"] is not None:
        assert len(code["git_commit"]) == 40
    # inputs: the direct subruns' files, by their data's content hash
    assert {short_name(n) for n in record["inputs"]} == {"_a/raw_records", "10/raw_records"}
    for name, entry in record["inputs"].items():
        data = DataFile(first.file(name))
        assert entry == {"content_hash": content_hash(data), "lineage_hash": data.metadata["lineage_hash"],
                         "rows": data.n_rows}
    assert record["host"] == socket.gethostname() and record["pid"] != os.getpid() and record["time"].endswith("Z")
    # a per-run file names its inputs too (event_info of a run: event_basics, event_positions)
    run_record = DataFile(first.file("8", "event_info")).metadata["provenance"]
    assert {short_name(n) for n in run_record["inputs"]} == {"8/event_basics", "8/event_positions"}
    assert DataFile(first.file("8", "raw_records")).metadata["provenance"]["inputs"] == {}
    # only when/where differ between the two builds' records
    other = DataFile(second.file("_b", "raw_records")).metadata["provenance"]
    assert reproducible_metadata({"provenance": record}) == reproducible_metadata({"provenance": other})


def subruns_table(page: str) -> list[list[str]]:
    """The cells of a summary page's "Subruns" table, one list per row (the header left out)."""
    table = page.split("<h2>Subruns</h2>", 1)[1].split("<details>", 1)[0]
    return [re.findall(r"<td class='l?'>([^<]*)</td>", row) for row in re.findall(r"<tr><td.*?</tr>", table)]


def test_snakemake_report_with_superrun_summaries(builds, tmp_path):
    first, _ = builds
    flow = copy_workflow(first, tmp_path / "flow")
    summaries = ["summary/_b/raw_records.html", "summary/_cut/peaks.html"]
    snakemake_run(flow, *summaries)
    text = (flow.data / summaries[0]).read_text()
    for word in ("<h1>_b / raw_records</h1>", "<td class='l'>livetime</td><td class='l'>15.0 s</td>",
                 "<td class='l'>lineage hash</td>", "<td class='l'>content hash</td>", "<td class='l'>config hash</td>"):
        assert word in text, word
    # the page's figures, embedded: the superrun's exposure, then raw_records' rate and waveforms
    assert re.findall(r"<figure id='(\w+)'><img alt='[^']*' src='data:image/png;base64,", text) == [
        "exposure", "rate", "waveforms"]
    # the subruns table: run and livetime per leaf run, in time order (a bare "8" is in any page)
    assert [(row[0], row[3]) for row in subruns_table(text)] == [("8", "5.000"), ("9", "5.000"), ("10", "5.000")]
    cut = (flow.data / summaries[1]).read_text()
    assert [(row[0], row[3]) for row in subruns_table(cut)] == [("8", "4.000"), ("9", "5.000")]  # 4 s of 8, all of 9
    assert "<td class='l'>livetime</td><td class='l'>9.0 s</td>" in cut
    report = flow.root / "report.html"
    result = snakemake_run(flow, "--report", str(report), *summaries)
    assert report.exists(), result.stdout + result.stderr
    assert report.stat().st_size > 10_000
    content = report.read_text(errors="replace")
    assert "Superrun _b" in content and "Superrun _cut" in content and "raw_records.html" in content
    assert verify_paths([flow.data])["ok"]       # summaries are not data files: not checked


def test_rebuild_in_place_gives_the_same_file(builds, tmp_path):
    """--forcerun of a superrun in a copy rewrites identical frames."""
    first, _ = builds
    flow = copy_workflow(first, tmp_path / "flow")
    before = content_hash(flow.file("_cut", "peaks"))
    snakemake_run(flow, "--forcerun", "_cut/peaks", "_cut/peaks")
    assert content_hash(flow.file("_cut", "peaks")) == before
    assert_same_file(flow.file("_cut", "peaks"), first.file("_cut", "peaks"))
    assert Path(flow.file("_cut", "peaks")).stat().st_mtime > (first.file("_cut", "peaks")).stat().st_mtime
