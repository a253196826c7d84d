# superruns: build runs and superruns of strax-style data.
#   snakemake --cores 2                          the config's default_target (the demo superrun)
#   snakemake --cores 2 _sr1_v0.2/event_info     = data/_sr1_v0.2/event_info (under data_dir)
#
# Every path is relative to Snakemake's working directory (-d/--directory, default: where
# snakemake runs): the config is config/config.yaml there, its paths are relative to it.
#
# Another workflow can include this one as a module (README.md, "Include it in a workflow"):
#   module superruns:
#       snakefile: "<path to this Snakefile>"
#       config: config["superruns"]
#       prefix: "sr"                           # optional: data then in sr/<data_dir>
#   use rule * from superruns as superruns_*
import functools
import os
import sys

import superruns
from snakemake.utils import min_version
from superruns.project import (
    MODULE_CONFIG,
    PARSED_KEY,
    SNAKEMAKE_CONFIG,
    Project,
    check_config_files,
    check_data_dir_writable,
    set_default_project,
    validate_config,
)
from superruns.base.errors import SuperrunsError
from superruns.storage.remote import check_snakemake_storage
from superruns.orchestration.targets import expand_short_targets, under_data_dir
from superruns.orchestration.wakeups import coalesce_scheduler_wakeups

# 9.17: workflow.modifier.is_main_snakefile() (below), new in Snakemake 9.17.0 (#4050).
min_version("9.17")


configfile: "config/config.yaml"  # in a module, Snakemake skips it: the host's config: is used


# False when a host includes this Snakefile as a module (Snakemake's own test for onstart:
# handlers; `modifier.is_module` is true for the main Snakefile too).
STANDALONE = workflow.modifier.is_main_snakefile()
if STANDALONE:
    check_config_files(workflow.configfiles)


# No workdir: (it would move a host's paths too). The rules (rules/workflow.smk) give every
# path relative to data_dir, and are included as a module whose prefix: is data_dir: Snakemake
# itself puts data_dir before each output, input and log, also those of rules/strax.smk. As a
# host's module with a prefix: of its own, Snakemake puts that before it as well; the Project
# must see the data where they land, and so must each job's, built from the config handed to
# the rules: its data_dir is passed through the current path modifier (Snakemake's object for
# prefix:; pinned version). (Pathvars would name data_dir in the rules too, but a host could
# set them behind the Project's back.)
CONFIG_SOURCE = SNAKEMAKE_CONFIG if STANDALONE else MODULE_CONFIG
# One job per run (job_layout: per_run) needs the rerun triggers of profiles/default, which a
# host including this workflow does not load: there one job per data type unless it opts in.
JOB_LAYOUT_DEFAULT = "per_run" if STANDALONE else "per_data_type"
# A configuration that cannot be used (invalid, or whose registry cannot be made: a data type
# provided twice, a strax Context that cannot be loaded) or a definition that cannot be (a
# broken rule, a locked query whose runs changed) stops here with its one-line message.
try:
    DATA_DIR = os.path.normpath(validate_config(config, CONFIG_SOURCE)["data_dir"])
    PROJECT = Project(
        dict(
            config,
            data_dir=workflow.modifier.path_modifier.replace_prefix(DATA_DIR),
            job_layout=config.get("job_layout", JOB_LAYOUT_DEFAULT),
        ),
        source=CONFIG_SOURCE,
    )
    PROJECT.check()  # what a job would trip over: options, plugins, selections, run folders
    # The config's remote: (where superruns.load reads) must be where Snakemake writes.
    check_snakemake_storage(
        PROJECT.config.get("remote"),
        workflow.storage_settings.default_storage_provider,
        workflow.storage_settings.default_storage_prefix,
    )
except SuperrunsError as error:
    print(f"{type(error).__name__}: {error}", file=sys.stderr)
    sys.exit(1)
# The rules use it (rules/common.smk), and so do a host's rules that call superruns.load().
set_default_project(PROJECT)


# Script jobs (a process of their own) build their Project again from the files: they get what
# was parsed, and refuse to run if the files changed since (Project.check_parsed).
module superruns_rules:
    snakefile:
        "rules/workflow.smk"
    config:
        dict(PROJECT.config, **{PARSED_KEY: PROJECT.inputs_fingerprint()})
    prefix:
        None if DATA_DIR == "." else DATA_DIR


use rule * from superruns_rules


# A host reaches these through its module's name: superruns.load(...) reads this module's data.
load = functools.partial(superruns.load, project=PROJECT)
iter_chunks = functools.partial(superruns.iter_chunks, project=PROJECT)
run_metadata = functools.partial(superruns.run_metadata, project=PROJECT)


# data_file(run_id, data_type): the path a host's rule names our file by, the current
# lineage's (superruns.storage.layout), relative to Snakemake's working directory, this
# module's prefix: and data_dir included (the Project knows the prefix). A lambda, not a def:
# `snakemake --lint` wants no function defined beside this file's rule all.
data_file = lambda run_id, data_type: os.path.relpath(PROJECT.path(run_id, data_type))


if STANDALONE:
    # Standalone, targets may name our files relative to data_dir, as they always have
    # (`snakemake _sr1_v0.2/event_info`). Snakemake has no alias for targets and sets them only
    # after parsing this file, so superruns.orchestration.targets wraps the method that reads them, in the
    # main process (jobs get theirs by job, not by target).
    if workflow.is_main_process:
        expand_short_targets(workflow, DATA_DIR, PROJECT)
    # Snakemake's scheduler otherwise wakes N·T/2 times in a campaign of N jobs over T s.
    coalesce_scheduler_wakeups()

    # Before any job (not in a dry run): a data directory that cannot be written is one clear
    # line, not Snakemake's traceback when it prepares the first job's output.
    onstart:
        check_data_dir_writable(DATA_DIR)
        PROJECT.write_lock()  # query superruns locked on first use: a dry run writes nothing

    # What `snakemake` with no target builds: the config's default_target.
    rule all:
        default_target: True
        input:
            under_data_dir(config.get("default_target", []), DATA_DIR, PROJECT),
        localrule: True
