"""Snakemake script: one figure of a superrun's summary page (logic in superruns.stored.plots)."""

from superruns.orchestration.jobs import figure_job

figure_job(snakemake)  # noqa: F821 (provided by Snakemake)
