"""Snakemake script: one superrun-level data type of one superrun or run (logic in
superruns.build.superrun_processing)."""

from superruns.orchestration.jobs import superrun_level_job

superrun_level_job(snakemake)  # noqa: F821 (provided by Snakemake)
