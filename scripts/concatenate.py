"""Snakemake script: one data type of one superrun (logic in superruns.concatenation)."""

from superruns.jobs import superrun_job

superrun_job(snakemake)  # noqa: F821 (provided by Snakemake)
