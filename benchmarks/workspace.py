"""Benchmark workspaces under ``benchmarks/_work``: a small workflow directory each (config,
run registry, superrun definitions, data) plus, where strax takes part, a strax
DataDirectory holding the same subruns' data. A workspace is made once and reused while its
description (``workspace.json``) is unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from . import data

REPO = Path(__file__).resolve().parents[1]
WORK = Path(__file__).resolve().parent / "_work"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SUPERRUN = "_bench"


CODE_ENV = "BENCH_CODE"     # the code snapshot measured (a directory), set by use_code()


CODE_PARTS = ("Snakefile", "rules", "scripts", "workflow/superruns", "profiles", "environment.yml")


def use_code(mode: str) -> str:
    """Which workflow and package to measure. ``snapshot`` (default): a copy of the working
    tree's Snakefile, rules/, scripts/, profiles/ and package, taken once into
    ``_work/code-{content hash}``, so every run of one benchmark uses the same code although
    others may be editing the tree meanwhile; ``head``: ``git archive HEAD`` (the committed
    code); ``worktree``: the files in place. Returns a description for the results."""
    import hashlib

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=True,
                            capture_output=True, text=True).stdout.strip()
    if mode == "worktree":
        os.environ.pop(CODE_ENV, None)
        return f"the working tree (HEAD {commit}), in place"
    if Path(mode).is_dir():          # a code directory given as is (e.g. an earlier snapshot)
        code = Path(mode).resolve()
        description = f"the code in a directory named {code.name!r}"
    elif mode == "head":
        code = WORK / f"code-{commit}"
        if not (code / "Snakefile").exists():
            shutil.rmtree(code, ignore_errors=True)
            code.mkdir(parents=True)
            archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
        description = f"commit {commit} (git archive HEAD)"
    elif mode == "snapshot":
        files = []
        for part in CODE_PARTS:
            path = REPO / part
            found = [path] if path.is_file() else sorted(
                f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
            files.extend(found)
        digest = hashlib.sha1()
        for f in files:
            digest.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
        code = WORK / f"code-{digest.hexdigest()[:10]}"
        if not (code / "Snakefile").exists():
            shutil.rmtree(code, ignore_errors=True)
            for f in files:
                target = code / f.relative_to(REPO)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--short", "--", *CODE_PARTS],
                               capture_output=True, text=True).stdout.count("\n")
        description = (f"a snapshot of the working tree ({code.name}: HEAD {commit} with {dirty} changed or "
                       "untracked paths in Snakefile, rules/, scripts/, profiles/, workflow/superruns/)")
    else:
        raise SystemExit(f"--code {mode}: neither snapshot, head, worktree nor a directory")
    os.environ[CODE_ENV] = str(code)
    sys.path.insert(0, str(code / "workflow"))
    return description


def code_dir() -> Path:
    return Path(os.environ[CODE_ENV]) if os.environ.get(CODE_ENV) else REPO


def snakefile() -> str:
    return str(code_dir() / "Snakefile")


def env(code: str | None = None) -> dict:
    """The environment for snakemake and the runner: the code's package first on PYTHONPATH,
    then the repository root, so ``benchmarks.plugins`` can be imported by the Snakefile and
    the jobs. ``code``: another code directory (Snakefile, rules/, workflow/superruns/)."""
    environ = dict(os.environ)
    if code:
        environ[CODE_ENV] = code
    paths = [str(Path(environ[CODE_ENV]) / "workflow")] if environ.get(CODE_ENV) else []
    paths.append(str(REPO))
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    return {**environ, "PYTHONPATH": os.pathsep.join(paths), "TQDM_DISABLE": "1",
            "PYTHONWARNINGS": "ignore"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Where data files are (superruns.storage.layout): a workspace made for another layout is made again.
FILE_LAYOUT = "{run}/{data_type}-{lineage_hash}"


def _ready(root: Path, description: dict) -> bool:
    marker = root / "workspace.json"
    return marker.exists() and json.loads(marker.read_text()) == description


def _mark(root: Path, description: dict) -> None:
    (root / "workspace.json").write_text(json.dumps(description))


def _write_config(root: Path, runs: dict, superruns: dict, plugins: list[str], options: dict) -> None:
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}, sort_keys=False))
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump(superruns, sort_keys=False))
    (root / "config" / "config.yaml").write_text(yaml.safe_dump({
        "data_dir": "data", "runs": "config/runs.yaml", "superruns": ["config/superruns.yaml"],
        "plugins": plugins, "options": options}))


def project(root: Path):
    from superruns.project import Project

    return Project.from_file(root / "config" / "config.yaml")


def layout_of(root: Path) -> data.Layout:
    return data.Layout(**json.loads((root / "workspace.json").read_text())["layout"])


def _our_subruns(root: Path, layout: data.Layout, data_type: str, fsync: bool = True) -> None:
    """Each subrun's file written by the package (process_run: the source plugin's chunks,
    DataWriter), as the `process` rule would write it."""
    from superruns.base import atomic
    from superruns.build import processing

    proj = project(root)
    saved = atomic.os.fsync
    if not fsync:            # setup of thousands of small files only: not measured
        atomic.os.fsync = lambda fd: None
    try:
        for run in layout.run_ids:
            out = proj.path(run, data_type)
            out.parent.mkdir(parents=True, exist_ok=True)
            processing.process_run(proj, run, data_type, {}, out)
    finally:
        atomic.os.fsync = saved


def _strax_subruns(root: Path, layout: data.Layout, data_type: str) -> None:
    from . import strax_plugins

    strax_dir = root / "strax"
    shutil.rmtree(strax_dir, ignore_errors=True)
    st = strax_plugins.context(str(strax_dir), layout)
    strax_plugins.write_run_docs(st, layout)
    st.make(layout.run_ids, data_type, progress_bar=False)
    st.define_run(SUPERRUN, layout.run_ids)


def _setup(root: Path, layout: data.Layout, data_type: str, strax_type: str | None, extra: dict,
           fsync: bool = True) -> Path:
    description = {"layout": layout.as_dict(), "data_type": data_type, "strax": strax_type,
                   "code": str(code_dir()), "files": FILE_LAYOUT, **extra}
    if _ready(root, description):
        return root
    log(f"setting up {root.name}: {layout.n_runs} subruns x {layout.run_bytes / 1e6:.2f} MB ...")
    t = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    runs = {}
    for i, run in enumerate(layout.run_ids):
        start, end = layout.run_span(i)
        runs[run] = {"start": start, "end": end, "mode": "bench", "source": "none", "tags": ["bench"]}
    option = "bench_layout" if data_type == "peaks" else "bench_small_layout"
    _write_config(root, runs, {SUPERRUN: {"runs": layout.run_ids}}, ["benchmarks.plugins"],
                  {option: layout.as_dict()})
    _our_subruns(root, layout, data_type, fsync)
    if strax_type:
        # in a subprocess, so the orchestrating process never imports strax
        code = ("import sys, json; from pathlib import Path; from benchmarks import workspace, data; "
                "workspace._strax_subruns(Path(sys.argv[1]), data.Layout(**json.loads(sys.argv[2])), sys.argv[3])")
        subprocess.run([sys.executable, "-c", code, str(root), json.dumps(layout.as_dict()), strax_type],
                       check=True, env=env(), cwd=REPO, stdout=subprocess.DEVNULL)
    _mark(root, description)
    log(f"  done in {time.perf_counter() - t:.0f} s")
    return root


def build_workspace(quick: bool) -> Path:
    """20 subruns of peaks (ours and strax's), for the build, load and time-range cases."""
    return _setup(WORK / ("build-quick" if quick else "build"), data.build_layout(quick), "peaks", "records", {})


def many_workspace(n: int, with_strax: bool) -> Path:
    """``n`` subruns of ~100 KB of event_info-like rows (strax's only if ``with_strax``)."""
    root = WORK / f"many-{n}"
    if with_strax and _ready(root, {"layout": data.small_layout(n).as_dict(), "data_type": "event_info",
                                     "strax": None, "code": str(code_dir()), "files": FILE_LAYOUT}):
        shutil.rmtree(root)        # made without strax before: make it again with strax
    if not with_strax and (root / "workspace.json").exists() and \
            json.loads((root / "workspace.json").read_text()).get("strax") and \
            json.loads((root / "workspace.json").read_text()).get("code") == str(code_dir()) and \
            json.loads((root / "workspace.json").read_text()).get("files") == FILE_LAYOUT:
        return root                # has strax's subruns too: fine for ours
    return _setup(root, data.small_layout(n), "event_info", "small_records" if with_strax else None, {},
                  fsync=False)


# -- the per-run jobs workspace (the shipped simulated detector) ------------------------------

JOB_RUN = "000000"


def jobs_workspace(n_runs: int) -> Path:
    """``n_runs`` short runs (2 s) of the shipped detector; run 000000 processed up to
    event_basics' inputs (events, peak_basics); raw_records of every run written in-process."""
    root = WORK / f"jobs-{n_runs}"
    description = {"n_runs": n_runs, "duration_s": 2, "version": 1, "code": str(code_dir()), "files": FILE_LAYOUT}
    if _ready(root, description):
        return root
    log(f"setting up {root.name} ...")
    t = time.perf_counter()
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    runs = short_runs(n_runs)
    _write_config(root, runs, {}, ["superruns.detector"], {"chunk_duration_s": 10})
    from superruns.build import processing

    proj = project(root)
    for run in runs:
        out = proj.path(run, "raw_records")
        out.parent.mkdir(parents=True, exist_ok=True)
        processing.process_run(proj, run, "raw_records", {}, out)
    subprocess.run([SNAKEMAKE, "-s", snakefile(), "--cores", "2",
                    f"{JOB_RUN}/events", f"{JOB_RUN}/peak_basics", "--quiet", "all"], cwd=root, env=env(), check=True,
                   stdout=subprocess.DEVNULL)
    _mark(root, description)
    log(f"  done in {time.perf_counter() - t:.0f} s")
    return root


# -- campaigns: many short runs of the shipped detector and superruns of them ------------------

CAMPAIGN_SUPERRUN = "_camp"


def short_runs(n_runs: int, duration_s: float = 2) -> dict:
    """``n_runs`` runs of ``duration_s`` of the shipped detector, 10 s apart (a registry)."""
    runs = {}
    for i in range(n_runs):
        start = data.T0 + i * 10 * data.SECOND
        runs[data.run_id(i)] = {"start": start, "end": start + int(duration_s * data.SECOND),
                                "mode": "background", "source": "none", "tags": ["bench"]}
    return runs


def campaign_workspace(n_runs: int) -> Path:
    """``n_runs`` short runs (2 s each) of the shipped detector, nothing built, and the
    superrun ``_camp`` of all of them: a reprocessing campaign from nothing."""
    root = WORK / f"campaign-{n_runs}"
    description = {"n_runs": n_runs, "duration_s": 2, "version": 2}
    if _ready(root, description):
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    runs = short_runs(n_runs)
    _write_config(root, runs, {CAMPAIGN_SUPERRUN: {"runs": list(runs)}}, ["superruns.detector"],
                  {"chunk_duration_s": 10})
    _mark(root, description)
    return root


def dag_workspace(n_runs: int, group: int = 100) -> Path:
    """A campaign's plan: ``n_runs`` runs of the shipped detector, the superrun ``_all`` of all
    of them and one superrun ``_gNNNN`` per ``group`` runs; the config's default_target is
    every superrun's event_info (so ``snakemake -n`` plans the whole campaign). Nothing built."""
    root = WORK / f"dag-{n_runs}"
    description = {"n_runs": n_runs, "group": group, "version": 2}
    if _ready(root, description):
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    runs = short_runs(n_runs)
    ids = list(runs)
    superruns = {"_all": {"runs": ids}}
    superruns.update({f"_g{k // group:04d}": {"runs": ids[k:k + group]} for k in range(0, n_runs, group)})
    _write_config(root, runs, superruns, ["superruns.detector"], {"chunk_duration_s": 10})
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    config["default_target"] = [f"{name}/event_info" for name in superruns]
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    _mark(root, description)
    return root


def built_dag_workspace(n_runs: int) -> Path:
    """:func:`dag_workspace` with every file built as far as Snakemake can tell
    (:func:`_mark_dag_built`), in its own directory; made again when the rules change
    (Snakemake's records hold each rule's code)."""
    import hashlib

    plan = dag_workspace(n_runs)
    root = WORK / f"dag-{n_runs}-built"
    rules = hashlib.sha1(b"".join(p.read_bytes() for p in sorted((code_dir() / "rules").glob("*.smk")))).hexdigest()
    marker = root / "built.marker"
    if not marker.exists() or marker.read_text() != rules:
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(plan / "config", root / "config")
        shutil.copy2(plan / "workspace.json", root / "workspace.json")
        _mark_dag_built(root)
        marker.write_text(rules)
    return root


def _mark_dag_built(root: Path) -> None:
    """Make every file of the campaign exist and be up to date for Snakemake without computing
    it: what the no-op check of a built campaign reads. Empty files (runs' first, in dependency
    order, superruns' last, so no input is newer than its output), then Snakemake's metadata
    record of each output: a real ``snakemake --touch --forceall`` for the first group of runs
    and its superrun (Snakemake writes those records itself), cloned for the other runs and
    superruns with each job's own paths and params, as a real run would have written them
    (``--touch`` of 10,000 runs x 7 data types would take many minutes)."""
    from base64 import urlsafe_b64encode

    from superruns.orchestration.chains import chain_types
    from superruns.storage.freshness import made_with

    proj = project(root)
    chain = chain_types(proj.registry)
    for data_type in chain:
        for run in proj.runs:
            path = proj.path(run, data_type)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        time.sleep(0.01)
    superruns = sorted(proj.definitions.names, key=lambda name: name == "_all")   # _all last
    for name in superruns:
        path = proj.path(name, "event_info")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    first = "_g0000"
    subprocess.run([SNAKEMAKE, "-s", snakefile(), f"{first}/event_info", "--cores", "1", "--touch", "--forceall",
                    "--quiet", "all"], cwd=root, env=env(), check=True, stdout=subprocess.DEVNULL)
    meta = root / ".snakemake" / "metadata"

    def record_of(path: Path) -> Path:
        return meta / urlsafe_b64encode(str(path.relative_to(root)).encode()).decode()

    run0 = proj.definitions.direct_subruns(first)[0]
    for data_type in chain:
        template = record_of(proj.path(run0, data_type)).read_text()
        for run in proj.runs:
            target = record_of(proj.path(run, data_type))
            if not target.exists():
                record = json.loads(template.replace(f"/{run0}/", f"/{run}/").replace(f"/{run0}-", f"/{run}-"))
                record["params"] = [repr(made_with(proj, run, data_type))]   # the rules' params
                target.write_text(json.dumps(record))
    template = json.loads(record_of(proj.path(first, "event_info")).read_text())
    for name in superruns:
        target = record_of(proj.path(name, "event_info"))
        if target.exists():
            continue
        lineage = proj.lineage_hash(name, "event_info")
        record = dict(template, log=[f"data/logs/superrun/{name}/event_info-{lineage}.log"],
                      input=[str(proj.path(sub, "event_info").relative_to(root))
                             for sub in proj.definitions.direct_subruns(name)],
                      params=[repr(lineage), repr(made_with(proj, name, "event_info"))])
        target.write_text(json.dumps(record))
