# The workflow's rules. The Snakefile includes this file as a module whose prefix: is data_dir:
# every relative path of these rules (outputs, inputs, logs) is relative to data_dir.


include: "common.smk"
include: "runs.smk"
include: "superruns.smk"
include: "superrun_plugins.smk"
include: "selections.smk"
include: "report.smk"


# The strax bridge's rules import it: only for a config with a strax: section.
if config.get("strax"):

    include: "strax.smk"
