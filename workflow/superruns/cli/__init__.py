"""Layer 8, the ``superruns`` command (:mod:`.commands`)."""
