"""Two codes side by side: a change measured against the code before it, in one run.

    python -m benchmarks.compare BASELINE                 # every case below
    python -m benchmarks.compare BASELINE build load      # some of them

``BASELINE`` is a code directory laid out like the repository (``Snakefile``, ``rules/``,
``scripts/``, ``profiles/``, ``workflow/superruns/``), e.g. ``git archive`` of an earlier
commit unpacked somewhere. Each case runs both codes alternating (baseline, current,
baseline, ...) in fresh processes, after a warm-up of each, on the workspaces of
``python -m benchmarks`` (made if missing); the table, with the ratio of medians, goes to
``--output``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __main__ as suite, data, workspace

CASES = ("build", "load", "range", "many1k", "many10k", "jobs")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n")[0])
    parser.add_argument("baseline", type=Path, help="the code directory to compare with")
    parser.add_argument("cases", nargs="*", help=f"default: all of {', '.join(CASES)}")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--code", default="snapshot")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "_work" / "compare-results.md")
    args = parser.parse_args(argv)
    args.quick, args.cache, args.strax_many_max = False, "warm", 0
    args.code_description = workspace.use_code(args.code)
    current = str(workspace.code_dir())
    baseline = str(args.baseline.resolve())
    cases = args.cases or list(CASES)
    if set(cases) - set(CASES):
        parser.error(f"unknown case(s): choose from {', '.join(CASES)}")
    bench = suite.Bench(args)
    smk = workspace.SNAKEMAKE

    def pair(case, label, spec_of, **kw):
        bench.compare([(case, f"baseline: {label}", dict(spec_of(baseline), code=baseline)),
                       (case, f"current: {label}", dict(spec_of(current), code=current))], **kw)

    if {"build", "load", "range"} & set(cases):
        root = workspace.build_workspace(False)
        r = str(root)
        mb = workspace.layout_of(root).total_bytes / 1e6
        suite.SNAKEFILE = workspace.snakefile()
        bench._ensure_superrun(root)
        if "build" in cases:
            pair("build 20 x 50 MB", "build_superrun (package)",
                 lambda c: {"case": "build_pkg", "root": r, "data_type": "peaks"}, mb=mb)
            pair("build 20 x 50 MB", "snakemake --cores 2",
                 lambda c: {"case": "command", "root": r, "remove": ["data/_bench/peaks", "data/_bench/peaks-*"],
                            "command": [smk, "-s", f"{c}/Snakefile", "--cores", "2", "_bench/peaks"]}, mb=mb)
        if "load" in cases:
            pair("load 1 GB superrun", "DataFile.load",
                 lambda c: {"case": "load_datafile", "root": r, "data_type": "peaks"}, mb=mb)
            pair("load 1 GB superrun", "superruns.load",
                 lambda c: {"case": "load_superruns", "root": r, "data_type": "peaks", "runs": "_bench"}, mb=mb)
        if "range" in cases:
            layout = workspace.layout_of(root)
            start, end = layout.run_span(0)[0], layout.run_span(layout.n_runs - 1)[1]
            t0 = (start + end) // 2
            pair("time range 1 %", "DataFile.load(time_range)",
                 lambda c: {"case": "load_datafile", "root": r, "data_type": "peaks",
                            "time_range": [t0, t0 + (end - start) // 100]})
    for n, key in ((1000, "many1k"), (10000, "many10k")):
        if key not in cases:
            continue
        root = workspace.many_workspace(n, with_strax=False)
        r = str(root)
        mb = data.small_layout(n).total_bytes / 1e6
        out = ["data/_bench/event_info", "data/_bench/event_info-*"]   # either layout (baseline, ours)
        rep = args.repeat if n < 10000 else min(args.repeat, 3)
        pair(f"{n} subruns: build", "build_from_project (package)",
             lambda c: {"case": "build_project", "root": r, "data_type": "event_info"}, mb=mb, repeat=rep)
        pair(f"{n} subruns: snakemake -n (to build)", "",
             lambda c: {"case": "command", "root": r, "remove": out,
                        "command": [smk, "-s", f"{c}/Snakefile", "-n", "_bench/event_info"]}, repeat=rep)
        pair(f"{n} subruns: build", "snakemake --cores 2",
             lambda c: {"case": "command", "root": r, "remove": out,
                        "command": [smk, "-s", f"{c}/Snakefile", "--cores", "2", "_bench/event_info"]},
             mb=mb, repeat=rep)
        pair(f"{n} subruns: snakemake -n (up to date)", "",
             lambda c: {"case": "command", "root": r, "expect": "Nothing to be done",
                        "command": [smk, "-s", f"{c}/Snakefile", "-n", "_bench/event_info"]}, repeat=rep)
    if "jobs" in cases:
        root = workspace.jobs_workspace(200)
        r = str(root)
        # The whole command only: where a job's script runs depends on the code's layout.
        pair("one per-run job (event_basics)", "snakemake --cores 1 -f",
             lambda c: {"case": "command", "root": r, "command": [smk, "-s", f"{c}/Snakefile", "--cores", "1", "-f",
                                                                   f"{workspace.JOB_RUN}/event_basics"]})
    lines = ["# Two codes side by side", "",
             f"`python -m benchmarks.compare {' '.join(_portable(sys.argv[1:] if argv is None else argv))}`: current = "
             f"{args.code_description}; baseline = the code in a directory named {args.baseline.name!r}. Warm page cache; one warm-up each, then "
             f"{args.repeat} runs (3 for 10,000 subruns) alternating; fresh process per run.", "",
             *_table(bench), ""]
    args.output.write_text("\n".join(lines))
    print(args.output.read_text())


def _portable(args: list[str]) -> list[str]:
    """The command's arguments with directories named by their last part (no machine's paths)."""
    return [Path(a).name if a.startswith("/") else a for a in args]


def _table(bench) -> list[str]:
    """The suite's table, the current code's medians against the baseline's."""
    rows = ["| case | code | median s | min s | max s | MB/s | peak RSS MB | baseline / current (time) |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for m in bench.results:
        ref = next((x for x in bench.results if x.case == m.case and x.impl == m.impl.replace("current:", "baseline:")), None)
        gain = f"{ref.med() / m.med():.2f}" if ref is not None and ref is not m else ""
        mbs = f"{m.mb / m.med():.0f}" if m.mb else ""
        rows.append(f"| {m.case} | {m.impl} | {m.med():.3f} | {min(m.walls):.3f} | {max(m.walls):.3f} | {mbs} | "
                    f"{m.med('peak_rss') / 1e6:.0f} | {gain} |")
    return rows


if __name__ == "__main__":
    main()
