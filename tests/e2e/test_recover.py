"""``superruns recover NAME`` on a half-built campaign: per data type, which parts of the
superrun are done, failed (with the job's error), stale or missing, the livetime each carries,
and a target list that snakemake runs to finish the campaign."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from superruns.storage import DataFile

from support.workflows import SECOND, T0, Workflow, run_entry

pytestmark = pytest.mark.e2e

RUNS = {"000001": run_entry(0, 20), "000002": run_entry(60, 20), "000003": run_entry(120, 15),
        "000004": run_entry(180, 30)}
# _top holds 10 s of 000004 (a range): that part carries 10 s, not the run's 30 s.
SUPERRUNS = {"_a": {"runs": ["000001", "000002"]},
             "_top": {"runs": ["_a", "000003"], "ranges": {"000004": [[T0 + 185 * SECOND, T0 + 195 * SECOND]]}}}


def recover(flow: Workflow, *args: str) -> tuple[int, dict]:
    result = subprocess.run([sys.executable, "-m", "superruns.cli.commands", "--json", "recover", *args],
                            cwd=flow.root, capture_output=True, text=True, timeout=120)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def names(entry: dict, state: str) -> dict[str, float]:
    return {p["name"]: p["livetime"] for p in entry["parts"][state]}


def damage(path: Path) -> None:
    data = bytes(DataFile(path).frames(0)[0].data)
    raw = bytearray(path.read_bytes())
    raw[raw.find(data) + len(data) // 2] ^= 0x10
    path.write_bytes(bytes(raw))


def test_recover_lists_what_a_half_built_superrun_needs(workflow):
    workflow.write(RUNS, SUPERRUNS, job_layout="per_data_type")
    workflow.snakemake("_a/event_info", "000003/peaks")
    damage(workflow.file("000003", "peaks"))
    failed = workflow.snakemake("000003/event_info", check=False)
    assert failed.returncode != 0

    code, report = recover(workflow, "_top", "-t", "event_info", "-t", "peaks")
    assert code == 1
    assert report["livetime"] == pytest.approx(20 + 20 + 15 + 10)
    info = report["data_types"]["event_info"]
    assert names(info, "done") == {"000001": 20.0, "000002": 20.0, "_a": 40.0}
    assert names(info, "failed") == {"000003": 15.0}
    [part] = info["parts"]["failed"]
    assert "CRC32" in part["error"] and part["log"].endswith(".log") and Path(part["log"]).is_file()
    assert names(info, "missing") == {"000004": 10.0, "_top": 65.0}
    assert info["summary"]["done"] == {"runs": 2, "livetime": 40.0}
    assert info["summary"]["failed"] == {"runs": 1, "livetime": 15.0}
    assert info["summary"]["missing"] == {"runs": 1, "livetime": 10.0}
    peaks = report["data_types"]["peaks"]
    assert names(peaks, "done") == {"000001": 20.0, "000002": 20.0, "000003": 15.0}
    assert names(peaks, "missing") == {"000004": 10.0, "_a": 40.0, "_top": 65.0}

    # The target list: exactly the files to make, leaf runs before superruns, runnable as is.
    project = workflow.project()
    wanted = [project.path(r, dt) for dt, rs in (("event_info", ["000003", "000004", "_top"]),
                                                   ("peaks", ["000004", "_a", "_top"])) for r in rs]
    targets = Path(report["targets_file"]).read_text().split()
    assert sorted(workflow.root / t for t in targets) == sorted(wanted)
    assert targets.index(str(project.path("000004", "peaks").relative_to(workflow.root))) < \
        targets.index(str(project.path("_top", "peaks").relative_to(workflow.root)))

    # The fix the error names (delete the damaged file), then the targets: nothing left.
    workflow.file("000003", "peaks").unlink()
    workflow.snakemake(*targets)
    code, report = recover(workflow, "_top", "-t", "event_info", "-t", "peaks")
    assert code == 0 and report["targets"] == []
    assert names(report["data_types"]["event_info"], "done") == \
        {"000001": 20.0, "000002": 20.0, "000003": 15.0, "000004": 10.0, "_a": 40.0, "_top": 65.0}
