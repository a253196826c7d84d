"""Layer 7, the Snakemake-facing orchestration: what each job runs (:mod:`.jobs`), one job per
run for its chain (:mod:`.chains`), the standalone workflow's short targets (:mod:`.targets`),
what a job asks of its machine (:mod:`.resources`), and campaigns from Python through
Snakemake (:mod:`.campaign`)."""
