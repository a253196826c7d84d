"""strax folders read in place: subrun data of superruns without a copy (docs/strax.md).

::

    strax:
      directories: [/data/xenonnt/processed]       # strax DataDirectories, read only
      in_place: [peaks, peak_basics]               # data types read from their folders

A regular run's data of an ``in_place`` type are its ``{run}-{data_type}-{lineage_hash}``
folder in one of the ``directories`` (:class:`InPlaceIndex`): the superrun rule names that
folder as its input (Snakemake checks it exists and compares its time), and the job opens
exactly it as a :class:`~superruns.straxio.folders.StraxFolderFile`, which the build reads like
one of our files. The
folder's name, its metadata and the recomputed lineage hash must agree, as for an import; the
superrun's file is ours, as always. Nothing is ever written to those directories.
"""

from __future__ import annotations

from pathlib import Path

from .format import StraxFolder, StraxFormatError, checked_folder_metadata, scan_directory

__all__ = ["InPlaceIndex"]


class InPlaceIndex:
    """The folders of strax DataDirectories, by (run id, data type): one listing per process."""

    def __init__(self, directories):
        self.directories = [Path(d) for d in directories]
        self._folders: dict[tuple[str, str], list[StraxFolder]] | None = None
        self._metadata: dict[Path, dict] = {}

    def folders(self, run_id: str, data_type: str) -> list[StraxFolder]:
        if self._folders is None:
            found: dict[tuple[str, str], list[StraxFolder]] = {}
            for directory in self.directories:
                for folder in scan_directory(directory):
                    found.setdefault((folder.run_id, folder.data_type), []).append(folder)
            self._folders = found
        return self._folders.get((run_id, data_type), [])

    def of_type(self, data_type: str) -> list[StraxFolder]:
        self.folders("", data_type)
        return [f for (_, dt), folders in sorted(self._folders.items()) for f in folders if dt == data_type]

    def folder(self, run_id: str, data_type: str) -> StraxFolder | None:
        """The run's one folder of ``data_type`` (None: none); several versions are refused."""
        found = self.folders(run_id, data_type)
        if len(found) > 1:
            raise StraxFormatError(
                f"run {run_id} has {len(found)} strax folders of {data_type} in the in-place directories "
                f"({', '.join(str(f.path) for f in found)}); one version is read in place: remove the others "
                "from strax.directories (or import the one you want)")
        return found[0] if found else None

    def metadata(self, folder: StraxFolder) -> dict:
        """The folder's metadata, checked (lineage hash, codec), read once."""
        if folder.path not in self._metadata:
            self._metadata[folder.path] = checked_folder_metadata(folder)
        return self._metadata[folder.path]
