"""Export runs and superruns to strax DataDirectory folders a vanilla strax Context loads."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Mapping

from ..base.hashing import deterministic_hash
from ..storage import DataFile
from .format import (
    STRAX_FORMAT_VERSION,
    StraxFormatError,
    compress,
    encode_run_document,
    folder_name,
    strax_chunk_info,
    strax_run_document,
)

__all__ = ["export_file", "export_run"]


def export_file(path, strax_dir, *, compressor: str = "blosc", sub_run_spec: Mapping | None = None,
                overwrite: bool = False) -> Path:
    """Write one of our files as a strax DataDirectory folder in ``strax_dir``; return it.

    The folder is written as ``{folder}_temp`` and renamed when complete, as strax does. A
    superrun needs its ``sub_run_spec`` (taken from the file's metadata if not given): it names
    the folder, and the run document must hold the same one (see :func:`export_run`).
    """
    data = DataFile(path)
    md = data.metadata
    run_id, data_type, lineage_hash = md["run_id"], md["data_type"], md["lineage_hash"]
    if deterministic_hash(md["lineage"]) != lineage_hash:
        raise StraxFormatError(f"{path}: its lineage does not hash to its lineage hash; rebuild it")
    if run_id.startswith("_") and sub_run_spec is None:
        if md.get("sub_run_spec_summarised"):
            raise StraxFormatError(f"{path}: the file summarises its sub_run_spec (too many ranges "
                                   "to list); export the superrun with export_run, which takes the "
                                   "spec from the project, or pass sub_run_spec=")
        sub_run_spec = md.get("sub_run_spec")
    strax_dir = Path(strax_dir)
    final = strax_dir / folder_name(run_id, data_type, lineage_hash, sub_run_spec)
    if final.exists():
        if not overwrite:
            raise StraxFormatError(f"{final} exists; pass overwrite=True (--overwrite) to replace it")
        shutil.rmtree(final)
    temp = final.with_name(final.name + "_temp")
    if temp.exists():
        shutil.rmtree(temp)
    temp.mkdir(parents=True)
    prefix = f"{data_type}-{lineage_hash}"
    out = {"chunk_target_size_mb": md.get("chunk_target_size_mb") or 200, "chunks": [],
           "compressor": compressor, "data_kind": md["data_kind"], "data_type": data_type,
           "dtype": md["dtype"], "lineage": md["lineage"], "lineage_hash": lineage_hash,
           "run_id": run_id, "strax_version": STRAX_FORMAT_VERSION, "writing_started": time.time()}
    try:
        for i, chunk in enumerate(data.chunks):
            info = strax_chunk_info(chunk.to_json())
            if chunk.n:
                payload = compress(data.read_chunk(i), compressor)
                info["filename"] = f"{prefix}-{i:06d}"
                (temp / info["filename"]).write_bytes(payload)
                info["filesize"] = len(payload)
            out["chunks"].append(info)
        if not out["chunks"]:
            raise StraxFormatError(f"{path}: holds no chunks, and strax refuses data without chunks")
        out["start"], out["end"] = out["chunks"][0]["start"], out["chunks"][-1]["end"]
        out["writing_ended"] = time.time()
        (temp / f"{prefix}-metadata.json").write_text(json.dumps(out, sort_keys=True, indent=4))
        os.rename(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return final


def export_run(project, run_id: str, data_types, strax_dir, *, compressor: str = "blosc",
               overwrite: bool = False, run_document: bool = True) -> list[Path]:
    """Export ``data_types`` of a run or superrun of ``project`` to a strax DataDirectory.

    Writes one folder per data type (:func:`export_file`) and the run document
    ``{run_id}-metadata.json`` (``$date`` times; a superrun's with its ``sub_run_spec``, which
    names its folders), so that ``strax.Context(storage=strax.DataDirectory(strax_dir,
    provide_run_metadata=True))`` with the plugins of these data types registered loads them.
    An existing run document of a regular run is kept unless ``overwrite``.
    """
    if isinstance(data_types, str):
        data_types = [data_types]
    strax_dir = Path(strax_dir)
    strax_dir.mkdir(parents=True, exist_ok=True)
    doc = strax_run_document(project, run_id)
    written = []
    for data_type in data_types:
        path = project.path(run_id, data_type)
        if not path.exists():
            raise StraxFormatError(f"{path} does not exist: build it first (snakemake {run_id}/{data_type})")
        written.append(export_file(path, strax_dir, compressor=compressor, overwrite=overwrite,
                                   sub_run_spec=doc.get("sub_run_spec")))
    doc_path = strax_dir / f"{run_id}-metadata.json"
    if run_document and (project.is_superrun(run_id) or overwrite or not doc_path.exists()):
        doc_path.write_text(encode_run_document(doc))
    return written
