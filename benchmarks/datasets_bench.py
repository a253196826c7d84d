"""Datasets (issue 13): how long queries, set algebra and the demo's definitions take to resolve.

* ``query``: a ``query:`` (mode, tags, exclude_tags, start, end, dq) over a registry of N runs
  (default 100,000), resolved and locked (the lock file written): ``Definitions`` built from
  the parsed definition, in-process (the registry is built in memory; reading a 100,000-run
  YAML file is the registry's cost, reported on its own line).
* ``algebra``: two superruns of N runs (default 10,000) with R ranges each (default 100),
  and their ``union``, ``intersection`` and ``difference``: the operations on run spans
  alone, and the whole ``Definitions`` (parse records, flatten all five superruns).
* ``demo``: the whole command ``superruns list`` on the shipped demo configuration, with and
  without its dataset definitions (config/superruns.d/datasets.yaml), side by side.

Each case runs ``--repeat`` times (default 5) after a warm-up; the table gives the median and
the range of the wall time.

    .venv/bin/python benchmarks/datasets_bench.py
    .venv/bin/python benchmarks/datasets_bench.py --runs 100000 --algebra-runs 10000 --ranges 100

Run it from the repository root with the project's environment.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

from superruns.definitions import Definitions  # noqa: E402
from superruns.definitions.parsing import parse_document  # noqa: E402
from superruns.definitions.setalgebra import difference, intersection, union  # noqa: E402
from superruns.model.runs import Run, RunRegistry  # noqa: E402

T0 = 1_546_509_600_000_000_000
S = 1_000_000_000
FILE = Path("bench.yaml")


def timed(fn, repeat: int) -> tuple[float, float, float]:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times)


def big_registry(n: int) -> RunRegistry:
    modes = ("background", "kr83m", "rn220", "ambe")
    return RunRegistry(Run(f"{i:06d}", T0 + i * 200 * S, T0 + i * 200 * S + 180 * S, modes[i % 4],
                           "none", ("sr1", "low_rate") if i % 10 == 0 else ("sr1",))
                       for i in range(n))


def query_case(n: int, repeat: int, tmp: Path) -> list[tuple]:
    runs = big_registry(n)
    (tmp / "dq").mkdir(exist_ok=True)
    dq = {"subsystems": ["tpc"], "runs": {f"{i:06d}": {"tpc": "good" if i % 7 else "bad"}
                                          for i in range(n)},
          "defects": {"tpc": [[T0 + i * 200 * S + S, T0 + i * 200 * S + 2 * S] for i in range(0, n, 50)]}}
    (tmp / "dq" / "v1.yaml").write_text(yaml.dump(dq, Dumper=yaml.CSafeDumper))
    query = {"mode": "background", "tags": ["sr1"], "exclude_tags": ["low_rate"],
             "start": T0, "end": T0 + n * 200 * S}
    lock = tmp / "superruns.lock.yaml"
    rows = []
    for label, q in (("mode, tags, exclude_tags, start, end", query),
                     ("the same + dq (reading the DQ file of all runs included)",
                      dict(query, dq={"version": "v1", "require": ["tpc"]}))):
        records = parse_document({"_q": {"query": q}}, FILE)

        def resolve():
            lock.unlink(missing_ok=True)
            defs = Definitions(records, runs, dq_dir=tmp / "dq", lock=lock)
            return defs.run_metadata("_q")

        md = resolve()
        rows.append((f"query over {n:,} runs: {label}; resolved and locked (lock file written)",
                     *timed(resolve, repeat), f"{md['n_leaf_runs']:,} runs selected"))
    path = tmp / "runs.yaml"
    path.write_text(yaml.dump(Dumper=yaml.CSafeDumper, data={"runs": {r.run_id: {"start": r.start, "end": r.end, "mode": r.mode,
                                                         "source": r.source, "tags": list(r.tags)}
                                             for r in runs.values()}}))
    from superruns.definitions.dq import load_dq

    rows.append((f"for context: reading the DQ file of {n:,} runs (config/dq/v1.yaml)",
                 *timed(lambda: load_dq(tmp / "dq", "v1"), 1), ""))
    rows.append((f"for context: reading the {n:,}-run registry file", *timed(lambda: RunRegistry.load(path), 1), ""))
    return rows


def algebra_case(n: int, r: int, repeat: int) -> list[tuple]:
    step = 180 * S // (2 * r)
    runs = RunRegistry(Run(f"{i:06d}", T0 + i * 200 * S, T0 + i * 200 * S + 180 * S, "background")
                       for i in range(n))
    a = {f"{i:06d}": [[T0 + i * 200 * S + 2 * k * step, T0 + i * 200 * S + (2 * k + 1) * step]
                      for k in range(r)] for i in range(n)}
    b = {run: [[s + step // 2, e + step // 2] for s, e in spans] for run, spans in a.items()}
    # as the operations pass run spans to each other: int64 arrays per run
    a_arr = {run: np.array(spans, np.int64) for run, spans in a.items()}
    b_arr = {run: np.array(spans, np.int64) for run, spans in b.items()}

    def ops():
        union([a_arr, b_arr]), intersection([a_arr, b_arr]), difference(a_arr, [b_arr])

    doc = {"_a": {"ranges": a}, "_b": {"ranges": b}, "_u": {"union": ["_a", "_b"]},
           "_i": {"intersection": ["_a", "_b"]}, "_d": {"difference": ["_a", "_b"]}}
    records = parse_document(doc, FILE)
    return [(f"union + intersection + difference, {n:,} runs x {r} ranges (span operations)",
             *timed(ops, repeat), f"{n * r:,} ranges per operand"),
            (f"the same as definitions: 5 superruns flattened ({n:,} runs x {r} ranges)",
             *timed(lambda: Definitions(records, runs), 1), "incl. the two plain ones; 1 repeat")]


def demo_case(repeat: int, tmp: Path) -> list[tuple]:
    cli = Path(sys.executable).parent / "superruns"
    rows = []
    for label, keep in (("without datasets.yaml", False), ("with datasets.yaml", True)):
        root = tmp / f"demo-{keep}"
        shutil.copytree(REPO / "config", root / "config")
        if not keep:
            (root / "config" / "superruns.d" / "datasets.yaml").unlink()
        command = [str(cli), "--config", str(root / "config" / "config.yaml"), "list"]
        rows.append((f"demo: superruns list, {label}", *timed(
            lambda: subprocess.run(command, check=True, capture_output=True), repeat), "whole command"))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--algebra-runs", type=int, default=10_000)
    p.add_argument("--ranges", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("cases", nargs="*", default=["query", "algebra", "demo"],
                   help="query, algebra, demo (default: all)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = ((query_case(args.runs, args.repeat, Path(tmp)) if "query" in args.cases else [])
                + (algebra_case(args.algebra_runs, args.ranges, args.repeat)
                   if "algebra" in args.cases else [])
                + (demo_case(args.repeat, Path(tmp)) if "demo" in args.cases else []))
    print("| case | median s | min s | max s | note |\n|---|---|---|---|---|")
    for name, med, lo, hi, note in rows:
        print(f"| {name} | {med:.3f} | {lo:.3f} | {hi:.3f} | {note} |")


if __name__ == "__main__":
    main()
