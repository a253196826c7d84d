"""A reprocessing campaign's work in one Python process, as the yardstick of the workflow.

    python -m benchmarks.campaign WORKSPACE            # what `snakemake _camp/event_info` does
    python -m benchmarks.campaign WORKSPACE --processes 2   # the runs split over two processes

Every run's chain of data types (raw_records ... event_info, each after the ones it is computed
from: ``superruns.orchestration.chains.chain_types``) and then the superrun of all runs, through the same job
functions the rules call (``superruns.orchestration.jobs.process_job``, ``superrun_job``: same files, logs,
provenance), one after the other in this process: the same work as the workflow without
Snakemake. The workspace is ``workspace.campaign_workspace``. With ``--processes K`` the runs
are dealt to K plain processes (fresh interpreters, started at once; runs i, i+K, ...), and
the superrun is built once all are done: the same work on K cores, the yardstick of
``snakemake --cores K``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

SUPERRUN = "_camp"
TARGET = "event_info"


def load(root: str):
    from superruns.project import Project

    return Project.from_file(Path(root) / "config" / "config.yaml")


def runs_part(project, part: int, parts: int) -> None:
    """Every run's chain of the runs ``part``, ``part + parts``, ... (all with ``parts`` 1)."""
    from superruns.orchestration import jobs
    from superruns.orchestration.chains import chain_types

    logs = project.data_dir / "logs"
    for run in list(project.runs)[part::parts]:
        for data_type in chain_types(project.registry):         # what a run's one job makes
            plugin = project.registry[data_type]
            out, lineage = project.path(run, data_type), project.lineage_hash(run, data_type)
            out.parent.mkdir(parents=True, exist_ok=True)
            jobs.in_snakemake(jobs.process_job, project, output=[str(out)], params={},
                              input={dep: str(project.path(run, dep)) for dep in plugin.depends_on},
                              wildcards=SimpleNamespace(run=run, data_type=data_type, lineage=lineage),
                              log=[str(logs / "process" / run / f"{data_type}-{lineage}.log")], rule="process")


def superrun(project) -> None:
    """The superrun of every run, from their files."""
    from superruns.orchestration import jobs

    logs = project.data_dir / "logs"
    out, lineage = project.path(SUPERRUN, TARGET), project.lineage_hash(SUPERRUN, TARGET)
    out.parent.mkdir(parents=True, exist_ok=True)
    subruns = [str(project.path(run, TARGET)) for run in project.definitions.direct_subruns(SUPERRUN)]
    jobs.in_snakemake(jobs.superrun_job, project, input=subruns, output=[str(out)], params={},
                      wildcards=SimpleNamespace(superrun=SUPERRUN, data_type=TARGET, lineage=lineage),
                      log=[str(logs / "superrun" / SUPERRUN / f"{TARGET}-{lineage}.log")], rule="superrun")


def main(argv: list[str]) -> None:
    root, processes = argv[0], int(argv[2]) if argv[1:2] == ["--processes"] else 1
    if len(argv) == 3 and argv[1] == "--part":
        runs_part(load(root), *map(int, argv[2].split("/")))
        return
    if processes == 1:
        project = load(root)
        runs_part(project, 0, 1)
    else:
        children = [subprocess.Popen([sys.executable, "-m", "benchmarks.campaign", root, "--part", f"{i}/{processes}"])
                    for i in range(processes)]
        project = load(root)                 # meanwhile
        if any(child.wait() for child in children):
            raise SystemExit("a part failed")
    superrun(project)


if __name__ == "__main__":
    main(sys.argv[1:])
