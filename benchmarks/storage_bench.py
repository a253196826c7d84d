"""Storage benchmark: superruns' DataWriter/DataFile against raw blosc2 on peaks-like rows.

    .venv/bin/python benchmarks/storage_bench.py --size-mb 1000

Generates peaks-like rows (824 B/row: time, length, dt, channel, type, 1 byte of padding, area,
a 200-sample float32 waveform with a pulse, noise, and zeros after the pulse's length), then,
``--repeat`` times each, reports the median speed in MB/s of *uncompressed* data:

1. codecs: raw ``blosc2.compress2`` / ``decompress2`` of the same frames (``--frame-mb``,
   by default ``storage.FRAME_SIZE``, 4 MiB; into a preallocated array), for the default and
   the alternatives measured;
2. the read path of the frames of a file: ``os.pread`` into a reused buffer + CRC32 +
   ``decompress2`` into the result (what DataFile does) against ``get_chunk`` + CRC32 +
   ``decompress2``, ``decompress_chunk(i, dst)`` and ``decompress_chunk(i)`` + copy;
3. superruns, for each of ``--variants`` (codec:clevel:filter; the first is the default):
   ``DataWriter`` (compress, write, fsync, rename; 200 MB chunks), ``DataFile.load`` with and
   without CRC checks, a 10 % time-range load, and a carry-over copy of every frame into a new
   file (``DataFile.frames`` -> ``write_chunk_parts``).

Files go to a temporary directory under ``benchmarks/_work`` (removed at the end). Reads are
from the page cache (warm): the machine is shared, so the benchmark does not drop caches.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import blosc2
import numpy as np

from superruns import storage
from superruns.storage import DataFile, DataWriter

PEAKS_DTYPE = np.dtype({
    "names": ["time", "length", "dt", "channel", "type", "area", "data"],
    "titles": ["Start time since unix epoch [ns]", "Length of the interval in samples",
               "Width of one sample [ns]", "Channel/PMT number", "Classification of the peak",
               "Integral [PE]", "Waveform data in PE/sample"],
    "formats": ["<i8", "<i4", "<i4", "<i2", "|i1", "<f4", ("<f4", (200,))],
    "offsets": [0, 8, 12, 16, 18, 20, 24],
    "itemsize": 824,
})


def peaks(n: int, seed: int = 0, t0: int = 1_700_000_000_000_000_000, block: int = 50_000) -> np.ndarray:
    """``n`` peaks-like rows, sorted by time and not overlapping (generated in blocks)."""
    rng = np.random.default_rng(seed)
    rows = np.zeros(n, PEAKS_DTYPE)
    samples = np.arange(200, dtype=np.float32)
    time = t0
    for i in range(0, n, block):
        r = rows[i:i + block]
        m = len(r)
        dt = 10
        length = np.clip(rng.lognormal(np.log(35), 0.6, m), 10, 200).astype(np.int32)
        gaps = length.astype(np.int64) * dt + rng.integers(100, 3000, m)
        starts = time + np.concatenate([[0], np.cumsum(gaps[:-1])])
        time = int(starts[-1] + gaps[-1])
        r["time"], r["length"], r["dt"] = starts, length, dt
        r["channel"] = rng.integers(0, 494, m)
        r["type"] = rng.integers(0, 3, m)
        area = rng.exponential(100, m).astype(np.float32)
        r["area"] = area
        rise = rng.uniform(2, 10, m).astype(np.float32)[:, None]
        decay = rng.uniform(10, 60, m).astype(np.float32)[:, None]
        shape = (1 - np.exp(-samples / rise)) * np.exp(-samples / decay)
        wave = shape / shape.sum(axis=1, keepdims=True) * area[:, None]
        wave += rng.normal(0, 0.05, wave.shape).astype(np.float32)     # noise: full float32 mantissas
        wave[samples[None, :] >= length[:, None]] = 0                  # zeros after the pulse
        r["data"] = wave
    return rows


F = blosc2.Filter
# (label, codec, clevel, filter, typesize); the first row is the default.
CODECS = [
    ("lz4 5 shuffle ts4", "lz4", 5, "shuffle", 4),
    ("lz4 1 shuffle ts4", "lz4", 1, "shuffle", 4),
    ("lz4 9 shuffle ts4", "lz4", 9, "shuffle", 4),
    ("lz4 5 shuffle ts8", "lz4", 5, "shuffle", 8),
    ("lz4 5 bitshuffle ts4", "lz4", 5, "bitshuffle", 4),
    ("lz4 5 shuffle ts2", "lz4", 5, "shuffle", 2),
    ("lz4 5 nofilter", "lz4", 5, "nofilter", 4),
    ("lz4 1 nofilter", "lz4", 1, "nofilter", 4),
    ("zstd 1 shuffle ts4", "zstd", 1, "shuffle", 4),
    ("zstd 1 nofilter", "zstd", 1, "nofilter", 4),
    ("zstd 3 shuffle ts4", "zstd", 3, "shuffle", 4),
    ("blosclz 5 shuffle ts4", "blosclz", 5, "shuffle", 4),
]


def cparams(codec, clevel, filt, typesize, nthreads):
    return blosc2.CParams(codec=blosc2.Codec[codec.upper()], clevel=clevel, typesize=typesize,
                          nthreads=nthreads, filters=[F[filt.upper()]], filters_meta=[0])


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_codecs(rows, frame_rows, repeat, nthreads):
    nbytes = rows.nbytes
    out = np.empty_like(rows)
    out.view(np.uint8)[:] = 0                        # fault the pages in once, outside the timing
    results = []
    for label, codec, clevel, filt, typesize in CODECS:
        cp = cparams(codec, clevel, filt, typesize, nthreads)
        frames = []

        def compress():
            frames.clear()
            frames.extend(blosc2.compress2(rows[i:i + frame_rows], cparams=cp)
                          for i in range(0, len(rows), frame_rows))

        def decompress():
            for k, i in enumerate(range(0, len(rows), frame_rows)):
                blosc2.decompress2(frames[k], dst=out[i:i + frame_rows], nthreads=nthreads)

        tc = timed(compress, repeat)
        td = timed(decompress, repeat)
        assert out.tobytes() == rows.tobytes(), label
        results.append((label, nbytes / sum(map(len, frames)), nbytes / tc / 1e6, nbytes / td / 1e6))
        print(f"  {label:40s} ratio {results[-1][1]:5.2f}  compress {results[-1][2]:7.0f}  "
              f"decompress {results[-1][3]:7.0f} MB/s", file=sys.stderr)
    return results


def bench_read_paths(path, rows, repeat, nthreads):
    schunk = blosc2.open(str(path), mode="r", dparams=blosc2.DParams(nthreads=nthreads))
    f = DataFile(path)
    bounds = np.cumsum([0] + [fr["n"] for fr in f.metadata["frames"]])
    out = np.empty_like(rows)
    out.view(np.uint8)[:] = 0

    offsets = DataFile(path).frame_offsets
    buffer = bytearray(max(fr["csize"] for fr in f.metadata["frames"]))

    def pread_crc_decompress2():
        fd = os.open(path, os.O_RDONLY)
        try:
            for k in range(schunk.nchunks):
                data = memoryview(buffer)[:offsets[k + 1] - offsets[k]]
                os.preadv(fd, [data], offsets[k])
                zlib.crc32(data)
                blosc2.decompress2(data, dst=out[bounds[k]:bounds[k + 1]], nthreads=nthreads)
        finally:
            os.close(fd)

    def get_crc_decompress2():
        for k in range(schunk.nchunks):
            data = schunk.get_chunk(k)
            zlib.crc32(data)
            blosc2.decompress2(data, dst=out[bounds[k]:bounds[k + 1]], nthreads=nthreads)

    def decompress_chunk_into():
        for k in range(schunk.nchunks):
            schunk.decompress_chunk(k, out[bounds[k]:bounds[k + 1]])

    def decompress_chunk_copy():
        for k in range(schunk.nchunks):
            out[bounds[k]:bounds[k + 1]].view(np.uint8)[:] = np.frombuffer(schunk.decompress_chunk(k), np.uint8)

    def get_chunk_crc():
        for k in range(schunk.nchunks):
            zlib.crc32(schunk.get_chunk(k))

    results = []
    for label, fn in [("pread into a reused buffer + crc32 + decompress2 into slice (DataFile)",
                       pread_crc_decompress2),
                      ("get_chunk + crc32 + decompress2 into slice", get_crc_decompress2),
                      ("decompress_chunk(i, dst) into slice (no crc)", decompress_chunk_into),
                      ("decompress_chunk(i) to bytes + copy (no crc)", decompress_chunk_copy),
                      ("get_chunk + crc32 only", get_chunk_crc)]:
        t = timed(fn, repeat)
        if fn is not get_chunk_crc:
            assert out.tobytes() == rows.tobytes(), label
        results.append((label, rows.nbytes / t / 1e6))
    return results


def warm_up(workdir):
    """Compile (or load) the numba kernels once, outside the timings."""
    rows = peaks(100)
    path = workdir / "warm-up"
    with DataWriter(path, PEAKS_DTYPE, {}) as writer:
        writer.write_chunk(rows, int(rows["time"][0]), int(rows["time"][-1]) + 10**6)
    DataFile(path).load(time_range=(int(rows["time"][10]), int(rows["time"][20])))


def bench_storage(workdir, rows, frame_rows, repeat, nthreads, codec, clevel, filt):
    nbytes = rows.nbytes
    chunk_rows = max(1, int(200e6 // rows.dtype.itemsize))          # strax's 200 MB chunk target
    path = workdir / "run" / "peaks"
    md = {"run_id": "run", "data_type": "peaks", "data_kind": "peaks"}
    ends = rows["time"] + rows["length"].astype(np.int64) * rows["dt"]

    def write():
        with DataWriter(path, PEAKS_DTYPE, md, nthreads=nthreads, codec=codec, clevel=clevel, filter=filt,
                        frame_size=frame_rows * rows.dtype.itemsize) as writer:
            for i in range(0, len(rows), chunk_rows):
                block = rows[i:i + chunk_rows]
                start = int(block["time"][0])
                end = int(rows["time"][i + chunk_rows]) if i + chunk_rows < len(rows) else int(ends.max()) + 1
                writer.write_chunk(block, start, end)

    results = [("DataWriter: write (compress, write, fsync, rename)", timed(write, repeat))]
    assert DataFile(path).metadata["compression"]["filter"] == filt
    csize = os.path.getsize(path)

    def load(verify):
        result = DataFile(path, verify=verify, nthreads=nthreads).load()
        assert len(result) == len(rows)

    results.append(("DataFile.load (crc32 verified)", timed(lambda: load(True), repeat)))
    results.append(("DataFile.load (verify=False)", timed(lambda: load(False), repeat)))
    lo = int(rows["time"][len(rows) * 45 // 100])
    hi = int(rows["time"][len(rows) * 55 // 100])
    t = timed(lambda: DataFile(path, nthreads=nthreads).load(time_range=(lo, hi)), repeat)
    results.append(("DataFile.load(time_range=10 % of the run) (MB/s of the rows returned)", t * 10))

    copy = workdir / "superrun" / "peaks"

    def carry_over():
        source = DataFile(path)
        with DataWriter(copy, PEAKS_DTYPE, md | {"run_id": "_superrun"}) as writer:
            for i, c in enumerate(source.chunks):
                writer.write_chunk_parts(source.frames(i), c.start, c.end,
                                         subruns={"run": {"start": c.start, "end": c.end}})

    results.append(("carry-over: frames -> write_chunk_parts (fsync incl.)", timed(carry_over, repeat)))
    assert DataFile(copy).load().tobytes() == rows.tobytes()
    return [(label, nbytes / t / 1e6) for label, t in results], nbytes / csize


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=float, default=256, help="uncompressed MB of rows (default 256)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--nthreads", type=int, default=storage.DEFAULT_NTHREADS)
    parser.add_argument("--frame-mb", type=float, default=storage.FRAME_SIZE / 2**20,
                        help="frame size in MiB (default: storage.FRAME_SIZE)")
    parser.add_argument("--skip-codecs", action="store_true", help="only the superruns rows")
    parser.add_argument("--variants", default=f"{storage.DEFAULT_CODEC}:{storage.DEFAULT_CLEVEL}:"
                        f"{storage.DEFAULT_FILTER},lz4:5:shuffle",
                        help="codec:clevel:filter settings of DataWriter to compare (first: default)")
    args = parser.parse_args(argv)

    n = int(args.size_mb * 1e6 // PEAKS_DTYPE.itemsize)
    t = time.perf_counter()
    rows = peaks(n)
    print(f"generated {n} rows, {rows.nbytes / 1e6:.0f} MB, in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    frame_rows = max(1, int(args.frame_mb * 2**20) // PEAKS_DTYPE.itemsize)

    root = Path(__file__).resolve().parent / "_work"
    root.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="storage-", dir=root))
    try:
        codec_rows = [] if args.skip_codecs else bench_codecs(rows, frame_rows, args.repeat, args.nthreads)
        warm_up(workdir)
        variants = []
        for spec in dict.fromkeys(args.variants.split(",")):
            codec, clevel, filt = spec.split(":")
            label = f"{codec} {clevel} {filt}" + (" (default)" if not variants else "")
            variants.append((label, *bench_storage(workdir, rows, frame_rows, args.repeat, args.nthreads,
                                                   codec, int(clevel), filt)))
            read_rows = bench_read_paths(workdir / "run" / "peaks", rows, args.repeat, args.nthreads)
            variants[-1] += (read_rows,)
            print(f"  {label}: {variants[-1][1]}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n`{' '.join([Path(sys.executable).name, 'benchmarks/storage_bench.py', *(argv or sys.argv[1:])])}`: "
          f"{rows.nbytes / 1e6:.0f} MB ({n} rows of {PEAKS_DTYPE.itemsize} B), frames of "
          f"{args.frame_mb:g} MiB, {args.nthreads} blosc2 threads, median of {args.repeat}, MB/s of "
          f"uncompressed data; {platform.machine()}, {os.cpu_count()} cores, blosc2 {blosc2.__version__}, "
          f"numpy {np.__version__}.\n")
    if codec_rows:
        print("| raw blosc2 (in memory) | ratio | compress MB/s | decompress MB/s |")
        print("|---|---:|---:|---:|")
        for label, r, c, d in codec_rows:
            print(f"| {label} | {r:.2f} | {c:.0f} | {d:.0f} |")
        print()
    print("| superruns, MB/s | " + " | ".join(v[0] for v in variants) + " |")
    print("|---|" + "---:|" * len(variants))
    print("| file compression ratio | " + " | ".join(f"{v[2]:.2f}" for v in variants) + " |")
    for i, (label, _) in enumerate(variants[0][1]):
        print(f"| {label} | " + " | ".join(f"{v[1][i][1]:.0f}" for v in variants) + " |")
    for i, (label, _) in enumerate(variants[0][3]):
        print(f"| read path: {label} | " + " | ".join(f"{v[3][i][1]:.0f}" for v in variants) + " |")


if __name__ == "__main__":
    main()
