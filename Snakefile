# superruns: build runs and superruns of strax-style data.
#   snakemake --cores 2 _sr1_v0.2/event_info     (targets are relative to data_dir)
import os

from snakemake.utils import min_version

min_version("9.0")

# Cluster jobs read this Snakefile again from inside data_dir (the workdir: below), where
# config/config.yaml is not: the main process hands them its absolute path (envvars: makes
# Snakemake pass SUPERRUNS_CONFIG to the jobs of every executor).
if workflow.is_main_process:
    os.environ["SUPERRUNS_CONFIG"] = os.path.abspath("config/config.yaml")


envvars:
    "SUPERRUNS_CONFIG",


configfile: os.environ["SUPERRUNS_CONFIG"]


include: "rules/common.smk"


workdir: PROJECT.data_dir


include: "rules/runs.smk"
include: "rules/superruns.smk"
include: "rules/strax.smk"
include: "rules/selections.smk"
include: "rules/report.smk"
