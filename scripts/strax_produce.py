"""Snakemake script: one strax-made data type of one run (logic in superruns.straxio.producer)."""

from superruns.straxio.producer import produce_job

produce_job(snakemake)  # noqa: F821 (provided by Snakemake)
