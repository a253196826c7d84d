"""Snakemake script: one event selection (logic in superruns.stored.selections)."""

from superruns.orchestration.jobs import selection_job

selection_job(snakemake)  # noqa: F821 (provided by Snakemake)
