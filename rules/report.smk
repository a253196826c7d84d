# Per-superrun summaries for `snakemake --report`: subruns on a time line, livetime, sizes.
#   snakemake --cores 2 summary/_sr1_v0.2/event_info.html
#   snakemake --report report.html summary/_sr1_v0.2/event_info.html
import os

# Snakemake's --report reads the config files by the paths they were given with, but after
# `workdir:` moved into data_dir, so a relative config/config.yaml is not found (snakemake 9.27).
# Make such paths absolute (only those that no longer resolve; nothing else changes).
workflow.configfiles[:] = [
    os.path.join(PROJECT.base_dir, f)
    if not os.path.isabs(f)
    and not os.path.exists(f)
    and os.path.exists(os.path.join(PROJECT.base_dir, f))
    else f
    for f in workflow.configfiles
]


rule superrun_summary:
    """HTML summary of one superrun file (read from its metadata only)."""
    input:
        "{superrun}/{data_type}",
    output:
        report(
            "summary/{superrun}/{data_type}.html",
            caption="../report/summary.rst",
            category="Superruns",
            subcategory="{superrun}",
            labels={"superrun": "{superrun}", "data type": "{data_type}"},
        ),
    log:
        "logs/summary/{superrun}/{data_type}.log",
    script:
        "../scripts/summary.py"
