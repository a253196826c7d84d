# The Project and the functions the rules use to name inputs and params. Paths the rules
# give are relative to data_dir (the Snakefile includes these rules with it as prefix:).
import os
import re

from superruns.orchestration.chains import (
    ANY_RUN,
    external_inputs,
    plan_runs,
    process_constraints,
)
from superruns.orchestration.jobs import IN_BATCH_JOB, in_snakemake, refuse_own_process
from superruns.orchestration.resources import memory_estimate_for_paths
from superruns.storage.freshness import made_with
from superruns.storage.layout import LINEAGE_PATTERN
from superruns.project import Project

# The Snakefile's Project, made this process's default just before it included these rules
# (`config` is its config: jobs build theirs from it).
PROJECT = Project.default()


def alternatives(names):
    """A wildcard constraint matching exactly these names."""
    return (
        "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
        or "(?!)"
    )


wildcard_constraints:
    # None names every run or superrun: Snakemake copies a constraint into every output and
    # log pattern and rewrites those for every job, so a constraint's length is paid per job
    # (superruns.orchestration.chains.MAX_NAMED_RUNS). An unknown name is refused by the
    # rules' input functions (Project.check_known), naming the file to define it in.
    run=ANY_RUN,
    superrun=r"_[^/]+",
    data_type=alternatives(PROJECT.registry),
    selection=alternatives(config["selections"]),
    # Data files are {run}/{data_type}-{lineage} (superruns.storage.layout): one per processing version.
    lineage=LINEAGE_PATTERN,


# The data types the rules make, not those whose runs' data come from outside (imported, read in place).
MADE_TYPES = [dt for dt in PROJECT.registry if PROJECT.registry[dt].made_by_workflow]


# One job per run (superruns.orchestration.chains): the chains of the runs none or all of whose
# files exist, each with how its rule matches exactly its runs; the rest go to `process`.
PLAN = plan_runs(PROJECT, config["job_layout"])
CHAINS = PLAN.chains
PROCESS_CONSTRAINTS = process_constraints(PLAN, PROJECT.registry)


# The batch group of every chain rule on a cluster (config chain_group, default runs; null or
# "none": one batch job per run, e.g. SLURM array tasks). Not the profile's `groups:`: Snakemake
# applies it by rule name, and run_chain_from_<run> rules come and go with the option periods.
CHAIN_GROUP = (
    None
    if str(config["chain_group"]).lower() in ("none", "null", "")
    else config["chain_group"]
)


def chain_rule_name(chain):
    """run_chain, or run_chain_from_<first run> for each further option period (another set
    of lineage hashes): names a log and the report show."""
    return "run_chain" if chain is CHAINS[0] else f"run_chain_{chain.period_name}"


# The data types every chain reads but does not make (none for the shipped detector).
CHAIN_INPUTS = external_inputs(PROJECT.registry, CHAINS[0].hashes) if CHAINS else []


def chain_inputs(chain):
    """The input of a chain's rule: the same run's files that its chain reads but does not
    make itself; for a run of another chain that the rule's pattern matches (a guarded
    chain, superruns.orchestration.chains.RunMatch), a file no rule makes, so that Snakemake
    leaves the rule to the run's own. Nothing (no function to call per job) when neither.
    """
    if not CHAIN_INPUTS and not chain.match.guarded:
        return []

    def inputs(wildcards):
        if not chain.admits(wildcards.run):
            return {"not_this_chain": f"{wildcards.run}/.not-{chain_rule_name(chain)}"}
        PROJECT.check_known(wildcards.run)
        return {dep: data_file(wildcards.run, dep) for dep in CHAIN_INPUTS}

    return unpack(inputs)


def data_file(run_id, data_type):
    """The file of the current lineage of ``run_id``'s ``data_type``, relative to data_dir."""
    return PROJECT.relative_path(run_id, data_type)


def current_lineage(run_id, data_type, wildcards):
    """The output's lineage hash: the configuration's (no rule builds another version)."""
    return PROJECT.current_lineage_hash(run_id, data_type, wildcards.lineage)


def run_inputs(wildcards):
    """The same run's files of every data type this one is computed from."""
    PROJECT.check_known(wildcards.run)
    plugin = PROJECT.registry[wildcards.data_type]
    current_lineage(wildcards.run, wildcards.data_type, wildcards)
    return {dep: data_file(wildcards.run, dep) for dep in plugin.depends_on}


def run_lineage_hash(wildcards):
    return current_lineage(wildcards.run, wildcards.data_type, wildcards)


def run_made_with(run_id, data_type):
    """What a run's file records beyond its lineage: the run's registry span (params of the
    rules process and run_chain, equal for every data type either makes, so one rule's record
    of a file stays current for the other; superruns.storage.freshness decides both)."""
    PROJECT.check_known(run_id)
    return made_with(PROJECT, run_id, data_type)


def chain_made_with(chain):
    """The params function of a run_chain rule: :func:`run_made_with` of its run."""
    first = next(iter(chain.hashes))
    return lambda wildcards: run_made_with(wildcards.run, first)


# Selections whose events file was copied from remote storage after their checkpoint ran:
# final for this run, so the input and params functions of every job do not download it again.
FETCHED_SELECTIONS = set()


def wait_for_selections(superrun):
    """Superruns defined by events that the workflow selects can only be resolved once
    those selections are written: let Snakemake build them first (a checkpoint)."""
    for name in PROJECT.selections_needed(superrun):
        checkpoints.select_events.get(selection=name)
        # On remote storage (config remote:) the events file is there: copy it to its path.
        if name not in FETCHED_SELECTIONS and PROJECT.fetch_selection(name):
            FETCHED_SELECTIONS.add(name)


def subrun_files(wildcards):
    """The same data type of each subrun named in the superrun's definition."""
    wait_for_selections(wildcards.superrun)
    subruns = PROJECT.definitions.direct_subruns(wildcards.superrun)
    current_lineage(wildcards.superrun, wildcards.data_type, wildcards)
    return [data_file(subrun, wildcards.data_type) for subrun in subruns]


def superrun_lineage_hash(wildcards):
    return current_lineage(wildcards.superrun, wildcards.data_type, wildcards)


def superrun_definition_made_with(wildcards):
    """What a figure drawn from a superrun's definition alone records: the definition's hash and
    its leaf runs' registry spans (superruns.storage.freshness; no data type is read).
    """
    return made_with(PROJECT, wildcards.superrun, None)


def superrun_made_with(wildcards):
    """The superrun's definition hash and its leaf runs' registry spans
    (superruns.storage.freshness): editing a definition, a DQ file or a run's start/end reruns
    exactly the superruns they change."""
    wait_for_selections(wildcards.superrun)
    return made_with(PROJECT, wildcards.superrun, wildcards.data_type)


# The superrun-level rule (superrun_plugins.smk).
def superrun_level_inputs(wildcards):
    """The same (super)run's files of every data type the plugin depends on."""
    PROJECT.check_known(wildcards.target)
    plugin = PROJECT.registry[wildcards.data_type]
    current_lineage(wildcards.target, wildcards.data_type, wildcards)
    return {dep: data_file(wildcards.target, dep) for dep in plugin.depends_on}


def superrun_level_params(wildcards):
    """What the output is made with: its lineage hash and what else its file records
    (superruns.storage.freshness: for a superrun its definition's hash and its leaf runs'
    registry spans, for a run its registry span), per-run options refused if they differ.
    """
    target = wildcards.target
    if PROJECT.is_superrun(target):
        wait_for_selections(target)
    return {
        "lineage_hash": current_lineage(target, wildcards.data_type, wildcards),
        **made_with(PROJECT, target, wildcards.data_type),
    }


def superrun_level_mem_mb(wildcards, input):
    """The plugin's memory estimate from its inputs' row bytes. Snakemake evaluates it again
    when the job is ready (its inputs built); before that (a dry run) inputs not yet built
    count as empty."""
    return memory_estimate_for_paths(PROJECT.registry[wildcards.data_type], list(input))


def selection_input(wildcards):
    selection = config["selections"][wildcards.selection]
    return data_file(selection["source"], selection.get("data_type", "event_info"))


def summary_input(wildcards):
    return data_file(wildcards.superrun, wildcards.data_type)


# A batch job's Snakemake (a cluster executor's remote mode) starts each job as a process of its
# own on the node (the jobstep executors): that is the cluster's way, not a host's missing flag.
# Its environment tells those processes so (srun and the local executor pass it on).
if workflow.remote_exec:
    os.environ[IN_BATCH_JOB] = "1"


def run_here(job_function, rule, **job):
    """Run a job (superruns.orchestration.jobs) from a thread of Snakemake's own process
    (--force-use-threads, profiles/default), its work in a worker process forked from it, with
    the Snakefile's Project. A job Snakemake started as a local process of its own (a host
    without that flag) is refused with the line to add (not run in seconds of start-up). The
    lock's entries locked on first use are written before the first job (a host's run has no
    onstart: of ours).
    """
    if workflow.subprocess_exec and not os.environ.get(IN_BATCH_JOB):
        refuse_own_process(rule)
    PROJECT.write_lock()
    in_snakemake(job_function, PROJECT, rule=rule, **job)
