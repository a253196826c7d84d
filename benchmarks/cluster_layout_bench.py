"""Per-run jobs on SLURM: batch groups (profiles/slurm: config chain_group runs, 20 runs a batch
job) against SLURM job arrays (chain_group null, `slurm-array-jobs: all`), measured (issue 24, item 3).

Two parts:

* **plan** (any machine): a campaign of N runs (default 10,000) and one superrun of all,
  `snakemake --profile P --dry-run`: the batch jobs each layout makes (group jobs, or array
  tasks) and the sbatch calls they take (an array of up to MaxArraySize-1 = 1000 tasks is one
  sbatch), and the cost every batch job pays before its work, measured: one job's Snakemake
  process parsing the workflow of N runs (`--cores 1 -n` of one run's file, wall and CPU).
* **run** (needs the test cluster, tests/cluster/start_slurm.sh, SLURM_CONF set): the same
  campaign of `--runs` runs (default 40, 5 s each) built on the 2-node cluster with each
  layout (groups of `--per-group` runs, default 5, so that both layouts fill the 4 slots): wall,
  CPU of the batch jobs (processes in the nodes' namespaces, sampled), CPU of Snakemake (the submit side),
  sbatch calls (counted by an sbatch shim on PATH), and the batch jobs SLURM ran.

    .venv/bin/python benchmarks/cluster_layout_bench.py plan              # 10,000 runs, ~3 min
    SLURM_CONF=/tmp/superruns-slurm/slurm.conf .venv/bin/python benchmarks/cluster_layout_bench.py run

Run it from the repository root with the project's environment (the slurm extra).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
T0 = 1_546_300_800_000_000_000
ARRAY_LIMIT = 1000
TEST_CLUSTER = ("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2")


def write_campaign(root: Path, n_runs: int, seconds: int = 5) -> None:
    (root / "config" / "superruns.d").mkdir(parents=True)
    runs = {f"{i:06d}": {"start": T0 + i * 60 * 10**9, "end": T0 + (i * 60 + seconds) * 10**9,
                         "mode": "background", "source": "none", "tags": []} for i in range(n_runs)}
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}))
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump({"_all": {"runs": list(runs)}}))
    (root / "config" / "config.yaml").write_text(yaml.safe_dump({
        "data_dir": "data", "runs": "config/runs.yaml", "superruns": ["config/superruns.yaml", "config/superruns.d"],
        "plugins": ["superruns.detector"], "options": {"chunk_duration_s": 10}}))


def profiles(root: Path) -> dict[str, Path]:
    """``{"groups": profiles/slurm, "arrays": a copy without groups, with slurm-array-jobs: all}``."""
    settings = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    arrays = {k: v for k, v in settings.items() if k not in ("groups", "group-components")}
    arrays["slurm-array-jobs"] = "all"
    arrays["config"] = ["chain_group=null"]
    folder = root / "profile-arrays"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(arrays))
    return {"groups": REPO / "profiles" / "slurm", "arrays": folder}


def timed(command: list[str], cwd: Path, env=None) -> tuple[subprocess.CompletedProcess, float, float]:
    """(result, wall s, CPU s of the command and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return result, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def stats_table(output: str) -> dict[str, int]:
    table = output[output.index("Job stats:"):]
    table = table[:table.index("total")]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def plan(n_runs: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_campaign(root, n_runs)
        rows = []
        for layout, profile in profiles(root).items():
            result, wall, cpu = timed([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--profile", str(profile),
                                       "--dry-run", "_all/event_info"], root)
            assert result.returncode == 0, result.stderr[-3000:]
            out = result.stdout + result.stderr
            jobs = stats_table(out)
            if layout == "groups":
                batch_jobs = len(re.findall(r"Group job runs \(", out)) + sum(v for k, v in jobs.items()
                                                                            if not k.startswith("run_chain"))
                sbatch = batch_jobs
            else:
                batch_jobs = sum(jobs.values())
                sbatch = sum(math.ceil(n / ARRAY_LIMIT) for n in jobs.values())
            rows.append((layout, batch_jobs, sbatch, wall))
        parse = [timed([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--cores", "1", "--dry-run",
                        "data/000001/event_info"], root)[1:] for _ in range(repeat)]
    wall = statistics.median(w for w, _ in parse)
    cpu = statistics.median(c for _, c in parse)
    print(f"\n{n_runs} runs + 1 superrun; one batch job's Snakemake start-up and parse: {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU (median of {repeat})\n")
    print("| layout | batch jobs (SLURM jobs or array tasks) | sbatch calls | start-up CPU over all batch jobs "
          "| dry run (planning) |")
    print("|---|---|---|---|---|")
    for layout, batch_jobs, sbatch, planning in rows:
        print(f"| {layout} | {batch_jobs:,} | {sbatch:,} | {batch_jobs * cpu / 3600:.1f} h | {planning:.0f} s |")


def sbatch_shim(root: Path) -> tuple[Path, Path]:
    """A folder with an `sbatch` that logs each call, then runs the real one."""
    real = subprocess.run(["which", "sbatch"], capture_output=True, text=True).stdout.strip()
    folder, log = root / "shim", root / "sbatch-calls.log"
    folder.mkdir()
    shim = folder / "sbatch"
    shim.write_text(f'#!/bin/sh\necho call >> "{log}"\nexec {real} "$@"\n')
    shim.chmod(0o755)
    return folder, log


class NodeCPU:
    """CPU seconds of the processes in the test cluster's node namespaces (the batch jobs): every
    0.2 s each such process's utime + stime is read from /proc and its largest value kept (a
    process shorter than that may be missed; a batch job runs seconds)."""

    def __init__(self):
        ns = os.environ.get("SUPERRUNS_SLURM_NS", "superruns")
        self.namespaces = {os.stat(f"/run/netns/{ns}-{node}").st_ino for node in ("node1", "node2")}
        self.seen: dict[tuple[int, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(0.2):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if os.stat(f"/proc/{pid}/ns/net").st_ino not in self.namespaces:
                        continue
                    head, _, tail = Path(f"/proc/{pid}/stat").read_text().rpartition(")")
                except OSError:
                    continue
                fields = tail.split()
                key = (int(pid), fields[19])                 # pid and start time: one process
                self.seen[key] = max(self.seen.get(key, 0.0), (int(fields[11]) + int(fields[12])) / tick)

    def __enter__(self) -> "NodeCPU":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


def build_on_cluster(layout: str, n_runs: int, per_group: int) -> tuple[float, float, float, int, int]:
    """(wall, submit-side CPU, batch jobs' CPU, sbatch calls, SLURM jobs or array tasks) of one build."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        root = Path(tmp)
        write_campaign(root, n_runs)
        shim, log = sbatch_shim(root)
        env = dict(os.environ, PATH=f"{shim}:{os.environ['PATH']}")
        extra = ["--group-components", f"runs={per_group}"] if layout == "groups" else []
        command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), *extra, "--profile", str(profiles(root)[layout]),
                   *TEST_CLUSTER, "_all/event_info"]
        with NodeCPU() as nodes:
            result, wall, cpu = timed(command, root, env)
        jobs_cpu = nodes.seconds
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        out = result.stdout + result.stderr
        tasks = len(re.findall(r"submitted with SLURM jobid", out)) if layout == "groups" else \
            sum(stats_table(out).values())
        return wall, cpu, jobs_cpu, len(log.read_text().split()), tasks


def run(n_runs: int, repeat: int, per_group: int) -> None:
    results = {}
    for _ in range(repeat):
        for layout in ("groups", "arrays"):
            results.setdefault(layout, []).append(build_on_cluster(layout, n_runs, per_group))
    print(f"\n{n_runs} runs x 5 s + 1 superrun on the 2-node test cluster (2 CPUs a node, one 2-core machine), "
          f"groups of {per_group} runs; median of {repeat}\n")
    print("| layout | wall | CPU of the batch jobs | CPU of Snakemake (submit side) | sbatch calls | "
          "batch jobs (jobs or array tasks) |")
    print("|---|---|---|---|---|---|")
    for layout, rows in results.items():
        wall, cpu, jobs = (statistics.median(r[i] for r in rows) for i in range(3))
        print(f"| {layout} | {wall:.0f} s | {jobs:.0f} s | {cpu:.0f} s | {rows[0][3]} | {rows[0][4]} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["plan", "run"])
    parser.add_argument("--runs", type=int, default=None, help="plan: 10000; run: 40")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-group", type=int, default=5, help="run: runs per group job (so groups fill the slots)")
    args = parser.parse_args()
    if args.part == "plan":
        plan(args.runs or 10_000, args.repeat)
    else:
        run(args.runs or 40, args.repeat, args.per_group)


if __name__ == "__main__":
    main()
