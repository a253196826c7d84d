# Regular runs. job_layout: per_run (default): one job per run makes every data type of its
# chain where none or all of them exist (superruns.orchestration.chains; one rule per set of lineage
# hashes); the rule process makes everything else one data type at a time (all of it with
# job_layout: per_data_type). Both run in Snakemake's own process (run:, a thread of it with
# --force-use-threads in profiles/default): no interpreter start-up per job. Both have the same
# params, the run's registry span (the lineage hash is in the file's name): Snakemake compares a
# file's recorded params with those of whichever rule would make it now, and one file may be
# made by either rule.
from superruns.orchestration.jobs import chain_job, process_job

for chain in CHAINS:

    rule:
        name:
            chain_rule_name(chain)
        input:
            chain_inputs(chain),
        output:
            **chain.outputs(),
        log:
            f"logs/run_chain/{{run}}-{chain.key}.log",
        wildcard_constraints:
            run=chain.match.constraint,
        # Batched on clusters: config chain_group (default runs; the profiles' group-components
        # put 20 runs into one batch job); none: one batch job per run, e.g. as SLURM array
        # tasks (docs/cluster.md, "Grouping or job arrays").
        group:
            CHAIN_GROUP
        params:
            made_with=chain_made_with(chain),
        run:
            run_here(
                chain_job,
                rule,
                input=input,
                output=output,
                params=params,
                wildcards=wildcards,
                log=log,
            )

    workflow.ruleorder(chain_rule_name(chain), "process")


rule process:
    """Compute one data type of one regular run from the same run's inputs."""
    input:
        unpack(run_inputs),
    output:
        "{run}/{data_type}-{lineage}",
    log:
        "logs/process/{run}/{data_type}-{lineage}.log",
    wildcard_constraints:
        **PROCESS_CONSTRAINTS,
        data_type=alternatives(MADE_TYPES),
    params:
        made_with=lambda wildcards: run_made_with(wildcards.run, wildcards.data_type),
    run:
        run_here(
            process_job,
            rule,
            input=input,
            output=output,
            params=params,
            wildcards=wildcards,
            log=log,
        )
