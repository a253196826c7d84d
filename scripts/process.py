"""Snakemake script: one data type of one regular run (logic in superruns.processing)."""

from superruns.jobs import process_job

process_job(snakemake)  # noqa: F821 (provided by Snakemake)
