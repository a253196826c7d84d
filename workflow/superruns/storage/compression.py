"""How new frames are compressed: one settings object, and the defaults chosen by measurement.

Defaults were chosen by measurement (``benchmarks/storage_bench.py``; numbers in
``benchmarks/README.md``, "Storage"): on peaks-like rows lz4 at clevel 5 without a shuffle
filter compresses 4.3x (shuffle: 4.35x; zstd 1 + shuffle: 5.0x) and decompresses 2-4x faster
than with shuffle, so whole-file loads run at ~3.8 GB/s against ~2.8 with shuffle (2 threads,
page cache).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blosc_layout import codec_name, filter_name

__all__ = ["Compression", "DEFAULT_CODEC", "DEFAULT_CLEVEL", "DEFAULT_FILTER", "DEFAULT_NTHREADS",
           "COMPRESSION_NTHREADS", "default_typesize"]

DEFAULT_CODEC = "lz4"
DEFAULT_CLEVEL = 5
DEFAULT_FILTER = "nofilter"
#: Threads that decompress when reading.
DEFAULT_NTHREADS = 2
# blosc2 compressing with several threads writes the blocks of a chunk in the order they
# finish, so the same rows give different bytes from one build to the next. One thread keeps
# every build byte-identical (checked in tests/reliability/test_reproducibility.py); reading uses two.
COMPRESSION_NTHREADS = 1


def default_typesize(dtype) -> int:
    """The item size the shuffle filter groups bytes by: the element size (1, 2, 4 or 8) that
    holds most of the row's bytes (4 for peaks: float32 waveforms)."""
    weights: dict[int, int] = {}

    def visit(dt: np.dtype, count: int) -> None:
        if dt.fields:
            for name in dt.names:
                visit(dt.fields[name][0], count)
        elif dt.subdtype is not None:
            visit(dt.subdtype[0], count * int(np.prod(dt.subdtype[1])))
        else:
            size = dt.itemsize if dt.itemsize in (1, 2, 4, 8) else 1
            weights[size] = weights.get(size, 0) + dt.itemsize * count

    visit(np.dtype(dtype), 1)
    return max(weights, key=lambda s: (weights[s], s)) if weights else 1


@dataclass(frozen=True, slots=True)
class Compression:
    """Compression settings of new frames (frames carried over keep theirs)."""

    codec: str = DEFAULT_CODEC
    clevel: int = DEFAULT_CLEVEL
    filter: str = DEFAULT_FILTER
    typesize: int = 1
    nthreads: int = COMPRESSION_NTHREADS

    def __post_init__(self):
        # Names normalised (and checked) here, so that equal settings compare equal.
        object.__setattr__(self, "codec", codec_name(self.codec))
        object.__setattr__(self, "filter", filter_name(self.filter))
        for name in ("clevel", "typesize", "nthreads"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @classmethod
    def for_dtype(cls, dtype, *, codec=None, clevel=None, filter=None, typesize=None,
                  nthreads=None) -> "Compression":
        """The defaults for rows of ``dtype``, with the settings given (not None) instead."""
        return cls(codec=DEFAULT_CODEC if codec is None else codec,
                   clevel=DEFAULT_CLEVEL if clevel is None else clevel,
                   filter=DEFAULT_FILTER if filter is None else filter,
                   typesize=default_typesize(dtype) if typesize is None else typesize,
                   nthreads=COMPRESSION_NTHREADS if nthreads is None else nthreads)

    def record(self, frame_rows: int) -> dict:
        """The metadata's ``compression`` entry."""
        return {"codec": self.codec, "clevel": self.clevel, "filter": self.filter,
                "typesize": self.typesize, "frame_rows": frame_rows}
