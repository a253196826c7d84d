"""A campaign from nothing through Snakemake against the same work without it (issue 26,
items 2 and 3): where the jobs run, and what the workflow costs above the work as N grows.

The workspace is :func:`benchmarks.workspace.campaign_workspace`: N runs of 2 s of the shipped
detector, nothing built, and the superrun ``_camp`` of all of them. Each row is the whole
command in a fresh process, from nothing (``data/`` and ``.snakemake/`` removed first, not
timed), its CPU time (user + system of it and all its children, ``os.wait4``) and wall time:

* ``snakemake --cores 2 _camp/event_info`` with each ``job_processes``: ``workers`` (the
  default: worker processes forked from Snakemake's), ``threads`` (Snakemake's threads, one
  interpreter lock), ``fork`` (a fresh fork per job);
* ``one process``: the same job functions one after the other in one Python process
  (``python -m benchmarks.campaign``): the work without Snakemake;
* ``two processes``: the runs dealt to two plain processes, then the superrun
  (``--processes 2``): the same work on the 2 cores;
* ``bare``: Snakemake alone, the same jobs without their work (:mod:`benchmarks.bare`: jobs
  that write empty files, our profile's settings): its bookkeeping, the floor under ours.

Implementations alternate (A B C ... A B C ...), after one warm-up each; medians.

    .venv/bin/python -m benchmarks.campaign_bench                          # 50, 200, 1000 runs
    .venv/bin/python -m benchmarks.campaign_bench --runs 200 --repeat 5 --only workers "two processes"
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys

from . import bare, workspace
from .plan_bench import measure

TARGET = f"{workspace.CAMPAIGN_SUPERRUN}/event_info"


def commands(root) -> dict[str, list[str]]:
    smk = [workspace.SNAKEMAKE, "-s", workspace.snakefile(), "--cores", "2", TARGET]
    floor = [workspace.SNAKEMAKE, "-s", str(bare.write_bare(root)), "--cores", "2", *bare.FLAGS,
             "--scheduler-subsample", "100"]
    return {
        "workers": smk,
        "threads": [*smk, "--config", "job_processes=threads"],
        "fork": [*smk, "--config", "job_processes=fork"],
        "one process": [sys.executable, "-m", "benchmarks.campaign", str(root)],
        "two processes": [sys.executable, "-m", "benchmarks.campaign", str(root), "--processes", "2"],
        "bare": floor,
    }


def fresh(root) -> None:
    for name in ("data", ".snakemake"):
        shutil.rmtree(root / name, ignore_errors=True)


def run_size(n: int, repeat: int, only: list[str] | None) -> dict[str, list[dict]]:
    root = workspace.campaign_workspace(n)
    cmds = {name: cmd for name, cmd in commands(root).items() if not only or name in only}
    workspace.log(f"campaign of {n} runs: warm-up")
    for command in cmds.values():
        fresh(root)
        measure(command, workspace.REPO if "benchmarks.campaign" in command else root)
    runs: dict[str, list[dict]] = {name: [] for name in cmds}
    for i in range(repeat):
        for name, command in cmds.items():
            fresh(root)
            runs[name].append(measure(command, workspace.REPO if "benchmarks.campaign" in command else root))
            workspace.log(f"  {name} {i + 1}/{repeat}: {runs[name][-1]}")
    return runs


def table(results: dict[int, dict[str, list[dict]]]) -> list[str]:
    lines = ["| runs | jobs run | CPU s | wall s | CPU / one process | wall / one process | wall / two processes |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for n, runs in results.items():
        med = {name: {key: statistics.median(r[key] for r in rs) for key in ("cpu", "wall")}
               for name, rs in runs.items()}
        one, two = med.get("one process"), med.get("two processes")
        for name, m in med.items():
            cells = [f"{n:,}", name, f"{m['cpu']:.1f}", f"{m['wall']:.1f}",
                     f"{m['cpu'] / one['cpu']:.2f}" if one else "", f"{m['wall'] / one['wall']:.2f}" if one else "",
                     f"{m['wall'] / two['wall']:.2f}" if two else ""]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.campaign_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="+", help="some of: workers, threads, fork, one process, two processes, bare")
    parser.add_argument("--code", default="snapshot", help="as python -m benchmarks --code")
    args = parser.parse_args(argv)
    description = workspace.use_code(args.code)
    load = os.getloadavg()
    results = {n: run_size(n, args.repeat, args.only) for n in args.runs}
    print(f"\nCode: {description}. Medians of {args.repeat}, alternating; load average "
          f"{load[0]:.1f} before, {os.getloadavg()[0]:.1f} after.\n")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
