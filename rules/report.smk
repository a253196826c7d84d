# Per-superrun summary pages with figures, for `snakemake --report` (superruns.stored.figures
# says which figures a page has and which file each reads; superruns.stored.plots draws them):
#   snakemake --cores 2 summary/_sr1_v0.2/event_info.html
#   snakemake --report report.html summary/_sr1_v0.2/event_info.html summary/_sr1_v0.2/peaks.html
# The report groups them by superrun (its category), then by data type (subcategory).
from superruns.stored import figures


rule superrun_summary:
    """HTML summary page of one superrun's data type: its figures embedded, then the facts
    from the file's metadata."""
    input:
        unpack(
            lambda wildcards: figures.page_inputs(
                PROJECT, wildcards.superrun, wildcards.data_type
            )
        ),
    output:
        report(
            "summary/{superrun}/{data_type}.html",
            caption="../report/summary.rst",
            category="Superrun {superrun}",
            subcategory="{data_type}",
            labels={
                "superrun": "{superrun}",
                "data type": "{data_type}",
                "figure": "summary page",
            },
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


rule superrun_figure:
    """One figure of a superrun's data type, from the one file it reads."""
    input:
        unpack(
            lambda wildcards: figures.figure_inputs(
                PROJECT, wildcards.superrun, wildcards.data_type, wildcards.figure
            )
        ),
    output:
        report(
            "summary/{superrun}/{data_type}/{figure}.png",
            caption="../report/figure.rst",
            category="Superrun {superrun}",
            subcategory="{data_type}",
            labels={
                "superrun": "{superrun}",
                "data type": "{data_type}",
                "figure": "{figure}",
            },
        ),
    log:
        "logs/summary/{superrun}/{data_type}/{figure}.log",
    wildcard_constraints:
        figure=alternatives(figures.DATA_FIGURES),
    localrule: True
    conda:
        "../environment.yml"
    params:
        caption=lambda wildcards: figures.caption(
            wildcards.superrun, wildcards.figure, wildcards.data_type
        ),
        source=lambda wildcards: figures.figure_inputs(
            PROJECT, wildcards.superrun, wildcards.data_type, wildcards.figure
        ),
    script:
        "../scripts/figure.py"


rule superrun_exposure_figure:
    """Livetime per subrun and exposure over calendar time of one superrun (its definition)."""
    output:
        report(
            "summary/{superrun}/{figure}.png",
            caption="../report/figure.rst",
            category="Superrun {superrun}",
            subcategory="livetime and exposure",
            labels={
                "superrun": "{superrun}",
                "data type": "(all)",
                "figure": "{figure}",
            },
        ),
    log:
        "logs/summary/{superrun}/{figure}.log",
    wildcard_constraints:
        figure=alternatives(figures.SUPERRUN_FIGURES),
    localrule: True
    conda:
        "../environment.yml"
    params:
        caption=lambda wildcards: figures.caption(wildcards.superrun, wildcards.figure),
        made_with=superrun_definition_made_with,  # an edited definition draws it again
    script:
        "../scripts/figure.py"
