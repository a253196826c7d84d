# Per-superrun summaries for `snakemake --report`: subruns on a time line, livetime, sizes.
#   snakemake --cores 2 summary/_sr1_v0.2/event_info.html
#   snakemake --report report.html summary/_sr1_v0.2/event_info.html


rule superrun_summary:
    """HTML summary of one superrun file (read from its metadata only)."""
    input:
        summary_input,
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
    localrule: True
    conda:
        "../environment.yml"
    params:
        source=summary_input,  # the file of the current version (the input trigger is off)
    script:
        "../scripts/summary.py"
