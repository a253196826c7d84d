"""Layer 8, the ``superruns`` command: the tree (:mod:`.commands`), one module per command group
(:mod:`.listing`, :mod:`.campaign`, :mod:`.verify`, :mod:`.datasets`), what they share
(:mod:`.common`) and how they print for people (:mod:`.tables`)."""
