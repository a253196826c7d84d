"""The storage of data files: one blosc2 contiguous frame per (run, data type).

The package is split by concern:

- :mod:`.format`: the on-disk contract and its version (metadata keys, chunk and frame
  records, a carried :class:`Frame`, version checks, the dtype encoding), and the storage
  errors;
- :mod:`.compression`: the compression settings of new frames and their measured defaults;
- :mod:`.blosc_layout`: the blosc2 byte layout, the only module here that imports blosc2;
- :mod:`.writer`: :class:`DataWriter`, atomic chunk-by-chunk writing;
- :mod:`.reader`: :class:`DataFile`, lazy reads of metadata, chunks, frames and time ranges;
- :mod:`.verify`: what ``superruns verify`` runs, and a file's content hash;
- :mod:`.layout`: where data files live and what their names say;
- :mod:`.identity`: what a data file says it is, checked against what a read asked for.

The names below load their module on first use: planning a workflow names files
(:mod:`.layout`) without importing blosc2 or numba.
"""

from __future__ import annotations

import importlib

#: Each re-exported name and the module of this package that defines it.
_EXPORTS = {
    "compression": ("COMPRESSION_NTHREADS", "DEFAULT_CLEVEL", "DEFAULT_CODEC", "DEFAULT_FILTER",
                    "DEFAULT_NTHREADS", "Compression", "default_typesize"),
    "format": ("COMPRESSOR", "FORMAT_VERSION", "METADATA_CRC_KEY", "METADATA_KEY", "ChunkRecord",
               "DataCorrupted", "DataFileMissing", "Frame", "FrameRecord", "NewerFormat", "StorageError",
               "TimeRangeError", "dtype_from_metadata", "dtype_to_str"),
    "reader": ("Chunk", "DataFile", "FileChanged", "FrameCursor", "read_metadata"),
    "verify": ("content_hash", "data_files", "temp_file_owner", "verify_file", "verify_paths"),
    "writer": ("FRAME_SIZE", "DataWriter"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value        # once: later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
