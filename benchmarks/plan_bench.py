"""A campaign's plan against Snakemake's floor (issue 26, item 1): `snakemake -n` of our
workflow side by side with a bare Snakefile of the same jobs (:mod:`benchmarks.bare`).

The workspace is :func:`benchmarks.workspace.dag_workspace`: N runs of the shipped detector
(two option periods: two chain rules), the superrun ``_all`` of every run and one superrun
per 100 runs, every superrun's ``event_info`` the default target. Two states:

* plan: nothing built (``snakemake -n`` plans N run jobs, N/100 + 1 superrun jobs);
* no-op: everything built as far as Snakemake can tell (empty files and Snakemake's records,
  :func:`benchmarks.workspace.built_dag_workspace`): ``Nothing to be done``.

Each measurement is the whole command in a fresh process (``os.wait4``: its CPU time, user +
system, and its peak RSS); ours and the bare one alternate, after one warm-up each. The
table gives medians, the ratio ours / bare of the medians (CPU and wall), and the growth
from the size before (``log(t / t0) / log(n / n0)`` of the CPU times: 1.0 is linear).

    .venv/bin/python -m benchmarks.plan_bench                        # 1,000 / 10,000 / 30,000
    .venv/bin/python -m benchmarks.plan_bench --sizes 1000 --repeat 5
    .venv/bin/python -m benchmarks.plan_bench --sizes 100000 --repeat 1 --states plan --no-bare

Run it from the repository root with the project's environment. The code measured is a
snapshot of the working tree (``--code``, as ``python -m benchmarks``).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import time
from pathlib import Path

from . import bare, workspace


def measure(command: list[str], cwd: Path, expect: str | None = None) -> dict:
    """Wall time, CPU time (user + system, the command and its children) and peak RSS of
    one run of ``command``."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=workspace.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = output.decode(errors="replace")
    if proc.returncode or (expect and expect not in text):
        raise RuntimeError(f"{' '.join(command)} in {cwd} (exit {proc.returncode}):\n{text[-3000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024}


def commands(root: Path, with_bare: bool) -> dict[str, list[str]]:
    ours = [workspace.SNAKEMAKE, "-s", workspace.snakefile(), "-n"]
    if not with_bare:
        return {"ours": ours}
    return {"ours": ours, "bare": [workspace.SNAKEMAKE, "-s", str(bare.write_bare(root)), "-n", *bare.FLAGS]}


def run_size(n: int, state: str, repeat: int, with_bare: bool) -> dict[str, list[dict]]:
    root = workspace.dag_workspace(n) if state == "plan" else workspace.built_dag_workspace(n)
    expect = "Nothing to be done" if state == "no-op" else None
    cmds = commands(root, with_bare)
    workspace.log(f"{n} runs, {state}: warm-up")
    if repeat > 1:
        for command in cmds.values():
            measure(command, root, expect)
    runs: dict[str, list[dict]] = {name: [] for name in cmds}
    for i in range(repeat):
        for name, command in cmds.items():
            runs[name].append(measure(command, root, expect))
            workspace.log(f"  {name} {i + 1}/{repeat}: {runs[name][-1]}")
    return runs


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def table(results: dict[tuple[int, str], dict[str, list[dict]]]) -> list[str]:
    lines = ["| runs | state | ours CPU s | ours wall s | bare CPU s | bare wall s | ratio CPU | ratio wall "
             "| ours peak RSS MB | bare peak RSS MB | growth of CPU, ours (bare) |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    before: dict[str, tuple[int, dict]] = {}
    for (n, state), runs in sorted(results.items(), key=lambda item: (item[0][1], item[0][0])):
        ours, floor = runs["ours"], runs.get("bare")
        n0, runs0 = before.get(state, (n, runs))
        before[state] = (n, runs)
        growth = ""
        if n != n0:
            growth = "{:.2f}".format(math.log(median(ours, "cpu") / median(runs0["ours"], "cpu")) / math.log(n / n0))
            if floor and "bare" in runs0:
                growth += " ({:.2f})".format(math.log(median(floor, "cpu") / median(runs0["bare"], "cpu"))
                                             / math.log(n / n0))
            growth += f" from {n0:,}"
        cells = [f"{n:,}", state, f"{median(ours, 'cpu'):.1f}", f"{median(ours, 'wall'):.1f}"]
        if floor:
            cells += [f"{median(floor, 'cpu'):.1f}", f"{median(floor, 'wall'):.1f}",
                      f"{median(ours, 'cpu') / median(floor, 'cpu'):.2f}",
                      f"{median(ours, 'wall') / median(floor, 'wall'):.2f}"]
        else:
            cells += ["", "", "", ""]
        cells += [f"{max(r['rss_mb'] for r in ours):.0f}",
                  f"{max(r['rss_mb'] for r in floor):.0f}" if floor else "", growth]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.plan_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 30000])
    parser.add_argument("--states", nargs="+", choices=["plan", "no-op"], default=["plan", "no-op"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-bare", dest="bare", action="store_false", help="ours only")
    parser.add_argument("--code", default="snapshot", help="as python -m benchmarks --code")
    args = parser.parse_args(argv)
    description = workspace.use_code(args.code)
    load = os.getloadavg()
    results = {(n, state): run_size(n, state, args.repeat, args.bare)
               for n in args.sizes for state in args.states}
    print(f"\nCode: {description}. Medians of {args.repeat}, alternating; load average "
          f"{load[0]:.1f} before, {os.getloadavg()[0]:.1f} after.\n")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
