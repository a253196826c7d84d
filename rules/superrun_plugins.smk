# Superrun-level data types (superruns.model.superrun_plugins): computed over a whole superrun, or a
# run (a superrun of one), from that superrun's OWN files of its inputs -- concatenations that
# the rule `superrun` builds first, or other superrun-level types -- never concatenated. Its
# input, params and mem_mb functions are in common.smk.
from superruns.model.superrun_plugins import superrun_level_types


ruleorder: superrun_level > process
ruleorder: superrun_level > superrun


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
