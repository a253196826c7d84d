"""Snakemake script: the HTML summary of one superrun file (logic in superruns.stored.report)."""

from superruns.orchestration.jobs import summary_job

summary_job(snakemake)  # noqa: F821 (provided by Snakemake)
