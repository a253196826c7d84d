"""A reprocessing campaign's work in one Python process, as the yardstick of the workflow.

    python -m benchmarks.campaign WORKSPACE            # what `snakemake _camp/event_info` does

Every run's chain of data types (raw_records ... event_info, each after the ones it is computed
from: ``superruns.orchestration.chains.chain_types``) and then the superrun of all runs, through the same job
functions the rules call (``superruns.orchestration.jobs.process_job``, ``superrun_job``: same files, logs,
provenance), one after the other in this process: the same work as the workflow without
Snakemake. The workspace is ``workspace.campaign_workspace``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

SUPERRUN = "_camp"
TARGET = "event_info"


def main(root: str) -> None:
    from superruns.orchestration import jobs
    from superruns.orchestration.chains import chain_types
    from superruns.project import Project

    project = Project.from_file(Path(root) / "config" / "config.yaml")
    logs = project.data_dir / "logs"
    for run in project.runs:
        for data_type in chain_types(project.registry):         # what a run's one job makes
            plugin = project.registry[data_type]
            out, lineage = project.path(run, data_type), project.lineage_hash(run, data_type)
            out.parent.mkdir(parents=True, exist_ok=True)
            jobs.in_snakemake(jobs.process_job, project, output=[str(out)], params={},
                              input={dep: str(project.path(run, dep)) for dep in plugin.depends_on},
                              wildcards=SimpleNamespace(run=run, data_type=data_type, lineage=lineage),
                              log=[str(logs / "process" / run / f"{data_type}-{lineage}.log")], rule="process")
    out, lineage = project.path(SUPERRUN, TARGET), project.lineage_hash(SUPERRUN, TARGET)
    out.parent.mkdir(parents=True, exist_ok=True)
    jobs.in_snakemake(jobs.superrun_job, project, input=[], output=[str(out)], params={},
                      wildcards=SimpleNamespace(superrun=SUPERRUN, data_type=TARGET, lineage=lineage),
                      log=[str(logs / "superrun" / SUPERRUN / f"{TARGET}-{lineage}.log")], rule="superrun")


if __name__ == "__main__":
    main(sys.argv[1])
