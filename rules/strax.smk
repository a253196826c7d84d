# strax bridge (docs/strax.md): data types a strax Context makes per run. The Snakefile
# includes this file only when the config has a `strax:` section, so it may import the bridge.
from superruns.straxio import produced_data_types


rule strax_produce:
    """Run the config's strax Context for one run and write one data type, keeping strax's
    lineage; the Context reads the run's other files through the superruns frontend."""
    input:
        unpack(run_inputs),
    output:
        "{run}/{data_type}-{lineage}",
    log:
        "logs/strax_produce/{run}/{data_type}-{lineage}.log",
    wildcard_constraints:
        data_type=alternatives(produced_data_types(PROJECT)),
    conda:
        "../environment.yml"
    params:
        lineage_hash=run_lineage_hash,
    script:
        "../scripts/strax_produce.py"


ruleorder: strax_produce > process
