# The Project and the functions the rules use to name inputs and params. Paths the rules
# give are relative to data_dir (the Snakefile includes these rules with it as prefix:).
import re

from superruns.orchestration.chains import external_inputs, plan_chains, runs_pattern
from superruns.orchestration.jobs import in_snakemake
from superruns.orchestration.resources import memory_estimate_for_paths
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
    # Not an alternation of every run id: Snakemake applies global constraints to every
    # output and log pattern, O(runs) each time (dry run of 10,000 subruns: 25 s -> 8 s).
    run=r"(?!_)[^/]+",
    superrun=alternatives(PROJECT.definitions.names),
    data_type=alternatives(PROJECT.registry),
    selection=alternatives(config["selections"]),
    # Data files are {run}/{data_type}-{lineage} (superruns.storage.layout): one per processing version.
    lineage=LINEAGE_PATTERN,


# The data types the rules make, not those whose runs' data come from outside (imported, read in place).
MADE_TYPES = [dt for dt in PROJECT.registry if PROJECT.registry[dt].made_by_workflow]


# One job per run (superruns.orchestration.chains): the chains of the runs none or all of whose files exist.
CHAINS = plan_chains(PROJECT, config["job_layout"])


# The batch group of every chain rule on a cluster (config chain_group, default runs; null or
# "none": one batch job per run, e.g. SLURM array tasks). Not the profile's `groups:`: Snakemake
# applies it by rule name, and run_chain_<key> rules come and go with the option periods.
CHAIN_GROUP = (
    None
    if str(config["chain_group"]).lower() in ("none", "null", "")
    else config["chain_group"]
)


def chain_rule_name(chain):
    """run_chain, or run_chain_<key> for each further set of lineage hashes (option periods)."""
    return "run_chain" if chain is CHAINS[0] else f"run_chain_{chain.key}"


# The data types every chain reads but does not make (none for the shipped detector).
CHAIN_INPUTS = external_inputs(PROJECT.registry, CHAINS[0].hashes) if CHAINS else []


def chain_inputs(wildcards):
    """The same run's files that its chain reads but does not make itself."""
    PROJECT.check_known(wildcards.run)
    return {dep: data_file(wildcards.run, dep) for dep in CHAIN_INPUTS}


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


def wait_for_selections(superrun):
    """Superruns defined by events that the workflow selects can only be resolved once
    those selections are written: let Snakemake build them first (a checkpoint)."""
    for name in PROJECT.selections_needed(superrun):
        checkpoints.select_events.get(selection=name)
        # On remote storage (config remote:) the events file is there: copy it to its path.
        PROJECT.fetch_selection(name)


def subrun_files(wildcards):
    """The same data type of each subrun named in the superrun's definition."""
    wait_for_selections(wildcards.superrun)
    subruns = PROJECT.definitions.direct_subruns(wildcards.superrun)
    current_lineage(wildcards.superrun, wildcards.data_type, wildcards)
    return [data_file(subrun, wildcards.data_type) for subrun in subruns]


def superrun_lineage_hash(wildcards):
    return current_lineage(wildcards.superrun, wildcards.data_type, wildcards)


def superrun_spec_hash(wildcards):
    wait_for_selections(wildcards.superrun)
    return PROJECT.definitions.run_metadata(wildcards.superrun)["sub_run_spec_hash"]


# The superrun-level rule (superrun_plugins.smk).
def superrun_level_inputs(wildcards):
    """The same (super)run's files of every data type the plugin depends on."""
    PROJECT.check_known(wildcards.target)
    plugin = PROJECT.registry[wildcards.data_type]
    current_lineage(wildcards.target, wildcards.data_type, wildcards)
    return {dep: data_file(wildcards.target, dep) for dep in plugin.depends_on}


def superrun_level_params(wildcards):
    """What the output is made with: its lineage hash and, for a superrun, its definition's
    hash (editing the definition reruns the job), per-run options refused if they differ.
    """
    target, spec = wildcards.target, None
    if PROJECT.is_superrun(target):
        wait_for_selections(target)
        spec = PROJECT.definitions.run_metadata(target)["sub_run_spec_hash"]
    return {
        "lineage_hash": current_lineage(target, wildcards.data_type, wildcards),
        "sub_run_spec_hash": spec,
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


def run_here(job_function, rule, **job):
    """Run a job (superruns.orchestration.jobs) in this process, with the Snakefile's Project: in a thread of
    Snakemake's own process with --force-use-threads (profiles/default)."""
    in_snakemake(job_function, PROJECT, rule=rule, **job)
