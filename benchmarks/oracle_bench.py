"""The end-to-end oracle at a larger size (issue 21, item 2): the check of
tests/e2e/test_oracle.py (random superrun definitions of every kind, built with real
snakemake, compared with the independent oracle in tests/support/oracle.py) over about
2,000 definitions in batches of 100, one snakemake per batch.

Unlike the test it does not stop at the first failing batch or shrink it: every batch is
built and checked, and the superruns that differ from the oracle are counted per kind of
difference (rows, run document, chunk subruns; the first message of each kind printed); the
exit status is 1 when any differs. Wall time and CPU time (this process, and
its children: the snakemake runs) via ``resource.getrusage``.

    .venv/bin/python benchmarks/oracle_bench.py
    .venv/bin/python benchmarks/oracle_bench.py --definitions 2000 --batch 100 --seed 1

Run it from the repository root with the project's environment (``make test`` creates it).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from hypothesis import (  # noqa: E402
    HealthCheck,
    Phase,
    given,
    seed,
    settings,
    strategies as st,  # noqa: E402
)

from support.oracle_check import DATA_TYPES, BuildFailed, batch_problems, build, start_session  # noqa: E402
from support.oracle_draws import batches  # noqa: E402


def cpu_seconds() -> tuple[float, float]:
    """User + system CPU of this process and of its finished children."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run(definitions: int, batch: int, seed_value: int) -> dict:
    """Build and check about ``definitions`` drawn definitions (batches of 90-100% of
    ``batch``); what was counted."""
    counts: Counter = Counter()
    first: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="oracle-bench-") as root:
        session = start_session(Path(root))
        lo = max(1, batch - batch // 10)

        @seed(seed_value)
        @settings(max_examples=-(-definitions // lo), deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(st.data())
        def one_batch(data):
            drawn = data.draw(batches(session.universe, lo, batch))
            counts["definitions"] += len(drawn.definitions)
            counts["batches"] += 1
            try:
                counts["snakemake_s"] += build(session.flow, drawn)
            except BuildFailed as failure:     # count it and go on: a benchmark measures all
                counts["batches failed to build"] += 1
                first.setdefault("BuildFailed", str(failure))
                return
            differing = {}
            for kind, name, message in batch_problems(session, drawn):
                differing.setdefault(kind.__name__, set()).add(name)
                first.setdefault(kind.__name__, message)
            for kind, names in differing.items():
                counts[f"differ: {kind}"] += len(names)
            counts["differing superruns"] += len({n for names in differing.values() for n in names})

        one_batch()
    return {"counts": counts, "first": first}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--definitions", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="definitions per snakemake run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    wall, (cpu0, child0) = time.monotonic(), cpu_seconds()
    result = run(args.definitions, args.batch, args.seed)
    wall, (cpu1, child1) = time.monotonic() - wall, cpu_seconds()
    counts = result["counts"]
    print("| definitions | batches | data types | wall [s] | snakemake wall [s] | CPU self [s] "
          "| CPU children [s] | superruns differing |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {counts['definitions']:,} | {counts['batches']} | {len(DATA_TYPES)} | {wall:.0f} | "
          f"{counts['snakemake_s']:.0f} | {cpu1 - cpu0:.0f} | {child1 - child0:.0f} | "
          f"{counts['differing superruns']} |")
    for kind, message in result["first"].items():
        what = (f"{counts['batches failed to build']} batch(es)" if kind == "BuildFailed"
                else f"{counts['differ: ' + kind]} superrun(s)")
        print(f"\n{kind}: {what}; the first:\n  {message[:700]}")
    return 1 if counts["differing superruns"] or counts["batches failed to build"] else 0


if __name__ == "__main__":
    sys.exit(main())
