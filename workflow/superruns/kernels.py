"""numba kernels for the row work of building and loading superruns.

All kernels take plain numpy arrays (``time`` and ``endtime`` as int64) so that numba
compiles them once per signature, cached on disk (``cache=True``).
"""

from __future__ import annotations

import numba
import numpy as np


def endtime(rows: np.ndarray) -> np.ndarray:
    """Exclusive end time (ns) of each row: its ``endtime`` field, else ``time + length * dt``."""
    names = rows.dtype.names or ()
    if "endtime" in names:
        return np.asarray(rows["endtime"], dtype=np.int64)
    if "length" in names and "dt" in names:
        return rows["time"].astype(np.int64) + rows["length"].astype(np.int64) * rows["dt"].astype(np.int64)
    raise ValueError("Rows need an 'endtime' field, or 'length' and 'dt' fields, to have an end time "
                     f"(fields: {', '.join(names) or 'none'})")
