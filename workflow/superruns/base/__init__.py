"""Layer 0, leaf helpers, one of each: the error base (:mod:`.errors`), atomic file creation
(:mod:`.atomic`), regular-file reads and OSError wording (:mod:`.files`), times and durations
(:mod:`.times`), sizes (:mod:`.units`),
span sets (:mod:`.intervals`), the YAML loader (:mod:`.yamlio`), the JSON schemas
(:mod:`.schemas`), strax's hash (:mod:`.hashing`), run and superrun names (:mod:`.names`), the
numba row kernels (:mod:`.kernels`) and the package version (:mod:`.version`). They import
nothing else of the package."""
