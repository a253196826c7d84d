checkpoint select_events:
    """Write the events of a run or superrun that pass a selection's cuts."""
    input:
        selection_input,
    output:
        "selections/{selection}.npy",
    params:
        selection=lambda wildcards: config["selections"][wildcards.selection],
    log:
        "logs/selections/{selection}.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/select_events.py"
