"""superruns: group strax-style detector runs into stored, rechunked superruns.

The public API is imported lazily so that ``import superruns`` (done by the Snakefile at
parse time) stays cheap.
"""

__version__ = "0.1.0"
