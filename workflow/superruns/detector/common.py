"""Fixed facts of the simulated detector and small helpers shared by its plugins.

The numbers here shape dtypes (channel count, samples per record or peak), so they are
constants rather than options: changing one changes the dtype and needs a new plugin version.
"""

from __future__ import annotations

import zlib

import numpy as np

from ..model.plugins import Plugin

N_CHANNELS = 8                       # PMTs: 0-3 in the top array, 4-7 in the bottom array
N_TOP_CHANNELS = 4
RECORD_SAMPLES = 110                 # samples per raw record (as strax)
SAMPLE_DT = 10                       # digitizer sample width [ns]
PEAK_SAMPLES = 200                   # samples of a peak's summed waveform (downsampled if longer)

TIME = (("Start time since unix epoch [ns]", "time"), "<i8")
ENDTIME = (("Exclusive end time since unix epoch [ns]", "endtime"), "<i8")
LENGTH = (("Length of the interval in samples", "length"), "<i4")
DT = (("Width of one sample [ns]", "dt"), "<i4")


def kernels():
    """The numba kernels, imported when a chunk is first computed: planning a workflow (the
    registry, lineages) never imports numba."""
    from . import kernels as compiled

    return compiled


def run_number(run_id: str) -> int:
    """The run id as a number: ``int(run_id)`` for numeric ids, else its CRC32."""
    run_id = str(run_id)
    return int(run_id) if run_id.isdigit() else zlib.crc32(run_id.encode())


def empty(dtype: np.dtype) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


# PMT gains [integrated ADC counts per PE]; the PMT high voltage was changed before run 7.
PMT_GAINS_PER_RUN = [
    [0, [80.0, 95.0, 105.0, 90.0, 100.0, 85.0, 110.0, 92.0]],
    [7, [88.0, 99.0, 121.0, 90.0, 112.0, 94.0, 118.0, 101.0]],
]
# (x, y) [cm] of the top PMTs, channels 0-3.
TOP_PMT_POSITIONS = [[-7.0, -7.0], [7.0, -7.0], [-7.0, 7.0], [7.0, 7.0]]
DRIFT_VELOCITY = 0.15                # electron drift velocity [cm/us]


class DetectorPlugin(Plugin):
    """A plugin of the simulated detector; its plugins are versioned together (the version
    is part of every lineage, so a change here changes every data type's hash)."""

    version = "0.1.0"
