"""Cost that grows with rows plus ranges (issue 12, class 5): the two scale cases, measured as
the whole user command (``snakemake --cores 1 <superrun>/peaks``, a fresh process each time).

* ``ranges``: a superrun of N ranges (default 100,000) on one 180 s run's peaks.
* ``events``: a superrun of N events (default 1,000,000) in an events file of that run:
  events to windows, then the built superrun.

The run's peaks are built once beforehand (not timed). Each case runs ``--repeat`` times
after a warm-up (which also writes the .snakemake metadata); the table gives the median and
the range of the wall time, the peak RSS of the command and its children
(``getrusage(RUSAGE_CHILDREN)`` of a fresh runner process), and the size of the written file.

    .venv/bin/python benchmarks/scale_bench.py                     # both cases
    .venv/bin/python benchmarks/scale_bench.py --ranges 1000 --events 10000 --repeat 1

Run it from the repository root with the project's environment (snakemake next to python).
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
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
T0 = 1_546_509_600_000_000_000  # 2019-01-03T10:00:00Z
RUN_NS = 180 * 1_000_000_000


def write_workflow(root: Path, superruns: dict) -> None:
    (root / "config" / "superruns.d").mkdir(parents=True, exist_ok=True)
    runs = {"000001": {"start": T0, "end": T0 + RUN_NS, "mode": "background", "source": "none",
                       "tags": ["bench"]}}
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}))
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump(superruns, width=1 << 30))
    config = {"data_dir": "data", "runs": "config/runs.yaml",
              "superruns": ["config/superruns.yaml", "config/superruns.d"],
              "plugins": ["superruns.detector"], "options": {}}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config))


def project_of(root: Path):
    from superruns.project import Project

    return Project.from_file(root / "config" / "config.yaml")


def snakemake(root: Path, target: str, *extra: str) -> None:
    command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--cores", "1", "--quiet", "all",
               *extra, "--", target]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def measure(root: Path, target: str) -> dict:
    """Wall time and peak RSS of one forced build, in a fresh runner process."""
    code = (f"import resource, sys, time; sys.path.insert(0, {str(REPO / 'benchmarks')!r})\n"
            f"from scale_bench import snakemake\nfrom pathlib import Path\n"
            f"t = time.perf_counter(); snakemake(Path({str(root)!r}), {target!r}, '--forcerun', "
            f"'superrun')\n"
            f"print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, rss_kb = out.stdout.split()
    return {"s": float(seconds), "rss_mb": int(rss_kb) / 1024}


def ranges_case(n: int) -> dict:
    starts = T0 + np.linspace(0, RUN_NS, n, endpoint=False).astype(np.int64)
    width = RUN_NS // n // 2
    return {"_ranges": {"ranges": {"000001": [[int(s), int(s) + width] for s in starts]}}}


def events_case(root: Path, n: int) -> dict:
    rng = np.random.default_rng(1)
    time_ = np.sort(T0 + rng.integers(0, RUN_NS - 10_000, n))
    events = np.zeros(n, dtype=[("time", "i8"), ("endtime", "i8"), ("run_id", "U6")])
    events["time"], events["endtime"], events["run_id"] = time_, time_ + 1000, "000001"
    np.save(root / "events.npy", events)
    return {"_events": {"events": "events.npy"}}


def run(args) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        root = Path(tmp)
        cases = {}
        if args.ranges:
            cases.update({f"{args.ranges:,} ranges on one run's peaks": ("_ranges/peaks",
                                                                         ranges_case(args.ranges))})
        if args.events:
            cases.update({f"{args.events:,} events to windows and a built superrun":
                          ("_events/peaks", events_case(root, args.events))})
        write_workflow(root, {k: v for _, d in cases.values() for k, v in d.items()})
        snakemake(root, "000001/peaks")  # the run's own file, not timed
        for label, (target, _) in cases.items():
            snakemake(root, target)  # warm-up
            times = [measure(root, target) for _ in range(args.repeat)]
            size = project_of(root).path(*target.split("/")).stat().st_size
            rows.append({"case": label, "median_s": statistics.median(t["s"] for t in times),
                         "min_s": min(t["s"] for t in times), "max_s": max(t["s"] for t in times),
                         "rss_mb": max(t["rss_mb"] for t in times), "file_kb": size / 1024})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranges", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = run(args)
    print("\n| case | median s | min-max s | peak RSS MB | file KB |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['median_s']:.2f} | {r['min_s']:.2f}-{r['max_s']:.2f} | "
              f"{r['rss_mb']:.0f} | {r['file_kb']:.0f} |")


if __name__ == "__main__":
    main()
