"""Layer 1, the model: the run registry (:mod:`.runs`), plugins and their registry
(:mod:`.plugins`), options and per-run defaults (:mod:`.options`), lineages and their hashes
(:mod:`.lineage`), superrun-level plugins (:mod:`.superrun_plugins`). What a plugin needs of a
project is :class:`.seam.PluginProject`."""
