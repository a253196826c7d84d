from superruns.orchestration.jobs import superrun_job


rule superrun:
    """Concatenate the subruns' files of one data type into the superrun's file."""
    input:
        subrun_files,
    output:
        "{superrun}/{data_type}-{lineage}",
    log:
        "logs/superrun/{superrun}/{data_type}-{lineage}.log",
    params:
        lineage_hash=superrun_lineage_hash,
        made_with=superrun_made_with,
    run:
        run_here(
            superrun_job,
            rule,
            input=input,
            output=output,
            params=params,
            wildcards=wildcards,
            log=log,
        )
