"""The storage of data files: one blosc2 contiguous frame per (run, data type).

The package is split by concern:

- :mod:`.format`: the on-disk contract and its version (metadata keys, chunk and frame
  records, a carried :class:`Frame`, version checks, the dtype encoding), and the storage
  errors;
- :mod:`.compression`: the compression settings of new frames and their measured defaults;
- :mod:`.blosc_layout`: the blosc2 byte layout, the only module here that imports blosc2;
- :mod:`.writer`: :class:`DataWriter`, atomic chunk-by-chunk writing;
- :mod:`.reader`: :class:`DataFile`, lazy reads of metadata, chunks, frames and time ranges;
- :mod:`.verify`: what ``superruns verify`` runs, and a file's content hash.
"""

from __future__ import annotations

from .compression import (COMPRESSION_NTHREADS, DEFAULT_CLEVEL, DEFAULT_CODEC, DEFAULT_FILTER,
                          DEFAULT_NTHREADS, Compression, default_typesize)
from .format import (COMPRESSOR, FORMAT_VERSION, METADATA_CRC_KEY, METADATA_KEY, ChunkRecord,
                     DataCorrupted, DataFileMissing, Frame, FrameRecord, NewerFormat, StorageError,
                     TimeRangeError,
                     dtype_from_metadata, dtype_to_str)
from .reader import Chunk, DataFile, FileChanged, FrameCursor, read_metadata
from .verify import content_hash, data_files, temp_file_owner, verify_file, verify_paths
from .writer import FRAME_SIZE, DataWriter

__all__ = [
    "Frame", "Chunk", "ChunkRecord", "FrameRecord", "FrameCursor", "Compression",
    "DataWriter", "DataFile", "DataCorrupted", "StorageError", "DataFileMissing", "TimeRangeError",
    "NewerFormat", "FileChanged",
    "read_metadata", "dtype_from_metadata", "dtype_to_str", "default_typesize",
    "content_hash", "verify_file", "verify_paths", "data_files",
    "FORMAT_VERSION", "METADATA_KEY", "METADATA_CRC_KEY", "COMPRESSOR",
    "DEFAULT_CODEC", "DEFAULT_CLEVEL", "DEFAULT_FILTER", "DEFAULT_NTHREADS", "COMPRESSION_NTHREADS",
    "FRAME_SIZE",
]
