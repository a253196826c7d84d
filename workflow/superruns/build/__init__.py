"""Layer 4, building files: one plugin over one run (:mod:`.processing`), a superrun from its
subruns' files (:mod:`.concatenation`, cutting them with :mod:`.cutting`), a superrun-level
plugin over a superrun (:mod:`.superrun_processing`), and what every output's metadata holds
(:mod:`.metadata`, :mod:`.provenance`). What a build needs of a project is
:class:`.seam.BuildProject`."""
