# superruns: build runs and superruns of strax-style data.
#   snakemake --cores 2 _sr1_v0.2/event_info     (targets are relative to data_dir)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "rules/common.smk"


workdir: PROJECT.data_dir


include: "rules/runs.smk"
include: "rules/superruns.smk"
include: "rules/strax.smk"
include: "rules/selections.smk"
