# Superrun-level data types (superruns.model.superrun_plugins): computed over a whole superrun, or a
# run (a superrun of one), from that superrun's OWN files of its inputs -- concatenations that
# the rule `superrun` builds first, or other superrun-level types -- never concatenated.
from superruns.model.superrun_plugins import superrun_level_types
from superruns.orchestration.resources import memory_estimate_for_paths


ruleorder: superrun_level > process
ruleorder: superrun_level > superrun


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
    return memory_estimate_for_paths(
        PROJECT.registry[wildcards.data_type], list(input)
    )


rule superrun_level:
    """Compute a superrun-level data type over one superrun (or run) as one run."""
    input:
        unpack(superrun_level_inputs),
    output:
        "{target}/{data_type}-{lineage}",
    log:
        "logs/superrun_level/{target}/{data_type}-{lineage}.log",
    wildcard_constraints:
        target=r"[^/]+",
        data_type=alternatives(superrun_level_types(PROJECT.registry)),
    conda:
        "../environment.yml"
    resources:
        mem_mb=superrun_level_mem_mb,
    params:
        made_with=superrun_level_params,
    script:
        "../scripts/superrun_level.py"
