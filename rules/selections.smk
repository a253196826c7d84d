checkpoint select_events:
    """Write the events of a run or superrun that pass a selection's cuts."""
    input:
        selection_input,
    output:
        "selections/{selection}.npy",
    log:
        "logs/selections/{selection}.log",
    conda:
        "../environment.yml"
    params:
        selection=lambda wildcards: config["selections"][wildcards.selection],
        # its source file by name (a version switch): the input rerun trigger is off
        source=selection_input,
    script:
        "../scripts/select_events.py"
