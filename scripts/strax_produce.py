"""Snakemake script: one strax-made data type of one run (logic in superruns.straxio; in the
interpreter of ``strax.python`` when the config sets it)."""

from superruns.straxio.external import produce_job

produce_job(snakemake)  # noqa: F821 (provided by Snakemake)
