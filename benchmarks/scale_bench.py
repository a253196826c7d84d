"""Cost that grows with rows plus ranges (issue 12, class 5): the two scale cases, measured as
the whole user command (``snakemake --cores 1 <superrun>/peaks``, a fresh process each time).

* ``ranges``: a superrun of N ranges (default 100,000) on one 180 s run's peaks.
* ``events``: a superrun of N events (default 1,000,000) in an events file of that run:
  events to windows, then the built superrun.

* ``floor``: the same command for a superrun of 1 range: what any superrun costs (Snakemake
  start-up, parsing the workflow, one job process with its imports), whatever its size.

The run's peaks are built once beforehand (not timed). Each case runs ``--repeat`` times
after a warm-up (which also writes the .snakemake metadata); the table gives the median and
the range of the wall time, the median CPU time (user + system of the command and its
children: on a shared machine the steadier figure), the peak RSS of the largest process
(``getrusage(RUSAGE_CHILDREN)`` of a fresh runner process), and the size of the written file.

With ``--baseline DIR`` (a code directory laid out like the repository, e.g. ``git archive``
of an earlier commit unpacked), each case runs that code too, alternating with this one, in
the same workspace, ``--baseline-repeat`` times. Each code runs with its own ``workflow``
first on PYTHONPATH and its own Snakefile (so a snapshot of this one can be measured while
the worktree changes).

    .venv/bin/python benchmarks/scale_bench.py                     # both cases and the floor
    .venv/bin/python benchmarks/scale_bench.py --ranges 1000 --events 10000 --repeat 1
    .venv/bin/python benchmarks/scale_bench.py --baseline /tmp/main --baseline-repeat 1

Run it from the repository root with the project's environment (snakemake next to python).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def output_size(root: Path, target: str) -> int:
    """Size of the file the last build wrote for ``target``: ``{target}`` in the layout before
    processing versions, ``{target}-{lineage_hash}`` since (the newest one)."""
    run, data_type = target.split("/")
    files = [f for f in (root / "data" / run).glob(f"{data_type}*") if f.name.split("-")[0] == data_type]
    return max(files, key=lambda f: f.stat().st_mtime_ns).stat().st_size


def snakemake(root: Path, target: str, *extra: str, code: Path = REPO) -> None:
    command = [str(SNAKEMAKE), "-s", str(Path(code) / "Snakefile"), "--cores", "1", "--quiet", "all",
               *extra, "--", target]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, env=code_env(code))
    if result.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


def code_env(code: Path) -> dict:
    """The environment that makes snakemake and its jobs import the package of ``code``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(code).resolve() / "workflow"),
                                         *filter(None, [env.get("PYTHONPATH")])])
    return env


def measure(root: Path, target: str, code: Path = REPO) -> dict:
    """Wall time, CPU time and peak RSS of one forced build, in a fresh runner process."""
    program = (f"import resource, sys, time; sys.path.insert(0, {str(REPO / 'benchmarks')!r})\n"
               f"from scale_bench import snakemake\nfrom pathlib import Path\n"
               f"t = time.perf_counter(); snakemake(Path({str(root)!r}), {target!r}, '--forcerun', "
               f"'superrun', code=Path({str(code)!r}))\n"
               f"u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
               f"print(time.perf_counter() - t, u.ru_utime + u.ru_stime, u.ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    seconds, cpu, rss_kb = out.stdout.split()
    return {"s": float(seconds), "cpu_s": float(cpu), "rss_mb": int(rss_kb) / 1024}


def ranges_case(n: int, name: str = "_ranges") -> dict:
    starts = T0 + np.linspace(0, RUN_NS, n, endpoint=False).astype(np.int64)
    width = RUN_NS // n // 2
    return {name: {"ranges": {"000001": [[int(s), int(s) + width] for s in starts]}}}


def events_case(root: Path, n: int) -> dict:
    rng = np.random.default_rng(1)
    time_ = np.sort(T0 + rng.integers(0, RUN_NS - 10_000, n))
    events = np.zeros(n, dtype=[("time", "i8"), ("endtime", "i8"), ("run_id", "U6")])
    events["time"], events["endtime"], events["run_id"] = time_, time_ + 1000, "000001"
    np.save(root / "events.npy", events)
    return {"_events": {"events": "events.npy"}}


def cases_of(args, root: Path) -> dict:
    cases = {}
    if args.floor:
        cases["floor: 1 range (any superrun's fixed cost)"] = ("_floor/peaks", ranges_case(1, "_floor"))
    if args.ranges:
        cases[f"{args.ranges:,} ranges on one run's peaks"] = ("_ranges/peaks", ranges_case(args.ranges))
    if args.events:
        cases[f"{args.events:,} events to windows and a built superrun"] = (
            "_events/peaks", events_case(root, args.events))
    return cases


def summary(label: str, code: str, times: list[dict], size: int) -> dict:
    return {"case": label, "code": code, "n": len(times),
            "median_s": statistics.median(t["s"] for t in times),
            "min_s": min(t["s"] for t in times), "max_s": max(t["s"] for t in times),
            "cpu_s": statistics.median(t["cpu_s"] for t in times),
            "rss_mb": max(t["rss_mb"] for t in times), "file_kb": size / 1024}


def run(args) -> list[dict]:
    rows = []
    codes = [("this", REPO, args.repeat)] + ([("baseline", args.baseline, args.baseline_repeat)]
                                             if args.baseline else [])
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        root = Path(tmp)
        cases = cases_of(args, root)
        write_workflow(root, {k: v for _, d in cases.values() for k, v in d.items()})
        snakemake(root, "000001/peaks")  # the run's own file, not timed
        for label, (target, _) in cases.items():
            times: dict[str, list] = {name: [] for name, _, _ in codes}
            sizes = {}
            for name, code, _ in codes:
                snakemake(root, target, "--forcerun", "superrun", code=code)  # warm-up
            for i in range(max(n for _, _, n in codes)):
                for name, code, n in codes:
                    if i < n:
                        times[name].append(measure(root, target, code))
                        sizes[name] = output_size(root, target)
            for name, _, _ in codes:
                rows.append(summary(label, name, times[name], sizes[name]))
                print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranges", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-floor", dest="floor", action="store_false", help="skip the 1-range case")
    parser.add_argument("--baseline", type=Path, help="a code directory to run side by side")
    parser.add_argument("--baseline-repeat", type=int, default=1)
    args = parser.parse_args()
    rows = run(args)
    print("\n| case | code | runs | median s | min-max s | CPU s | peak RSS MB | file KB |\n"
          "|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['code']} | {r['n']} | {r['median_s']:.2f} | {r['min_s']:.2f}-"
              f"{r['max_s']:.2f} | {r['cpu_s']:.2f} | {r['rss_mb']:.0f} | {r['file_kb']:,.0f} |")


if __name__ == "__main__":
    main()
