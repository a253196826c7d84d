"""The floor of a campaign's plan: a bare Snakefile with the same jobs as ours.

Written beside a :func:`benchmarks.workspace.dag_workspace` (``bare/Snakefile`` and
``bare/plan.json``), it names exactly the files our workflow names -- every run's chain of
data types made by one job (rule ``run_chain``, the same seven outputs and log), every
superrun's ``event_info`` from its subruns' (rule ``superrun``), each with the same params as
ours (what :func:`superruns.storage.freshness.made_with` gives, read from the JSON), a rule
``all`` -- with nothing else: the run ids and superruns come from one JSON file, the only
wildcard constraints are two short ones (a run does not start with ``_``, a superrun does),
and the jobs only create their (empty) outputs. ``snakemake -s bare/Snakefile -n`` in the workspace is then what
Snakemake itself costs for this DAG: ours can only add to it.

Both run with the settings of our ``profiles/default`` that change what Snakemake does
(greedy scheduler, ``rerun-triggers: mtime params software-env``, jobs in threads, its job
rate limit): :data:`FLAGS`. ``snakemake -s bare/Snakefile --cores 2`` is then also the floor
of a campaign's execution: Snakemake's bookkeeping of the same jobs, without their work.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

#: Our profile's planning settings, given to the bare Snakefile on its command line.
FLAGS = ("--scheduler", "greedy", "--force-use-threads", "--max-jobs-per-timespan", "1000/1s",
         "--rerun-triggers", "mtime", "params", "software-env")

SNAKEFILE = '''\
# The bare floor of our plan (benchmarks/bare.py): the same jobs, nothing else.
import json

PLAN = json.load(open(workflow.basedir + "/plan.json"))
TYPE, SUPERRUNS = PLAN["superrun_type"], PLAN["superruns"]
HASH_OF = {run: p["hashes"][TYPE] for p in PLAN["chains"] for run in p["runs"]}
SPANS = PLAN["spans"]


wildcard_constraints:
    run=r"[^_/][^/]*",
    superrun=r"_[^/]+",


rule all:
    input:
        [f"data/{name}/{TYPE}-{s['lineage']}" for name, s in SUPERRUNS.items()],
    localrule: True


# One rule per option period (set of lineage hashes), as the hashes are in the file names:
# the largest matches any run, the others name their few runs.
# (Not `chain`: this file's names share a namespace with Snakemake's workflow module.)
for period in PLAN["chains"]:

    rule:
        name:
            period["rule"]
        output:
            **{dt: f"data/{{run}}/{dt}-{h}" for dt, h in period["hashes"].items()},
        log:
            f"data/logs/run_chain/{{run}}-{period['key']}.log",
        wildcard_constraints:
            run="|".join(period["runs"]) if period["listed"] else r"[^_/][^/]*",
        params:
            made_with=lambda w: {"registry_span": SPANS[w.run]},
        run:
            for path in output:
                open(path, "w").close()


rule superrun:
    input:
        lambda w: [f"data/{run}/{TYPE}-{HASH_OF[run]}" for run in SUPERRUNS[w.superrun]["subruns"]],
    output:
        f"data/{{superrun}}/{TYPE}-{{lineage}}",
    log:
        f"data/logs/superrun/{{superrun}}/{TYPE}-{{lineage}}.log",
    params:
        lineage_hash=lambda w: SUPERRUNS[w.superrun]["lineage"],
        made_with=lambda w: SUPERRUNS[w.superrun]["made_with"],
    run:
        open(output[0], "w").close()
'''


def write_bare(root: Path, data_type: str = "event_info") -> Path:
    """``root/bare/Snakefile`` and its ``plan.json`` for the workspace ``root``; returns the
    Snakefile's path."""
    from superruns.orchestration.chains import chain_types
    from superruns.project import Project
    from superruns.storage.freshness import made_with

    project = Project.from_file(root / "config" / "config.yaml")
    types = chain_types(project.registry)
    periods: dict[tuple, list] = {}
    for run in project.runs:
        periods.setdefault(tuple(project.lineage_hash(run, dt) for dt in types), []).append(run)
    largest = max(periods, key=lambda hashes: len(periods[hashes]))
    chains = [{"hashes": dict(zip(types, hashes)), "runs": runs, "listed": hashes != largest,
               "key": hashlib.sha1(",".join(f"{dt}-{h}" for dt, h in zip(types, hashes)).encode()).hexdigest()[:8]}
              for hashes, runs in sorted(periods.items())]
    for i, chain in enumerate(chains):
        chain["rule"] = "run_chain" if i == 0 else f"run_chain_{chain['key']}"
    superruns = {name: {"subruns": list(project.definitions.direct_subruns(name)),
                        "lineage": project.lineage_hash(name, data_type),
                        "made_with": made_with(project, name, data_type)}
                 for name in project.definitions.names}
    spans = {run: made_with(project, run, types[0])["registry_span"] for run in project.runs}
    bare = root / "bare"
    bare.mkdir(exist_ok=True)
    (bare / "plan.json").write_text(json.dumps({"chains": chains, "superrun_type": data_type,
                                                "superruns": superruns, "spans": spans}))
    (bare / "Snakefile").write_text(SNAKEFILE)
    return bare / "Snakefile"
