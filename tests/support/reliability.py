"""Helpers shared by the reliability tests (bad input, crashes, corruption, concurrency,
reproducibility): small workflows, the jobs' entry points without Snakemake, file comparisons."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from superruns.build.provenance import reproducible_metadata
from superruns.storage import DataFile, content_hash, data_files

from support.workflows import REPO, SECOND, SNAKEMAKE, T0, Workflow, run_entry

# Three short runs (5 s, 2 s chunks, a low rate): a job takes ~1 s, mostly Python start-up.
RUNS = {"8": run_entry(0, 5), "9": run_entry(10, 5), "10": run_entry(20, 5)}
OPTIONS = {"chunk_duration_s": 2, "sim_interaction_rate_hz": 5.0}


def t(seconds: float) -> int:
    return T0 + int(seconds * SECOND)


# The demo's shape, small: a superrun of a superrun and a run, and one of time ranges; small
# chunks and frames so files have several chunks, some frames carried over, some merged.
SUPERRUNS = {"_a": {"runs": ["8", "9"]}, "_b": {"runs": ["_a", "10"]},
             "_cut": {"ranges": {"8": [[t(0.5), t(4.5)]]}, "runs": ["9"]}}
STORAGE = {"chunk_target_size_mb": 0.1, "carry_over_min_mb": 0.004}
#: What the reference build makes: every data type of runs 8 and 9, raw_records of run 10, and
#: superruns of three kinds (of runs, of a superrun and a run, of time ranges): 20 jobs.
TARGETS = ["_a/event_info", "_b/raw_records", "_a/peaks", "_cut/peaks"]


def standard_workflow(root: Path, job_layout: str | None = None) -> Workflow:
    """The reliability tests' workflow; ``job_layout="per_data_type"`` for scenarios that count
    or damage files one data type at a time (the default layout makes a run's chain in one job)."""
    flow = Workflow(root)
    flow.write(RUNS, SUPERRUNS, OPTIONS, storage=STORAGE, **({"job_layout": job_layout} if job_layout else {}))
    return flow


def snakemake_run(flow: Workflow, *args: str, cores: int = 2, check: bool = True, env=None,
                  timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(snakemake_command(*args, cores=cores), cwd=flow.root, capture_output=True,
                            text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


_REFERENCE: dict = {}


def reference_build(tmp_path_factory) -> Workflow:
    """The standard workflow built once per test session (``--cores 2``); read it, never change
    it (copy what a test damages)."""
    if "flow" not in _REFERENCE:
        flow = standard_workflow(tmp_path_factory.mktemp("reference"))
        snakemake_run(flow, *TARGETS)
        _REFERENCE["flow"] = flow
    return _REFERENCE["flow"]


def copy_workflow(flow: Workflow, root: Path) -> Workflow:
    """A copy of a built workflow (config, data, Snakemake's state; times kept)."""
    shutil.copytree(flow.root, root, symlinks=True)
    return Workflow(root)


def snakemake_command(*args: str, cores: int = 2) -> list[str]:
    return [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--cores", str(cores), *args]


def snakemake_many(commands: list[tuple[Path, list[str]]], work: Path) -> list[tuple[int, str]]:
    """(exit status, output) of each ``snakemake ARGS`` run in its directory, through
    snakemake_forks.py (one start-up, a fork per command: the real command, much cheaper)."""
    listing = [{"cwd": str(cwd), "args": ["-s", str(REPO / "Snakefile"), "--cores", "1", *args],
                "out": str(work / f"out-{i}.txt")} for i, (cwd, args) in enumerate(commands)]
    (work / "commands.json").write_text(json.dumps(listing))
    subprocess.run([sys.executable, str(Path(__file__).with_name("snakemake_forks.py")),
                    str(work / "commands.json"), str(work / "results.json")], check=True, timeout=900)
    codes = json.loads((work / "results.json").read_text())
    return [(code, Path(c["out"]).read_text()) for code, c in zip(codes, listing)]


def files_under(directory: Path) -> list[Path]:
    """Files a job could have written (Snakemake's own .snakemake/ state aside)."""
    if not directory.exists():
        return []
    return [p for p in directory.rglob("*")
            if p.is_file() and ".snakemake" not in p.relative_to(directory).parts]


# -- the jobs' entry points without Snakemake ---------------------------------------------------------


class Inputs(list):
    """Snakemake's named input list, as much of it as the jobs use."""

    def __init__(self, named: dict):
        super().__init__(named.values())
        self.named = named

    def items(self):
        return self.named.items()


def job(project, rule: str, output: Path, inputs: dict, **wildcards):
    """A stand-in for the ``snakemake`` object a script gets."""
    log = project.data_dir / "logs" / rule / output.relative_to(project.data_dir)
    return SimpleNamespace(config=project.config, input=Inputs(inputs), output=[str(output)],
                           log=[str(log)], wildcards=SimpleNamespace(**wildcards), rule=rule)


def superrun_job(project, superrun: str, data_type: str):
    inputs = {sub: project.path(sub, data_type) for sub in project.definitions.direct_subruns(superrun)}
    return job(project, "superrun", project.path(superrun, data_type), inputs,
               superrun=superrun, data_type=data_type)


def process_job(project, run: str, data_type: str):
    plugin = project.registry[data_type]
    inputs = {dep: project.path(run, dep) for dep in plugin.depends_on}
    return job(project, "process", project.path(run, data_type), inputs, run=run, data_type=data_type)


def run_job(function, smk) -> tuple[int, str]:
    """(exit status, the job's log) of a job function."""
    try:
        function(smk)
        code = 0
    except SystemExit as exit:
        code = exit.code
    return code, Path(smk.log[0]).read_text()


# -- comparing files ------------------------------------------------------------------------------------


def frames_bytes(path) -> list[bytes]:
    """Every frame's compressed bytes, in order (CRC-checked on the way)."""
    data = DataFile(path)
    return [frame.data for i in range(len(data.chunks)) for frame in data.frames(i)]


def _without_rule(metadata: dict) -> dict:
    provenance = dict(metadata.get("provenance") or {})
    provenance["job"] = {k: v for k, v in (provenance.get("job") or {}).items() if k != "rule"}
    return dict(metadata, provenance=provenance)


def assert_same_file(a, b, *, metadata: bool = True, any_rule: bool = False) -> None:
    """Byte-identical frames, equal loaded rows, equal metadata apart from when and where (and
    the rule that made it with ``any_rule``: built in another job layout)."""
    fa, fb = DataFile(a), DataFile(b)
    assert fa.dtype == fb.dtype, (a, b)
    assert content_hash(fa) == content_hash(fb), f"{a} and {b} hold different data"
    assert frames_bytes(a) == frames_bytes(b), (a, b)
    ra, rb = fa.load(), fb.load()
    assert ra.tobytes() == rb.tobytes(), (a, b)
    if metadata:
        ma, mb = reproducible_metadata(fa.metadata), reproducible_metadata(fb.metadata)
        if any_rule:
            ma, mb = _without_rule(ma), _without_rule(mb)
        differing = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
        assert not differing, f"{a} and {b}: metadata differ in {differing}"


def data_hashes(data_dir: Path) -> dict[str, str]:
    """``{run/data_type: content hash}`` of every data file under a data directory (names
    without their lineage: one version per data type is expected here)."""
    from support.workflows import short_name

    files, _ = data_files(data_dir)
    hashes = {short_name(p.relative_to(data_dir)): content_hash(p) for p in files}
    assert len(hashes) == len(files), f"several versions of one data type in {data_dir}"
    return hashes


def rows_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


__all__ = ["SUPERRUNS", "STORAGE", "TARGETS", "standard_workflow", "snakemake_run", "reference_build",
           "copy_workflow", "RUNS", "OPTIONS", "SECOND", "T0", "Workflow", "run_entry", "t", "snakemake_command",
           "snakemake_many", "files_under", "Inputs", "job", "superrun_job", "process_job", "run_job",
           "frames_bytes", "assert_same_file", "data_hashes", "rows_equal", "REPO", "SNAKEMAKE"]
