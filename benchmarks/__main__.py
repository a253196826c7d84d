"""Benchmarks: superruns against strax 2.2.3 on identical data.

    python -m benchmarks                  # every case, writes benchmarks/results.md
    python -m benchmarks --quick          # small sizes, 2 repeats: a smoke run (~3 min)
    python -m benchmarks build load       # only some cases: build load range many jobs campaign dag
    python -m benchmarks --cache cold     # drop the page cache before every measured run

Each measured run is a fresh process (``benchmarks/runner.py``) so its peak RSS is its own.
Every case runs once as a warm-up, then ``--repeat`` times, the implementations alternating
(A B A B ...); the table gives the median, min and max. Workspaces (generated data, strax's
subrun data, run registries) live in ``benchmarks/_work`` and are reused while unchanged.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import data, workspace

HERE = Path(__file__).resolve().parent
SMK = workspace.SNAKEMAKE
SNAKEFILE = None          # set in main(), after the code to measure is chosen
ALL_CASES = ("build", "load", "range", "many", "jobs", "campaign", "dag")
#: What the "build >= 10x" target compares: not like for like (the whole commands are compared
#: by "build through the snakemake command", issue 15).
UNLIKE = ("not like for like: the bare function build_superrun (its Sources resolved beforehand: no "
          "Project, definitions, lineage or Snakemake) against strax's whole st.make call (which resolves "
          "the superrun, lineage and storage itself), both in process, imports excluded")


@dataclass
class Measured:
    case: str
    impl: str
    runs: list[dict] = field(default_factory=list)
    mb: float | None = None            # uncompressed MB the case moves (for MB/s)
    note: str = ""

    def med(self, key="wall"):
        return statistics.median(r[key] for r in self.runs) if self.runs else float("nan")

    @property
    def walls(self):
        return [r["wall"] for r in self.runs]


class Bench:
    def __init__(self, args):
        self.args = args
        self.results: list[Measured] = []
        self.notes: list[str] = []
        self.started = time.time()

    # -- running one measured process ------------------------------------------------------

    def run_once(self, spec: dict, cold: bool = False) -> dict:
        if cold:    # here, not in the runner: a child there would count in its peak RSS
            subprocess.run("sync; echo 3 > /proc/sys/vm/drop_caches", shell=True, check=True)
        env = workspace.env()
        if spec.get("code"):       # another copy of the code (benchmarks.compare)
            env = workspace.env(code=spec["code"])
        proc = subprocess.run([sys.executable, "-m", "benchmarks.runner", json.dumps(spec)],
                              cwd=workspace.REPO, env=env, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"runner failed for {spec}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
        return json.loads(lines[-1][7:])

    def compare(self, group: list[tuple[str, str, dict]], *, mb=None, repeat=None, cold=False,
                warmup=True, note="") -> list[Measured]:
        """Measure the (case, impl, spec) entries alternating: warm-up each, then A B A B ..."""
        repeat = repeat or self.args.repeat
        measured = [Measured(case, impl, mb=mb, note=note) for case, impl, _ in group]
        if warmup:
            for _, impl, spec in group:
                workspace.log(f"  warm-up {impl}")
                self.run_once(spec, cold)
        for k in range(repeat):
            for m, (_, impl, spec) in zip(measured, group):
                r = self.run_once(spec, cold)
                m.runs.append(r)
                workspace.log(f"  {m.case} | {impl}: {r['wall']:.3f} s, peak RSS {r['peak_rss'] / 1e6:.0f} MB")
        self.results.extend(measured)
        return measured

    def caches(self) -> list[bool]:
        return {"warm": [False], "cold": [True], "both": [False, True]}[self.args.cache]

    # -- cases -------------------------------------------------------------------------------

    def case_build(self):
        root = workspace.build_workspace(self.args.quick)
        layout = workspace.layout_of(root)
        mb = layout.total_bytes / 1e6
        subrun_files = " ".join(f"data/{r}/peaks-*" for r in layout.run_ids)
        compressed = sum(os.path.getsize(p) for r in layout.run_ids for p in (root / "data" / r).glob("peaks-*"))
        self.notes.append(f"build: {layout.n_runs} subruns x {layout.chunks_per_run} chunks x "
                          f"{layout.rows_per_chunk} rows of {layout.dtype.itemsize} B = {mb:.0f} MB uncompressed, "
                          f"{compressed / 1e6:.0f} MB compressed in our subrun files")
        for cold in self.caches():
            tag = " (cold)" if cold else ""
            workspace.log(f"build{tag}")
            self.compare([
                ("build" + tag, "superruns build_superrun (package)", {"case": "build_pkg", "root": str(root), "data_type": "peaks"}),
                ("build" + tag, "strax st.make (write_superruns)", {"case": "build_strax", "root": str(root), "data_type": "peaks"}),
                # strax as a user runs it: a fresh interpreter, imports, the Context, st.make
                ("build" + tag, "strax st.make, whole command (python: import, Context, make)", {
                    "case": "command", "root": str(root),
                    "command": [sys.executable, "-m", "benchmarks.runner", json.dumps(
                        {"case": "build_strax", "root": str(root), "data_type": "peaks"})]}),
                ("build" + tag, "superruns via snakemake --cores 2", {
                    "case": "command", "root": str(root), "remove": ["data/_bench/peaks-*"],
                    "command": [SMK, "-s", SNAKEFILE, "--cores", "2", "_bench/peaks"]}),
                ("build" + tag, f"cp of our {compressed / 1e6:.0f} MB of subrun files + sync", {
                    "case": "command", "root": str(root), "remove": ["cp_out"], "mkdir": ["cp_out"],
                    "command": f"cp --parents {subrun_files} cp_out/ && sync cp_out/data/*/peaks-*"}),
            ], mb=mb, cold=cold)

    def case_load(self):
        root = workspace.build_workspace(self.args.quick)
        self._ensure_superrun(root)
        layout = workspace.layout_of(root)
        mb = layout.total_bytes / 1e6
        r = str(root)
        for cold in self.caches():
            tag = " (cold)" if cold else ""
            workspace.log(f"load{tag}")
            self.compare([
                ("load superrun" + tag, "superruns DataFile.load", {"case": "load_datafile", "root": r, "data_type": "peaks"}),
                ("load superrun" + tag, "strax get_array (stored superrun)", {"case": "load_strax", "root": r, "data_type": "peaks", "runs": "_bench"}),
                ("load superrun" + tag, "superruns.load (Project opened too)", {"case": "load_superruns", "root": r, "data_type": "peaks", "runs": "_bench"}),
                ("load superrun" + tag, "DataFile(nthreads=1).load", {"case": "load_datafile", "root": r, "data_type": "peaks", "nthreads": 1}),
            ], mb=mb, cold=cold)
            self.compare([
                ("load 20 subruns" + tag, "superruns.load per subrun (list)", {"case": "load_superruns", "root": r, "data_type": "peaks", "runs": layout.run_ids}),
                ("load 20 subruns" + tag, "strax get_array(list of runs)", {"case": "load_strax", "root": r, "data_type": "records", "runs": layout.run_ids}),
            ], mb=mb, cold=cold, note="strax with add_run_id_field=False (same bytes as ours)")

    def case_range(self):
        root = workspace.build_workspace(self.args.quick)
        self._ensure_superrun(root)
        layout = workspace.layout_of(root)
        start, end = layout.run_span(0)[0], layout.run_span(layout.n_runs - 1)[1]
        mid = (start + end) // 2
        t0, t1 = mid, mid + (end - start) // 100
        r = str(root)
        for cold in self.caches():
            tag = " (cold)" if cold else ""
            workspace.log(f"range{tag}")
            self.compare([
                ("time range 1%" + tag, "superruns DataFile.load(time_range)", {"case": "load_datafile", "root": r, "data_type": "peaks", "time_range": [t0, t1]}),
                ("time range 1%" + tag, "strax get_array(time_range)", {"case": "load_strax", "root": r, "data_type": "peaks", "runs": "_bench", "time_range": [t0, t1]}),
            ], cold=cold, note=f"[{t0}, {t1}): 1 % of the superrun's span")

    def _ensure_superrun(self, root: Path) -> None:
        if not workspace.project(root).path("_bench", "peaks").exists():
            subprocess.run([SMK, "-s", SNAKEFILE, "--cores", "2", "_bench/peaks", "--quiet", "all"], cwd=root,
                           env=workspace.env(), check=True, stdout=subprocess.DEVNULL)
        if not any(d.startswith("_bench_") for d in os.listdir(root / "strax")):
            self.run_once({"case": "build_strax", "root": str(root), "data_type": "peaks"})

    def case_many(self):
        sizes = [100, 1000] if self.args.quick else [100, 1000, 10000]
        strax_max = self.args.strax_many_max if self.args.strax_many_max is not None else (100 if self.args.quick else 1000)
        for n in sizes:
            root = workspace.many_workspace(n, with_strax=n <= strax_max)
            r = str(root)
            out = "data/_bench/event_info-*"
            mb = data.small_layout(n).total_bytes / 1e6
            repeat = self.args.repeat if n < 10000 else min(self.args.repeat, 2)
            workspace.log(f"many {n}")
            dry = [SMK, "-s", SNAKEFILE, "-n", "_bench/event_info"]
            self.compare([(f"{n} subruns: snakemake -n (superrun to build)", "superruns", {
                "case": "command", "root": r, "remove": [out], "command": dry})], repeat=repeat)
            group = [(f"{n} subruns: build", "superruns via snakemake --cores 2", {
                        "case": "command", "root": r, "remove": [out],
                        "command": [SMK, "-s", SNAKEFILE, "--cores", "2", "_bench/event_info"]}),
                     (f"{n} subruns: build", "superruns build_from_project (package)", {
                        "case": "build_project", "root": r, "data_type": "event_info"})]
            if n <= strax_max:
                group.append((f"{n} subruns: build", "strax st.make (write_superruns)", {
                    "case": "build_strax", "root": r, "data_type": "event_info"}))
            self.compare(group, mb=mb, repeat=repeat if n < 1000 or n > strax_max else min(repeat, 2))
            # the snakemake build must be last so its output exists for the no-op check
            self.run_once(group[0][2])
            self.compare([(f"{n} subruns: snakemake -n (all up to date)", "superruns", {
                "case": "command", "root": r, "command": dry, "expect": "Nothing to be done"})], repeat=repeat)

    def case_jobs(self):
        n_runs = 40 if self.args.quick else 200
        root = workspace.jobs_workspace(n_runs)
        r = str(root)
        run = workspace.JOB_RUN
        workspace.log("jobs")
        self.compare([
            ("one per-run job (event_basics)", "snakemake --cores 1 -f RUN/event_basics", {
                "case": "command", "root": r, "command": [SMK, "-s", SNAKEFILE, "--cores", "1", "-f", f"{run}/event_basics"]}),
            ("one per-run job (event_basics)", "snakemake -n (DAG only, same target)", {
                "case": "command", "root": r, "command": [SMK, "-s", SNAKEFILE, "-n", "-f", f"{run}/event_basics"]}),
        ], repeat=max(self.args.repeat, 5))
        runs = [data.run_id(i) for i in range(n_runs)]
        targets = [f"{x}/peaks" for x in runs]
        self.compare([(f"campaign: {n_runs} runs -> peaks ({n_runs} jobs)", "snakemake --cores 2", {
            "case": "command", "root": r, "remove": [f"data/{t}-*" for t in targets],
            "command": [SMK, "-s", SNAKEFILE, "--cores", "2", *targets]})], repeat=1, warmup=False,
            note=f"{n_runs} jobs")

    def case_campaign(self):
        """A campaign from nothing: N short runs to event_info (7 jobs a run), then the superrun
        of them all, through the snakemake command, against the same job functions called in
        one Python process (benchmarks.campaign); both whole commands."""
        for n in [50] if self.args.quick else [50, 200]:
            root = str(workspace.campaign_workspace(n))
            case = f"campaign: {n} runs -> event_info + superrun"
            fresh = {"case": "command", "root": root, "remove": ["data", ".snakemake"]}
            workspace.log(f"campaign {n}")
            self.compare([
                (case, "snakemake --cores 2", dict(fresh, command=[
                    SMK, "-s", SNAKEFILE, "--cores", "2", f"{workspace.CAMPAIGN_SUPERRUN}/event_info"])),
                (case, "one python process (benchmarks.campaign)", dict(fresh, command=[
                    sys.executable, "-m", "benchmarks.campaign", root])),
            ], note=f"{n} runs of 2 s: {7 * n} + 1 jobs")

    def case_dag(self):
        """A campaign's plan: N runs x 7 data types plus its superruns (one of all runs, one per
        100 runs), `snakemake -n` with nothing built and with everything built (the no-op)."""
        for n in [1000] if self.args.quick else [1000, 10000]:
            case = f"{n} runs x 7 data types + {n // 100 + 1} superruns: snakemake -n"
            repeat = self.args.repeat if n < 10000 else min(self.args.repeat, 2)
            plan, built = str(workspace.dag_workspace(n)), str(workspace.built_dag_workspace(n))
            workspace.log(f"dag {n}")
            self.compare([(case + " (nothing built)", "superruns", {
                "case": "command", "root": plan, "command": [SMK, "-s", SNAKEFILE, "-n"]})],
                repeat=repeat, warmup=n < 10000)
            self.compare([(case + " (all built: no-op)", "superruns", {
                "case": "command", "root": built, "expect": "Nothing to be done",
                "command": [SMK, "-s", SNAKEFILE, "-n"]})], repeat=repeat, warmup=n < 10000)

    # -- report ----------------------------------------------------------------------------

    def by(self, case, impl_prefix):
        for m in self.results:
            if m.case == case and m.impl.startswith(impl_prefix):
                return m
        return None

    def targets(self) -> list[str]:
        out = []

        def verdict(ok):
            return "**met**" if ok else "**not met**"
        for tag in ("", " (cold)"):
            ours, strax, smk = (self.by("build" + tag, p) for p in ("superruns build_superrun", "strax", "superruns via"))
            if ours and strax:
                speed, rss = strax.med() / ours.med(), ours.med("peak_rss") / strax.med("peak_rss")
                out.append(f"- build{tag} >= 10x strax's throughput with peak RSS <= 1/2 of strax's, {UNLIKE}: "
                           f"{verdict(speed >= 10 and rss <= 0.5)} (package: {speed:.1f}x faster, peak RSS "
                           f"{rss:.2f}x strax's" + (f"; through snakemake, a whole command against the in-process "
                                                    f"st.make: {strax.med() / smk.med():.1f}x, "
                                                    f"peak RSS {smk.med('peak_rss') / strax.med('peak_rss'):.2f}x" if smk else "") + ")")
            ours, strax = self.by("load superrun" + tag, "superruns DataFile"), self.by("load superrun" + tag, "strax")
            if ours and strax:
                speed = strax.med() / ours.med()
                rss = ours.med("peak_rss") / ours.med("result_bytes")
                extra = (ours.med("peak_rss") - ours.med("base_rss")) / ours.med("result_bytes")
                out.append(f"- load{tag} of the stored superrun >= 3x strax's speed with peak RSS <= 1.15x the result: "
                           f"{verdict(speed >= 3 and rss <= 1.15)} ({speed:.1f}x faster; peak RSS {rss:.2f}x the "
                           f"result, {extra:.2f}x above the process's RSS before loading; strax "
                           f"{strax.med('peak_rss') / strax.med('result_bytes'):.2f}x)")
        dry = self.by("10000 subruns: snakemake -n (superrun to build)", "superruns")
        noop = self.by("10000 subruns: snakemake -n (all up to date)", "superruns")
        if dry and noop:
            lin = []
            for m, label in ((dry, "dry run"), (noop, "no-op")):
                small = self.by(m.case.replace("10000", "1000"), "superruns")
                if small:
                    lin.append(f"{label} 10,000/1,000 = {m.med() / small.med():.1f}x")
            out.append(f"- 10,000-subrun superrun: dry run and no-op check each < 15 s: "
                       f"{verdict(dry.med() < 15 and noop.med() < 15)} (dry run {dry.med():.1f} s, no-op "
                       f"{noop.med():.1f} s; {', '.join(lin)}; linear would be 10x)")
        job = self.by("one per-run job (event_basics)", "snakemake --cores 1")
        if job:
            out.append(f"- a small per-run job < 1.5 s wall: {verdict(job.med() < 1.5)} "
                       f"(snakemake with one job: {job.med():.2f} s)")
        out.extend(self.issue15_targets(verdict))
        return out

    def issue15_targets(self, verdict) -> list[str]:
        out = []
        for tag in ("", " (cold)"):
            smk, strax = self.by("build" + tag, "superruns via"), self.by("build" + tag, "strax st.make, whole")
            if smk and strax:
                out.append(f"- build{tag} through the snakemake command >= 5x strax's st.make, both whole commands: "
                           f"{verdict(strax.med() / smk.med() >= 5)} ({strax.med() / smk.med():.1f}x)")
        for n in (50, 200):
            case = f"campaign: {n} runs -> event_info + superrun"
            smk, one = self.by(case, "snakemake"), self.by(case, "one python")
            if smk and one:
                out.append(f"- campaign of {n} runs through snakemake <= 2x the same work in one process (whole "
                           f"commands): {verdict(smk.med() / one.med() <= 2)} ({smk.med() / one.med():.2f}x)")
        plan = self.by("10000 runs x 7 data types + 101 superruns: snakemake -n (nothing built)", "superruns")
        noop = self.by("10000 runs x 7 data types + 101 superruns: snakemake -n (all built: no-op)", "superruns")
        if plan and noop:
            growth = []
            for label, m in (("plan", plan), ("no-op", noop)):
                small = self.by(m.case.replace("10000 runs", "1000 runs").replace("101 superruns", "11 superruns"),
                                "superruns")
                if small:
                    growth.append(f"{label} 10,000/1,000 = {m.med() / small.med():.1f}x")
            rss = max(plan.med("peak_rss"), noop.med("peak_rss"))
            out.append(f"- 10,000 runs x 7 data types + superruns: snakemake -n and the no-op each < 60 s and "
                       f"< 4 GB: {verdict(max(plan.med(), noop.med()) < 60 and rss < 4e9)} (plan {plan.med():.1f} s, "
                       f"no-op {noop.med():.1f} s, peak RSS {rss / 1e6:.0f} MB; {'; '.join(growth)})")
        return out

    def table(self) -> list[str]:
        lines = ["| case | implementation | median s | min s | max s | MB/s | peak RSS MB | peak RSS / result | read MB (rchar) | vs strax (time) | vs strax (peak RSS) |",
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for m in self.results:
            strax = next((s for s in self.results if s.case == m.case and s.impl.startswith("strax")), None)
            mbs = f"{m.mb / m.med():.0f}" if m.mb else ""
            result = m.med("result_bytes") if all("result_bytes" in r for r in m.runs) else None
            rss_ratio = f"{m.med('peak_rss') / result:.2f}" if result else ""
            rchar = f"{m.med('rchar') / 1e6:.1f}" if m.runs[0].get("children_peak_rss", 0) == 0 else ""
            speed = rss = ""
            if strax and strax is not m:
                speed = f"{strax.med() / m.med():.1f}x faster"
                rss = f"{m.med('peak_rss') / strax.med('peak_rss'):.2f}x"
            lines.append(f"| {m.case} | {m.impl} | {m.med():.3f} | {min(m.walls):.3f} | {max(m.walls):.3f} | {mbs} | "
                         f"{m.med('peak_rss') / 1e6:.0f} | {rss_ratio} | {rchar} | {speed} | {rss} |")
        return lines

    def write(self, path: Path) -> None:
        import blosc2
        import numpy
        import snakemake
        cmd = " ".join(["python -m benchmarks", *sys.argv[1:]])
        text = [
            "# Benchmark results", "",
            f"`{cmd}` (written by it; {datetime.datetime.now():%Y-%m-%d %H:%M}, "
            f"{(time.time() - self.started) / 60:.0f} min).", "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other work), "
            f"Python {platform.python_version()}, numpy {numpy.__version__}, blosc2 {blosc2.__version__}, "
            f"snakemake {snakemake.__version__}, strax {_strax_version()}. Code measured: {self.args.code_description}. "
            f"The snakemake command: {SMK}. "
            f"Page cache: {self.args.cache} ({'dropped before every measured run' if self.args.cache != 'warm' else 'warm'}"
            f"{' for the rows marked (cold)' if self.args.cache == 'both' else ''}).", "",
            f"Each row: one warm-up, then {self.args.repeat} measured runs (fewer where noted in the "
            "row's name), implementations alternating; every run is a fresh process. Time is the "
            "operation only (imports excluded) for the package/strax rows, and the whole command "
            "(start-up included) for snakemake, cp and script rows. Peak RSS is the process's (or its "
            "children's) peak during the operation; MB/s is uncompressed data per second.", "",
            "## Targets", "", *self.targets(), "",
            "## Results", "", *self.table(), "",
            "## Notes", "", *(f"- {n}" for n in self.notes),
            *(f"- {m.case}: {m.note}" for m in self.results if m.note and m.impl.startswith("superruns")), "",
        ]
        path.write_text("\n".join(text))


def _strax_version() -> str:
    out = subprocess.run([sys.executable, "-c", "import strax; print(strax.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("cases", nargs="*", metavar="case", help=f"some of {', '.join(ALL_CASES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 repeats (a smoke run)")
    parser.add_argument("--repeat", type=int, default=None, help="measured runs per case (default 3; quick 2)")
    parser.add_argument("--cache", choices=["warm", "cold", "both"], default=None,
                        help="page cache before each run (default: both for build/load/range; quick: warm)")
    parser.add_argument("--strax-many-max", type=int, default=None,
                        help="largest many-subrun superrun strax builds (default 1000; quick 100)")
    parser.add_argument("--output", type=Path, default=HERE / "results.md")
    parser.add_argument("--code", default="snapshot",
                        help="snapshot: a copy of the working tree taken at the start (default); head: "
                             "git archive HEAD; worktree: the files in place; or a code directory "
                             "(e.g. benchmarks/_work/code-*)")
    parser.add_argument("--snakemake", default=workspace.SNAKEMAKE,
                        help="the snakemake command measured (default: this environment's), e.g. that of a "
                             "superruns[workflow] environment (what `make demo` installs), whose start does not "
                             "import the plugins of the extras the strax rows need")
    args = parser.parse_args(argv)
    unknown = [c for c in args.cases if c not in ALL_CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}: choose from {', '.join(ALL_CASES)}")
    global SMK, SNAKEFILE
    SMK = args.snakemake
    args.code_description = workspace.use_code(args.code)
    SNAKEFILE = workspace.snakefile()
    args.repeat = args.repeat or (2 if args.quick else 3)
    args.cache = args.cache or ("warm" if args.quick else "both")
    cases = args.cases or list(ALL_CASES)
    bench = Bench(args)
    try:
        for case in ALL_CASES:
            if case in cases:
                getattr(bench, f"case_{case}")()
    finally:
        if bench.results:
            bench.write(args.output)
            print(args.output.read_text())


if __name__ == "__main__":
    main()
