"""Minimum bias at scale: select 1% of a stored superrun's time into a new superrun.

Writes 20 subruns of peaks-like rows (about 1 GB in all), builds the whole-run superrun,
then builds range superruns that hold 1% of its time (one range, and 20 ranges of 0.05%)
and loads a 1% time range from the stored superrun. It reports the bytes read and written
(``rchar``/``wchar`` of /proc/self/io: bytes through read/write calls, page cache included)
and the wall time, for frame sizes of 16, 4 and 1 MiB.

    .venv/bin/python benchmarks/minbias_bench.py --size-mb 1000
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from storage_bench import peaks  # noqa: E402

from superruns.build.concatenation import BuildSettings, Source, build_superrun  # noqa: E402
from superruns.storage import DataFile, DataWriter  # noqa: E402

N_SUBRUNS = 20


def io_counters() -> tuple[int, int]:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["rchar"]), int(fields["wchar"])


def measured(fn):
    r0, w0 = io_counters()
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    r1, w1 = io_counters()
    return seconds, r1 - r0, w1 - w0


def write_subruns(rows, directory: Path, frame_size: int) -> list[Path]:
    paths = []
    for i, part in enumerate(np.array_split(rows, N_SUBRUNS)):
        run_id = f"{i + 1:06d}"
        path = directory / run_id / "peaks"
        with DataWriter(path, part.dtype, {"run_id": run_id, "data_type": "peaks", "data_kind": "peaks"},
                        frame_size=frame_size) as writer:
            end = int(part["time"][-1] + part["length"][-1] * part["dt"][-1]) + 1
            writer.write_chunk(part, int(part["time"][0]), end, run_id=run_id)
        paths.append(path)
    return paths


def settings(itemsize: int) -> BuildSettings:
    return BuildSettings(chunk_target_bytes=200_000_000, row_bytes=itemsize, carry_over_min_bytes=1_000_000)


def whole_superrun(paths, output: Path, itemsize: int) -> None:
    sources = []
    for path in paths:
        data = DataFile(path)
        sources.append(Source(data.run_id, path, data.run_id, data.metadata["start"], data.metadata["end"], True))
    build_superrun("_all", sources, output, {"run_id": "_all", "data_type": "peaks", "data_kind": "peaks"},
                   settings(itemsize))


def ranges_superrun(superrun_path: Path, output: Path, ranges, itemsize: int) -> None:
    data = DataFile(superrun_path)
    sources = []
    for s, e in ranges:
        leaf = next(run for chunk in data.chunks for run, part in chunk.subruns.items()
                    if part["start"] <= s < part["end"])
        sources.append(Source("_all", superrun_path, leaf, s, e, False))
    build_superrun("_minbias", sources, output, {"run_id": "_minbias", "data_type": "peaks", "data_kind": "peaks"},
                   settings(itemsize))


def choose_ranges(start: int, end: int, fraction: float, n: int) -> list[tuple[int, int]]:
    """``n`` ranges holding ``fraction`` of ``[start, end)``, spread evenly over it."""
    width = int((end - start) * fraction / n)
    step = (end - start) // n
    return [(start + i * step + step // 3, start + i * step + step // 3 + width) for i in range(n)]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frame-mib", type=float, nargs="+", default=[16, 4, 1])
    args = parser.parse_args(argv)
    n_rows = int(args.size_mb * 1e6 / 824)
    print(f"generating {n_rows} rows ({n_rows * 824 / 1e6:.0f} MB) ...", file=sys.stderr)
    rows = peaks(n_rows)
    table = []
    for frame_mib in args.frame_mib:
        work = Path(tempfile.mkdtemp(prefix="minbias-bench-"))
        try:
            paths = write_subruns(rows, work, int(frame_mib * 2**20))
            superrun = work / "_all" / "peaks"
            whole_superrun(paths, superrun, rows.dtype.itemsize)
            stored = DataFile(superrun)
            start, end = stored.metadata["start"], stored.metadata["end"]
            file_bytes = superrun.stat().st_size
            cases = {
                "build: 1 range, 1% of the time": choose_ranges(start, end, 0.01, 1),
                "build: 20 ranges, 1% of the time": choose_ranges(start, end, 0.01, 20),
            }
            for label, ranges in cases.items():
                output = work / "_minbias" / "peaks"
                results = [measured(lambda: ranges_superrun(superrun, output, ranges, rows.dtype.itemsize))
                           for _ in range(args.repeat)]
                seconds, read, written = (statistics.median(r[i] for r in results) for i in range(3))
                held = DataFile(output).nbytes / stored.nbytes
                table.append((frame_mib, label, seconds, read / file_bytes, written / file_bytes, held))
            t0, t1 = choose_ranges(start, end, 0.01, 1)[0]
            results = [measured(lambda: DataFile(superrun).load(time_range=(t0, t1))) for _ in range(args.repeat)]
            seconds, read, _ = (statistics.median(r[i] for r in results) for i in range(3))
            table.append((frame_mib, "load: 1% time range", seconds, read / file_bytes, 0.0, None))
        finally:
            shutil.rmtree(work)
    print(f"\n{n_rows * 824 / 1e6:.0f} MB in {N_SUBRUNS} subruns, median of {args.repeat}; bytes as a "
          "fraction of the stored superrun file\n")
    print("| frame size | case | time (s) | bytes read | bytes written | rows held |")
    print("|---|---|---:|---:|---:|---:|")
    for frame_mib, label, seconds, read, written, held in table:
        held_text = "" if held is None else f"{held:.2%}"
        print(f"| {frame_mib:g} MiB | {label} | {seconds:.3f} | {read:.2%} | {written:.2%} | {held_text} |")


if __name__ == "__main__":
    main()
