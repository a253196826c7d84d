"""A plugin declared with a data type name that names no file (tests/reliability/test_door.py):
``provides`` holds a ``-``, which a file name ``{data_type}-{lineage_hash}`` cannot tell apart."""

from __future__ import annotations

import numpy as np

from superruns.model.plugins import Plugin


class DashedName(Plugin):
    provides = "peaks-v2"
    depends_on = ("peaks",)
    version = "0.0.1"
    dtype = np.dtype([("time", "<i8"), ("endtime", "<i8")])


PLUGINS = [DashedName]
