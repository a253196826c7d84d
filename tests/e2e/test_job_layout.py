"""End to end: the job layouts (config job_layout, superruns.orchestration.chains) give the same files.

``per_run`` (default) makes a run's whole chain in one job while none of its files exist, and
anything else one data type at a time; ``per_data_type`` is the layout before issue 15 (one
job per run and data type). Both run in Snakemake's own process."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest

from superruns.build.provenance import WHEN_AND_WHERE, WRITER_TIMES
from superruns.storage import DataFile

from support.workflows import RUN_CHAIN, Workflow, run_entry

pytestmark = pytest.mark.e2e

RUNS = {"8": run_entry(0, 20), "9": run_entry(30, 20)}
SUPERRUNS = {"_both": {"runs": ["8", "9"]}}
TYPES = list(RUN_CHAIN)


def jobs_of(output: str) -> dict[str, int]:
    """Snakemake's job stats table: {rule: count}."""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.M)
            if m.group(1) != "total"}


def comparable(path):
    """A file's rows and metadata, without what records when, where and by which rule."""
    data = DataFile(path)
    metadata = {k: v for k, v in data.metadata.items() if k not in WRITER_TIMES}
    provenance = dict(metadata.pop("provenance"))
    for key in WHEN_AND_WHERE:
        provenance.pop(key)
    provenance["job"] = {k: v for k, v in provenance["job"].items() if k != "rule"}
    chunks = [(c.start, c.end, data.read_chunk(i).tobytes()) for i, c in enumerate(data.chunks)]
    return metadata, provenance, chunks


@pytest.fixture(scope="module")
def flows(tmp_path_factory):
    built = {}
    for layout in ("per_run", "per_data_type"):
        flow = Workflow(tmp_path_factory.mktemp(layout))
        flow.write(RUNS, SUPERRUNS, job_layout=layout)
        result = flow.snakemake("_both/event_info", "_both/peaks")
        built[layout] = (flow, jobs_of(result.stdout + result.stderr))
    return built


def test_per_run_layout_makes_one_job_per_run(flows):
    assert flows["per_run"][1] == {"run_chain": 2, "superrun": 2}
    assert flows["per_data_type"][1] == {"process": 14, "superrun": 2}


@pytest.mark.parametrize("name", ["8", "9", "_both"])
def test_files_are_the_same_whatever_the_layout(flows, name):
    per_run, per_type = flows["per_run"][0], flows["per_data_type"][0]
    types = TYPES if name != "_both" else ["event_info", "peaks"]
    for data_type in types:
        a, b = (comparable(flow.file(name, data_type)) for flow in (per_run, per_type))
        assert a == b, f"{name}/{data_type}"
        assert a[2] and any(len(rows) for _, _, rows in a[2])


def test_a_single_data_type_is_still_a_target(tmp_path):
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS)
    dry = flow.snakemake("-n", "8/peaks")
    assert jobs_of(dry.stdout + dry.stderr) == {"run_chain": 1}
    flow.snakemake("8/peaks")
    assert flow.file("8", "peaks").exists() and flow.file("8", "event_info").exists()
    assert "Nothing to be done" in (r := flow.snakemake("-n", "8/event_info")).stdout + r.stderr
    [log] = (flow.data / "logs" / "run_chain").glob("8-*.log")
    assert all(f"8/{data_type} in" in log.read_text() for data_type in TYPES)


# Each rule matches exactly its runs: by naming the few (or the few others), or past
# SUPERRUNS_MAX_NAMED_RUNS on both sides none, the chain's input function then refusing the
# others (superruns.orchestration.chains.RunMatch). Both ways plan and build the same.
NAMED_OR_GUARDED = pytest.mark.parametrize("named", ["1000", "0"], ids=["named", "guarded"])


@NAMED_OR_GUARDED
def test_a_run_with_files_goes_one_data_type_at_a_time(tmp_path, monkeypatch, named):
    """Once some of a run's files exist, its one job is not planned again: only what is
    missing or out of date is made, and no existing file is rewritten."""
    monkeypatch.setenv("SUPERRUNS_MAX_NAMED_RUNS", named)
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS)
    flow.snakemake("8/event_info")
    kept = {dt: flow.file("8", dt).stat().st_mtime_ns for dt in TYPES}
    flow.file("8", "event_info").unlink()
    dry = flow.snakemake("-n", "8/event_info")
    assert jobs_of(dry.stdout + dry.stderr) == {"process": 1}
    # Another version of the late data types: those are made beside, the early ones kept.
    flow.write(RUNS, SUPERRUNS, {"trigger_min_area": 90.0})
    dry = flow.snakemake("-n", "8/event_info")
    assert jobs_of(dry.stdout + dry.stderr) == {"process": 4}
    flow.snakemake("8/event_info")
    assert {dt: flow.file("8", dt).stat().st_mtime_ns for dt in TYPES[:3]} == {dt: kept[dt] for dt in TYPES[:3]}
    # And back: the first version's files are still current, only the deleted one is made.
    flow.write(RUNS, SUPERRUNS)
    dry = flow.snakemake("-n", "8/event_info")
    assert jobs_of(dry.stdout + dry.stderr) == {"process": 1}


@NAMED_OR_GUARDED
def test_runs_of_other_per_run_option_values_get_a_rule_each(tmp_path, monkeypatch, named):
    """Per-run defaults give runs different lineage hashes: one chain rule per set of hashes."""
    monkeypatch.setenv("SUPERRUNS_MAX_NAMED_RUNS", named)
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS, {"peak_min_channels": {"default_per_run": [[0, 2], [9, 3]]}})
    dry = flow.snakemake("-n", "_both/event_info")
    jobs = jobs_of(dry.stdout + dry.stderr)
    assert jobs.pop("run_chain") == 1 and jobs.pop("superrun") == 1
    [(other, count)] = jobs.items()
    assert count == 1 and other == "run_chain_from_9"      # the period of peak_min_channels 3
    flow.snakemake("_both/event_info")
    assert flow.project().lineage_hash("8", "peaks") != flow.project().lineage_hash("9", "peaks")
    assert "Nothing to be done" in (r := flow.snakemake("-n", "_both/event_info")).stdout + r.stderr


def test_expected_error_in_a_thread_is_one_line_and_a_failed_job():
    """In Snakemake's process a job must fail with an exception, not SystemExit (which would
    escape Snakemake's job-done callback)."""
    from superruns.base.errors import SuperrunsError
    from superruns.orchestration.jobs import JobFailed, job_log

    caught = []

    def job():
        try:
            with job_log(None):
                raise SuperrunsError("run 8: something the user can fix")
        except BaseException as error:   # noqa: BLE001 -- what escapes is the point
            caught.append(error)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join()
    assert isinstance(caught[0], JobFailed)
    assert str(caught[0]) == "SuperrunsError: run 8: something the user can fix"


def test_superrun_rows_are_the_runs_rows(flows):
    flow = flows["per_run"][0]
    rows = [DataFile(flow.file(run, "event_info")).load() for run in ("8", "9")]
    assert DataFile(flow.file("_both", "event_info")).load().tobytes() == np.concatenate(rows).tobytes()


def test_failing_job_in_snakemakes_process_fails_the_run_with_its_line(tmp_path):
    """A job run in a thread of Snakemake's process that meets a damaged input: Snakemake
    reports the job failed (no hang), with the one line in the job's log and in its output."""
    flow = Workflow(tmp_path)
    flow.write(RUNS, SUPERRUNS, job_layout="per_data_type")
    flow.snakemake("8/peaks")
    peaks = flow.file("8", "peaks")
    frame = bytes(DataFile(peaks).frames(0)[0].data)
    raw = bytearray(peaks.read_bytes())
    raw[raw.find(frame) + len(frame) // 2] ^= 0x10
    peaks.write_bytes(bytes(raw))
    result = flow.snakemake("8/peak_basics", check=False, timeout=300)
    assert result.returncode == 1
    assert "DataCorrupted" in result.stdout + result.stderr
    [log] = (flow.data / "logs" / "process" / "8").glob("peak_basics-*.log")
    assert log.read_text().count("DataCorrupted") == 1 and "CRC32" in log.read_text()
    assert not flow.file("8", "peak_basics").exists()
