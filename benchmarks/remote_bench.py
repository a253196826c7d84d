"""Remote storage (issue 24): the same campaign local vs XRootD vs S3, and a time-range load of a
remote 1 GB superrun against downloading the whole file.

* **campaign**: N runs (default 200, 10 s each) to `event_info` and one superrun of all of them
  (`_all/event_info`), built by `snakemake --cores 2` in a fresh directory: locally, then with
  every file on the XRootD server, then on the S3 server (tests/remote/start_*.sh), through
  profiles/remote. Wall and CPU of Snakemake (with its jobs: they run in its threads) and CPU of
  the server process over the build, medians of `--repeat` builds, the three alternating.
* **range**: a superrun file of ~1 GB (raw_records-like rows of incompressible bytes, frames of
  4 MiB) written once and put on each server; then, each time in a fresh process, (a) a
  time-range load of 1 % of its span read by byte ranges (`RemoteDataFile`, what
  `superruns.load` uses), and (b) the whole file downloaded (`xrdcp`-equivalent client copy,
  boto3's `download_file`) and the same range loaded locally. Wall, CPU, bytes fetched.

    bash tests/remote/start_xrootd.sh && bash tests/remote/start_s3.sh
    .venv/bin/python benchmarks/remote_bench.py campaign --runs 200 --repeat 3
    .venv/bin/python benchmarks/remote_bench.py range --repeat 5

Run it from the repository root with the project's environment (the test and remote extras).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
T0 = 1_546_300_800_000_000_000
XROOTD = os.environ.get("SUPERRUNS_TEST_XROOTD", "root://127.0.0.1:1094")
XROOTD_DIR = Path(os.environ.get("SUPERRUNS_XROOTD_DIR", "/tmp/superruns-xrootd"))
S3 = os.environ.get("SUPERRUNS_TEST_S3", "http://127.0.0.1:9000")
S3_DIR = Path(os.environ.get("SUPERRUNS_S3_DIR", "/tmp/superruns-s3"))
BUCKET = "superruns-bench"
KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def process_cpu(pid_file: Path) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    fields = Path(f"/proc/{pid_file.read_text().strip()}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_campaign(root: Path, n_runs: int, remote: dict | None) -> None:
    (root / "config" / "superruns.d").mkdir(parents=True)
    runs = {f"{i:06d}": {"start": T0 + i * 60 * 10**9, "end": T0 + (i * 60 + 10) * 10**9, "mode": "background",
                         "source": "none", "tags": []} for i in range(n_runs)}
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}))
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump({"_all": {"runs": list(runs)}}))
    config = {"data_dir": "data", "runs": "config/runs.yaml", "superruns": ["config/superruns.yaml",
              "config/superruns.d"], "plugins": ["superruns.detector"], "options": {"chunk_duration_s": 10}}
    if remote:
        config["remote"] = remote
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config))


def storage(where: str) -> tuple[dict | None, list[str], Path | None]:
    """(config remote: section, snakemake arguments, the server's PID file) of a fresh folder."""
    folder = f"b{uuid.uuid4().hex[:10]}"
    profile = ["--profile", str(REPO / "profiles" / "remote")]
    if where == "xrootd":
        prefix = f"{XROOTD.rstrip('/')}//{folder}"
        return ({"provider": "xrootd", "prefix": prefix}, [*profile, "--default-storage-provider", "xrootd",
                "--default-storage-prefix", prefix], XROOTD_DIR / "pid")
    if where == "s3":
        prefix = f"s3://{BUCKET}/{folder}"
        return ({"provider": "s3", "prefix": prefix, "endpoint_url": S3},
                [*profile, "--default-storage-provider", "s3", "--default-storage-prefix", prefix,
                 "--storage-s3-endpoint-url", S3, "--storage-s3-access-key", "test", "--storage-s3-secret-key",
                 "test"], S3_DIR / "pid")
    return None, [], None


def build(where: str, n_runs: int) -> tuple[float, float, float]:
    """(wall, CPU of Snakemake and its jobs, CPU of the server) of one build."""
    remote, args, pid_file = storage(where)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_campaign(root, n_runs, remote)
        server_before = process_cpu(pid_file) if pid_file else 0.0
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        # The storage options before --cores: some take several values and would swallow a target.
        result = subprocess.run([str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), *args, "--cores", "2",
                                 "_all/event_info"], cwd=root, capture_output=True, text=True, env={**os.environ, **KEYS})
        assert "_all/event_info" in result.stdout + result.stderr, "the target was not built"
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        server = process_cpu(pid_file) - server_before if pid_file else 0.0
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, server


def campaign(n_runs: int, repeat: int) -> None:
    os.environ.update(KEYS)
    import boto3

    boto3.client("s3", endpoint_url=S3).create_bucket(Bucket=BUCKET)
    rows = {where: [] for where in ("local", "xrootd", "s3")}
    for _ in range(repeat):
        for where in rows:
            rows[where].append(build(where, n_runs))
    print(f"\n{n_runs} runs x 10 s to event_info + 1 superrun of all (_all/event_info), "
          f"snakemake --cores 2, median of {repeat} (min-max)\n")
    print("| storage | wall | CPU (snakemake and its jobs) | CPU (server) |")
    print("|---|---|---|---|")
    for where, results in rows.items():
        cells = [f"{statistics.median(v):.1f} s ({min(v):.1f}-{max(v):.1f})" for v in zip(*results)]
        print(f"| {where} | " + " | ".join(cells[:2]) + f" | {cells[2] if where != 'local' else '-'} |")


# -- a time-range load of a 1 GB remote superrun ---------------------------------------------------------

RECORD = np.dtype([("time", "<i8"), ("length", "<i4"), ("dt", "<i2"), ("channel", "<i2"), ("data", "<i2", (110,))])


def write_big(path: Path, gigabytes: float) -> dict:
    """A superrun file of ~``gigabytes`` GB (incompressible payload), chunks of ~200 MB."""
    from superruns.storage import DataWriter

    rng = np.random.default_rng(24)
    n_chunks, per_chunk = max(1, round(gigabytes * 5)), 200_000_000 // RECORD.itemsize
    metadata = {"run_id": "_big", "data_type": "raw_records", "data_kind": "raw_records", "lineage_hash": "bench"}
    with DataWriter(path, RECORD, metadata) as writer:
        for i in range(n_chunks):
            rows = np.zeros(per_chunk, RECORD)
            start = T0 + i * 10**11
            rows["time"] = start + np.arange(per_chunk) * (10**11 // per_chunk)
            rows["length"], rows["dt"] = 110, 10
            rows["data"] = rng.integers(-2**15, 2**15, size=(per_chunk, 110), dtype=np.int16)
            writer.write_chunk(rows, start, start + 10**11)
    return {"start": T0, "end": T0 + n_chunks * 10**11}


def put(path: Path) -> dict[str, str]:
    """The file on each server; ``{provider: url}``."""
    from XRootD import client

    from superruns.storage.remote import s3_client

    name = f"bench/{path.name}"
    process = client.CopyProcess()
    process.add_job(str(path), f"{XROOTD.rstrip('/')}//{name}", force=True, mkdir=True)
    process.prepare()
    status, _ = process.run()
    assert status.ok, status
    s3_client(S3).upload_file(str(path), BUCKET, name)
    return {"xrootd": f"{XROOTD.rstrip('/')}//{name}", "s3": f"s3://{BUCKET}/{name}"}


MEASURE = r"""
import json, os, resource, sys, tempfile, time
from superruns.storage import DataFile
from superruns.storage.identity import check_identity
from superruns.storage.remote import S3Source, XRootDSource, s3_client
from superruns.storage.remote_file import RemoteDataFile
how, url, endpoint, t0, t1 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
started, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
if how.endswith("range"):
    source = XRootDSource(url) if url.startswith("root:") else S3Source(url, s3_client(endpoint))
    f = RemoteDataFile(source)
    check_identity(f, "_big", "raw_records", "bench")
    rows = f.load(time_range=(t0, t1))
    fetched, size = source.bytes_read, source.size
else:
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "f")
        if url.startswith("root:"):
            from XRootD import client
            p = client.CopyProcess(); p.add_job(url, local); p.prepare(); assert p.run()[0].ok
        else:
            bucket, key = url[5:].split("/", 1)
            s3_client(endpoint).download_file(bucket, key, local)
        f = DataFile(local)
        check_identity(f, "_big", "raw_records", "bench")
        rows = f.load(time_range=(t0, t1))
        fetched = size = os.path.getsize(local)
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - started, "cpu": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime,
                  "fetched": fetched, "size": size, "rows": len(rows)}))
"""


def range_load(gigabytes: float, repeat: int) -> None:
    os.environ.update(KEYS)
    import boto3

    boto3.client("s3", endpoint_url=S3).create_bucket(Bucket=BUCKET)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw_records-bench"
        span = write_big(path, gigabytes)
        size = path.stat().st_size
        urls = put(path)
    t0 = span["start"] + (span["end"] - span["start"]) // 2
    t1 = t0 + (span["end"] - span["start"]) // 100                    # 1 % of the span
    results = {}
    for _ in range(repeat):
        for provider, url in urls.items():
            for how in ("range", "download"):
                out = subprocess.run([sys.executable, "-c", MEASURE, how, url, S3, str(t0), str(t1)],
                                     capture_output=True, text=True, env={**os.environ, **KEYS})
                assert out.returncode == 0, out.stderr[-3000:]
                results.setdefault((provider, how), []).append(json.loads(out.stdout))
    print(f"\nA {size / 1e9:.2f} GB superrun file, a time range of 1 % of its span; median of {repeat} (fresh "
          "process each)\n")
    print("| server | how | wall | CPU | bytes fetched | rows |")
    print("|---|---|---|---|---|---|")
    for (provider, how), rows in results.items():
        wall = statistics.median(r["wall"] for r in rows)
        cpu = statistics.median(r["cpu"] for r in rows)
        what = "range reads" if how == "range" else "whole file, then the range locally"
        print(f"| {provider} | {what} | {wall:.2f} s | {cpu:.2f} s | {rows[0]['fetched'] / 1e6:.1f} MB "
              f"of {rows[0]['size'] / 1e6:.0f} MB | {rows[0]['rows']:,} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["campaign", "range"])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.part == "campaign":
        campaign(args.runs, args.repeat)
    else:
        range_load(args.gigabytes, args.repeat)


if __name__ == "__main__":
    main()
