"""What the tests share: workflow directories, reliability helpers, many snakemake commands."""
