"""The real XAMS detector data in strax's format (``../shared/data``), cut into three pieces
by its raw_records chunks, as the strax-bridge tests import it."""

from __future__ import annotations

from support.workflows import REPO

XAMS = REPO.parent / "shared" / "data" / "xams-002240"
RUN = "002240"
PIECES = [f"{RUN}_{i}" for i in range(3)]


def chunk_bounds() -> list[int]:
    """The start of each raw_records chunk of the XAMS run, and the end of the last."""
    from superruns.straxio.format import read_folder_metadata, scan_directory

    md = read_folder_metadata(next(f for f in scan_directory(XAMS) if f.data_type == "raw_records"))
    return [c["start"] for c in md["chunks"]] + [md["chunks"][-1]["end"]]


def piece_runs() -> dict[str, tuple[str, int, int]]:
    """``import_directory``'s ``runs=``: each piece, one raw_records chunk of the run."""
    bounds = chunk_bounds()
    return {piece: (RUN, bounds[i], bounds[i + 1]) for i, piece in enumerate(PIECES)}


def missing_decoder(*compressors: str) -> str | None:
    """Why the XAMS chunks of these strax compressors cannot be read here (the package to
    install, from ``straxio.format.check_decoder``), or None. Its raw_records are lz4 chunks,
    its peaks zstd: they need ``lz4`` and ``zstandard``, which the strax extra brings."""
    from superruns.straxio.format import StraxFormatError, check_decoder

    for compressor in compressors:
        try:
            check_decoder(compressor)
        except StraxFormatError as error:
            return str(error)
    return None


def strax_only_root(tmp_path_factory, name: str):
    """A workflow directory whose config lists no plugins of this package (``no_native_plugins``:
    every data type comes from strax), importable by snakemake's jobs; and the MonkeyPatch that
    set it up (undo it after)."""
    import os

    import pytest

    root = tmp_path_factory.mktemp(name)
    (root / "no_native_plugins.py").write_text("PLUGINS = []\n")
    patch = pytest.MonkeyPatch()
    patch.syspath_prepend(str(root))
    patch.setenv("PYTHONPATH", str(root), prepend=os.pathsep)
    return root, patch
