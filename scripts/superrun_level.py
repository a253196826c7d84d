"""Snakemake script: one superrun-level data type of one superrun or run (logic in
superruns.superrun_processing)."""

from superruns.jobs import superrun_level_job

superrun_level_job(snakemake)  # noqa: F821 (provided by Snakemake)
