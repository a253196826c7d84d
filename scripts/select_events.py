"""Snakemake script: one event selection (logic in superruns.selections)."""

from superruns.jobs import selection_job

selection_job(snakemake)  # noqa: F821 (provided by Snakemake)
