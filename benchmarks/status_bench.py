"""`superruns status` of a campaign (issue 15, item 4: under 5 s for 10,000 runs), measured as
the whole user command (a fresh `superruns --config ... status` process each time).

A campaign of N runs and N/1000 superruns of 1,000 runs each, with the shipped detector's 9
data types. Every file is a real data file without rows whose metadata say what it was made
with (status reads the metadata of each current-lineage file: superruns.storage.freshness).
Runs: a half done (the current lineage's file, made for the run's registry span), a quarter
stale (another lineage's name), the rest missing. Superruns: half built from the current
definition, half from an older one. The command's counts are checked against the plan.

    .venv/bin/python benchmarks/status_bench.py                  # 1,000 and 10,000 runs
    .venv/bin/python benchmarks/status_bench.py --runs 10000 --repeat 5

Run it from the repository root with the project's environment.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
SUPERRUNS_CLI = Path(sys.executable).parent / "superruns"
T0 = 1_546_509_600_000_000_000
RUN_NS = 60 * 1_000_000_000
PER_SUPERRUN = 1000


def write_campaign(root: Path, n_runs: int) -> dict:
    """The config, runs and superruns of the campaign; its files; the expected counts."""
    sys.path.insert(0, str(REPO / "workflow"))
    from superruns.project import Project
    from superruns.storage import DataWriter

    runs = {f"{i:06d}": {"start": T0 + 2 * i * RUN_NS, "end": T0 + (2 * i + 1) * RUN_NS}
            for i in range(n_runs)}
    ids = list(runs)
    superruns = {f"_sr{k}": {"runs": ids[k * PER_SUPERRUN:(k + 1) * PER_SUPERRUN]}
                 for k in range(max(1, n_runs // PER_SUPERRUN))}
    (root / "config").mkdir(parents=True)
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}, width=1 << 30))
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump(superruns, width=1 << 30))
    config = {"data_dir": "data", "runs": "config/runs.yaml", "superruns": ["config/superruns.yaml"],
              "plugins": ["superruns.detector"], "options": {}}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    project = Project.from_file(root / "config" / "config.yaml")
    types = list(project.registry)
    expected = {"runs": {"done": 0, "stale": 0, "missing": 0}, "superruns": {"done": 0, "stale": 0, "missing": 0}}
    dtype = np.dtype([("time", "i8"), ("endtime", "i8")])
    for i, run_id in enumerate(ids):
        state = ("done", "done", "stale", "missing")[i % 4]
        expected["runs"][state] += len(types)
        if state == "missing":
            continue
        for data_type in types:
            lineage = project.lineage_hash(run_id, data_type) if state == "done" else "aaaaaaaaaa"
            md = {"run_id": run_id, "data_type": data_type, "lineage_hash": lineage,
                  "run_metadata": project.run_metadata(run_id)}
            with DataWriter(project.path(run_id, data_type, lineage), dtype, md):
                pass
    for k, name in enumerate(superruns):
        document = project.definitions.run_metadata(name)
        state = "done" if k % 2 == 0 else "stale"
        expected["superruns"][state] += len(types)
        for data_type in types:
            md = {"run_id": name, "data_type": data_type, "lineage_hash": project.lineage_hash(name, data_type),
                  "sub_run_spec_hash": document["sub_run_spec_hash"] if state == "done" else "olderdefinition",
                  "registry_spans_hash": document["registry_spans_hash"]}
            with DataWriter(project.path(name, data_type), dtype, md):
                pass
    return expected


def measure(root: Path) -> tuple[float, dict]:
    command = [str(SUPERRUNS_CLI), "--config", str(root / "config" / "config.yaml"), "status", "--json"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=root)
    seconds = time.perf_counter() - start
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return seconds, json.loads(result.stdout)


def totals(result: dict, group: str) -> dict:
    out = {"done": 0, "stale": 0, "missing": 0}
    for counts in result[group].values():
        for state, n in counts.items():
            out[state] += n
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    print("| runs | superruns | files | `superruns status` median [s] | min | max |")
    print("|---|---|---|---|---|---|")
    for n_runs in args.runs:
        with tempfile.TemporaryDirectory(prefix="status-bench-") as tmp:
            root = Path(tmp)
            expected = write_campaign(root, n_runs)
            measure(root)                                   # warm-up
            times = []
            for _ in range(args.repeat):
                seconds, result = measure(root)
                times.append(seconds)
                for group in ("runs", "superruns"):
                    assert totals(result, group) == expected[group], (group, totals(result, group), expected)
            files = sum(1 for _ in (root / "data").rglob("*-*"))
            print(f"| {n_runs:,} | {result['n_superruns']} | {files:,} | {statistics.median(times):.2f} | "
                  f"{min(times):.2f} | {max(times):.2f} |")


if __name__ == "__main__":
    main()
