rule process:
    """Compute one data type of one regular run from the same run's inputs."""
    input:
        unpack(run_inputs),
    output:
        "{run}/{data_type}-{lineage}",
    log:
        "logs/process/{run}/{data_type}-{lineage}.log",
    conda:
        "../environment.yml"
    params:
        lineage_hash=run_lineage_hash,
    script:
        "../scripts/process.py"
