"""One measurement in a fresh process: ``python -m benchmarks.runner '<json spec>'``.

The spec names a case (a function below) and its arguments. The runner imports only what
the case needs, prepares it (untimed), resets the process's peak-RSS mark
(``/proc/self/clear_refs``), runs the timed part once and prints one JSON line:

- ``wall``: seconds of the timed part (imports and preparation excluded; for the cases that
  run a command, the command's whole life: start-up, imports, work);
- ``peak_rss``: the largest peak RSS of this process during the timed part and of any
  child (``getrusage(RUSAGE_CHILDREN).ru_maxrss``: snakemake, its jobs, cp);
- ``base_rss``: this process's RSS just before the timed part (imports, no data);
- ``rchar``/``read_bytes``: bytes this process read through system calls / from the disk
  during the timed part (``/proc/self/io``; mmap'ed reads are not counted by rchar);
- ``result_bytes``, ``rows``: what the case produced or loaded.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _io() -> dict:
    with open("/proc/self/io") as f:
        return {k: int(v) for k, v in (line.split(": ") for line in f)}


def _ws(spec) -> Path:
    return Path(spec["root"])


def _layout(root):
    from benchmarks import workspace

    return workspace.layout_of(root)


def _strax(root):
    from benchmarks import strax_plugins

    return strax_plugins.context(str(root / "strax"), _layout(root))


# -- cases: each returns (prepare, timed) callables; timed() returns a dict of extras ----------


def case_build_pkg(spec):
    """superruns.build.concatenation.build_superrun with Source objects, package level."""
    from superruns.build.concatenation import BuildSettings, Source, build_superrun
    from superruns.storage import DataFile

    root = _ws(spec)
    layout = _layout(root)
    data_type = spec["data_type"]
    out = root / "pkg_out" / data_type
    sources = []
    from benchmarks import workspace

    proj = workspace.project(root)
    for i, run in enumerate(layout.run_ids):
        start, end = layout.run_span(i)
        sources.append(Source(run, proj.path(run, data_type), run, start, end, True))

    def prepare():
        out.parent.mkdir(exist_ok=True)
        if out.exists():
            out.unlink()

    def timed():
        build_superrun("_bench", sources, out,
                       {"run_id": "_bench", "data_type": data_type, "data_kind": "peaks"},
                       BuildSettings(chunk_target_bytes=int(200e6), row_bytes=layout.dtype.itemsize,
                                     carry_over_min_bytes=int(1e6)))
        f = DataFile(out)
        return {"result_bytes": f.nbytes, "rows": f.n_rows, "chunks": len(f.chunks),
                "out_bytes": os.path.getsize(out)}
    return prepare, timed


def case_build_project(spec):
    """superruns.build.concatenation.build_from_project (what the snakemake job runs, minus start-up)."""
    from benchmarks import workspace
    from superruns.build.concatenation import build_from_project
    from superruns.storage import DataFile

    root = _ws(spec)
    proj = workspace.project(root)
    out = root / "pkg_out" / spec["data_type"]

    def prepare():
        out.parent.mkdir(exist_ok=True)
        if out.exists():
            out.unlink()

    def timed():
        build_from_project(proj, workspace.SUPERRUN, spec["data_type"], out)
        f = DataFile(out)
        return {"result_bytes": f.nbytes, "rows": f.n_rows, "chunks": len(f.chunks)}
    return prepare, timed


def case_build_strax(spec):
    """strax: st.make(superrun, data_type) with write_superruns=True."""
    from benchmarks import strax_plugins, workspace

    root = _ws(spec)
    st = _strax(root)
    data_type = spec["data_type"]

    def prepare():
        for d in strax_plugins.superrun_dirs(str(root / "strax"), workspace.SUPERRUN):
            shutil.rmtree(d)

    def timed():
        st.make(workspace.SUPERRUN, data_type, progress_bar=False)
        md = st.get_metadata(workspace.SUPERRUN, data_type)
        return {"result_bytes": sum(c["nbytes"] for c in md["chunks"]),
                "rows": sum(c["n"] for c in md["chunks"]), "chunks": len(md["chunks"]),
                "out_bytes": sum(c.get("filesize", 0) or 0 for c in md["chunks"])}
    return prepare, timed


def case_command(spec):
    """A command (snakemake, cp ...) run in the workspace; ``remove`` lists paths deleted first
    (glob patterns allowed: data files are ``data/{run}/{data_type}-{lineage_hash}``)."""
    from benchmarks import workspace

    root = _ws(spec)

    def prepare():
        for rel in spec.get("remove", []):
            for p in (root.glob(rel) if any(c in rel for c in "*?[") else [root / rel]):
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
        for rel in spec.get("mkdir", []):
            (root / rel).mkdir(parents=True, exist_ok=True)

    def timed():
        result = subprocess.run(spec["command"], cwd=root / spec.get("cwd", ""), env=workspace.env(), shell=isinstance(spec["command"], str),
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"{spec['command']} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        extra = {}
        if spec.get("expect") and spec["expect"] not in result.stdout + result.stderr:
            raise RuntimeError(f"{spec['command']}: expected {spec['expect']!r} in its output:\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return extra
    return prepare, timed


def case_load_datafile(spec):
    from benchmarks import workspace
    from superruns.storage import DataFile

    path = workspace.project(_ws(spec)).path("_bench", spec["data_type"])
    time_range = spec.get("time_range")

    def timed():
        rows = DataFile(path, nthreads=spec.get("nthreads")).load(time_range=time_range)
        return {"result_bytes": rows.nbytes, "rows": len(rows)}
    return None, timed


def case_load_superruns(spec):
    """superruns.load(run or [runs], ...) through the workspace's Project (opened in the timing;
    the package's modules are imported before it, as for the other rows)."""
    import superruns
    from superruns import definitions, storage  # noqa: F401
    from superruns.model import plugins, runs as _runs  # noqa: F401
    from superruns.project import Project
    from superruns.stored import loading  # noqa: F401

    root = _ws(spec)
    runs = spec["runs"]
    time_range = spec.get("time_range")

    def timed():
        proj = Project.from_file(root / "config" / "config.yaml")
        if isinstance(runs, str):
            rows = superruns.load(runs, spec["data_type"], time_range=time_range, project=proj)
            return {"result_bytes": rows.nbytes, "rows": len(rows)}
        arrays = [superruns.load(run, spec["data_type"], project=proj) for run in runs]
        return {"result_bytes": sum(a.nbytes for a in arrays), "rows": sum(map(len, arrays))}
    return None, timed


def case_load_strax(spec):
    root = _ws(spec)
    st = _strax(root)
    runs = spec["runs"]
    time_range = spec.get("time_range")

    def timed():
        kwargs = {"progress_bar": False}
        if time_range is not None:
            kwargs["time_range"] = tuple(time_range)
        if not isinstance(runs, str):
            kwargs["add_run_id_field"] = False
        rows = st.get_array(runs, spec["data_type"], **kwargs)
        return {"result_bytes": rows.nbytes, "rows": len(rows)}
    return None, timed


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main() -> None:
    spec = json.loads(sys.argv[1])
    prepare, timed = CASES[spec["case"]](spec)
    if prepare:
        prepare()
    base_rss = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:     # reset VmHWM to the current RSS
        f.write("5")
    io0 = _io()
    t = time.perf_counter()
    extra = timed() or {}
    wall = time.perf_counter() - t
    io1 = _io()
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    work_peak = _status("VmHWM")
    out = {"wall": wall, "peak_rss": max(work_peak, children), "self_peak_rss": work_peak,
           "children_peak_rss": children, "base_rss": base_rss,
           "rchar": io1["rchar"] - io0["rchar"], "read_bytes": io1["read_bytes"] - io0["read_bytes"],
           **extra}
    sys.stdout.flush()
    print("\nRESULT " + json.dumps(out))


if __name__ == "__main__":
    main()
