"""strax's on-disk ``DataDirectory`` format, without strax (strax-reference section 3).

* a folder per (run, data type): ``{run_id}-{data_type}-{lineage_hash}``, for a superrun
  ``{name}_{H}-{data_type}-{lineage_hash}`` with ``H = deterministic_hash((sub_run_spec,
  combining))``; in it ``{data_type}-{lineage_hash}-metadata.json`` (``json.dumps(md,
  sort_keys=True, indent=4)``) and one file per non-empty chunk,
  ``{data_type}-{lineage_hash}-{chunk_i:06d}``: the rows' raw bytes, compressed;
* a run document per run, ``{run_id}-metadata.json``, with bson's ``{"$date": ...}`` times.

Codecs: blosc chunks are read by blosc2 (it reads blosc-1 chunks bit-exactly); zstd, lz4 and
bz2 by ``zstandard`` (or ``zstd``), ``lz4`` and the standard library; writing strax's default
blosc needs python-blosc. zstandard, zstd, lz4 and python-blosc come with the strax extra
(``pip install '.[strax]'``); each is imported only when a chunk needs it. strax itself is never
imported here. Import, export and the strax bridge are in :mod:`superruns.straxio`.
"""

from __future__ import annotations

import bz2
import datetime as _dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from ..base.errors import SuperrunsError
from ..base.hashing import deterministic_hash
from ..storage import dtype_from_metadata

__all__ = [
    "COMPRESSORS", "STRAX_FORMAT_VERSION", "StraxFormatError", "StraxFolder", "check_decoder", "checked_folder_metadata",
    "compress",
    "datetime_to_ns", "decode_run_document", "decompress", "encode_run_document", "folder_name",
    "iter_folder_chunks", "ns_to_datetime", "read_folder_chunk", "read_folder_metadata", "run_document_from_metadata",
    "scan_directory", "strax_chunk_info", "strax_run_document", "superrun_suffix",
]

#: The strax version whose format this module speaks (written as ``strax_version``).
STRAX_FORMAT_VERSION = "2.2.3"
COMPRESSORS = ("blosc", "zstd", "lz4", "bz2")
EXTRA = "the strax extra (pip install '.[strax]')"
_EPOCH = _dt.datetime(1970, 1, 1)


class StraxFormatError(SuperrunsError, ValueError):
    """strax data cannot be read or written as asked; the message names the folder and the fix."""


# -- codecs ----------------------------------------------------------------------------------------


def _need(module: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise StraxFormatError(f"{what} needs the Python package {module.split('.')[0]!r}: "
                               f"install {EXTRA}") from None


def check_decoder(compressor: str, where: str = "") -> None:
    """Raise (naming the package to install) unless chunks of ``compressor`` can be read here:
    an import checks every folder's codec before it writes anything."""
    if compressor in ("blosc", "bz2"):
        return
    if compressor == "zstd":
        for module in ("zstandard", "zstd"):
            try:
                __import__(module)
                return
            except ImportError:
                continue
        raise StraxFormatError(f"{where}reading zstd chunks needs the Python package 'zstandard' (or 'zstd'): "
                               f"install {EXTRA}")
    if compressor == "lz4":
        _need("lz4.frame", f"{where}reading lz4 chunks")
        return
    raise StraxFormatError(f"{where}unknown strax compressor {compressor!r}; strax writes {', '.join(COMPRESSORS)}")


def decompress(data: bytes, compressor: str) -> bytes:
    """The bytes of one strax chunk file, decompressed (any conforming decoder will do)."""
    if compressor == "blosc":
        import blosc2

        return blosc2.decompress(data)
    if compressor == "zstd":
        try:
            import zstandard
        except ImportError:
            check_decoder("zstd")
            return _need("zstd", "reading zstd chunks").decompress(data)
        out = zstandard.ZstdDecompressor().decompressobj()
        return out.decompress(data)
    if compressor == "lz4":
        return _need("lz4.frame", "reading lz4 chunks").decompress(data)
    if compressor == "bz2":
        return bz2.decompress(data)
    raise StraxFormatError(f"unknown strax compressor {compressor!r}; strax writes {', '.join(COMPRESSORS)}")


def compress(rows: np.ndarray, compressor: str = "blosc") -> bytes:
    """One chunk file's bytes, compressed exactly as strax 2.2.3 does it (same calls, same
    parameters), so strax reads them; python-blosc and python-zstd give byte-identical files."""
    data = np.ascontiguousarray(rows)
    if compressor == "blosc":
        blosc = _need("blosc", "writing strax's blosc chunks (or choose compressor zstd, lz4 or bz2)")
        if data.nbytes >= blosc.MAX_BUFFERSIZE:
            raise StraxFormatError("a chunk of more than ~2 GB cannot be blosc-compressed; choose zstd")
        blosc.set_nthreads(1)
        return blosc.compress(data, shuffle=False)
    if compressor == "zstd":
        try:
            import zstd
        except ImportError:
            return _need("zstandard", "writing zstd chunks").ZstdCompressor(level=3).compress(data.tobytes())
        return zstd.compress(data, 3, 1)
    if compressor == "lz4":
        return _need("lz4.frame", "writing lz4 chunks").compress(data)
    if compressor == "bz2":
        return bz2.compress(data)
    raise StraxFormatError(f"unknown strax compressor {compressor!r}; use one of {', '.join(COMPRESSORS)}")


# -- times and run documents -------------------------------------------------------------------------


def ns_to_datetime(ns: int) -> _dt.datetime:
    """Naive UTC datetime (microseconds; strax reads run documents back that way)."""
    return _EPOCH + _dt.timedelta(microseconds=int(ns) // 1000)


def datetime_to_ns(value: _dt.datetime) -> int:
    """int ns since the epoch; a naive datetime is UTC (as strax assumes)."""
    if value.tzinfo is not None:
        value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def _decode_date(value) -> _dt.datetime:
    """bson's ``$date`` in its three forms: ISO string, int ms (pymongo 3), ``$numberLong``."""
    if isinstance(value, dict) and "$numberLong" in value:
        value = int(value["$numberLong"])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _EPOCH + _dt.timedelta(milliseconds=int(value))
    if isinstance(value, str):
        m = _DATE_RE.match(value)
        if m:
            base = _dt.datetime.fromisoformat(m[1])
            if m[2]:
                base += _dt.timedelta(microseconds=round(float(m[2]) * 1e6))
            tz = m[3]
            if tz and tz != "Z":
                sign = 1 if tz[0] == "+" else -1
                hh, mm = int(tz[1:3]), int(tz[-2:])
                base -= sign * _dt.timedelta(hours=hh, minutes=mm)
            return base
    raise StraxFormatError(f"{value!r} is not a bson $date")


def decode_run_document(text: str) -> dict:
    """A run document as strax reads it: ``$date`` values become naive UTC datetimes."""
    def hook(obj):
        if len(obj) == 1 and "$date" in obj:
            return _decode_date(obj["$date"])
        return obj

    return json.loads(text, object_hook=hook)


def _encode_default(value):
    if isinstance(value, _dt.datetime):
        # bson.json_util.default (relaxed mode, pymongo 4): ISO with milliseconds only when
        # there are any, "Z" for UTC; before 1970 as $numberLong milliseconds.
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        if value >= _EPOCH:
            millis = value.microsecond // 1000
            fraction = f".{millis:03d}" if millis else ""
            return {"$date": value.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"}
        delta = value - _EPOCH
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        return {"$date": {"$numberLong": str(ms)}}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{value!r} cannot be stored in a strax run document")


def encode_run_document(doc: Mapping) -> str:
    """The text strax's ``DataDirectory.write_run_metadata`` writes for ``doc``."""
    return json.dumps(doc, sort_keys=True, indent=4, default=_encode_default)


def strax_run_document(project, run_id: str) -> dict:
    """The project's run document of a run or superrun in strax's form (see
    :func:`run_document_from_metadata`)."""
    md = project.run_metadata(run_id)
    comments = () if project.is_superrun(run_id) else getattr(project.runs[run_id], "comments", ())
    doc = run_document_from_metadata(md, run_id, comments)
    number = None if project.is_superrun(run_id) else getattr(project.runs[run_id], "number", None)
    if number is not None:
        doc["number"] = number             # as the run database has it (strax_typed: else from the id)
    return doc


def run_document_from_metadata(md: Mapping, run_id: str, comments=()) -> dict:
    """A run document (:meth:`superruns.project.Project.run_metadata`: int ns times) in strax's
    form: naive UTC datetimes, tags as ``[{"name": ...}]``, ``mode``/``source`` strings for a
    run and lists for a superrun, whose ``sub_run_spec`` is kept (direct subruns, as defined)."""
    doc = {"name": run_id, "start": ns_to_datetime(md["start"]), "end": ns_to_datetime(md["end"]),
           "livetime": float(md.get("livetime", (md["end"] - md["start"]) / 1e9)),
           "tags": [{"name": tag} for tag in md.get("tags", [])]}
    if run_id.startswith("_"):
        doc.update(mode=list(md.get("mode", [])), source=list(md.get("source", [])),
                   sub_run_spec=md["sub_run_spec"])
    else:
        doc.update(mode=",".join(md.get("mode", [])), source=",".join(md.get("source", [])))
        if comments:
            doc["comments"] = [{"comment": c} for c in comments]
    return doc


# -- folders -----------------------------------------------------------------------------------------


def _json_roundtrip(value):
    return json.loads(json.dumps(value))


def superrun_suffix(sub_run_spec: Mapping, combining: bool = False) -> str:
    """strax's ``H`` in ``{name}_{H}``: ``deterministic_hash((sub_run_spec, combining))`` of the
    spec as strax reads it back from the run document (JSON: tuples are lists)."""
    return deterministic_hash((_json_roundtrip(dict(sub_run_spec)), bool(combining)))


def folder_name(run_id: str, data_type: str, lineage_hash: str, sub_run_spec: Mapping | None = None) -> str:
    """``str(strax.DataKey)``: the folder a DataDirectory keeps the data in."""
    for what, value in (("run id", run_id), ("data type", data_type)):
        if "-" in value or "/" in value:
            raise StraxFormatError(f"strax cannot store {what} {value!r}: it holds '-' or '/'")
    if run_id.startswith("_"):
        if sub_run_spec is None:
            raise StraxFormatError(f"superrun {run_id}: its sub_run_spec is needed for strax's folder name")
        run_id = f"{run_id}_{superrun_suffix(sub_run_spec)}"
    return f"{run_id}-{data_type}-{lineage_hash}"


@dataclass(frozen=True)
class StraxFolder:
    """One ``{run}-{data_type}-{hash}`` folder of a DataDirectory."""

    path: Path
    run_id: str          # as in the folder name (a superrun's carries its _H suffix)
    data_type: str
    lineage_hash: str

    @property
    def prefix(self) -> str:
        return f"{self.data_type}-{self.lineage_hash}"


def scan_directory(strax_dir) -> list[StraxFolder]:
    """The complete data folders of a DataDirectory (``*_temp`` folders are being written)."""
    strax_dir = Path(strax_dir)
    if not strax_dir.is_dir():
        raise StraxFormatError(f"{strax_dir} is not a directory (a strax DataDirectory was expected)")
    found = []
    for entry in sorted(strax_dir.iterdir()):
        parts = entry.name.split("-")
        if entry.is_dir() and len(parts) == 3 and not entry.name.endswith("_temp"):
            found.append(StraxFolder(entry, *parts))
    return found


def read_folder_metadata(folder: StraxFolder | Path) -> dict:
    """A folder's data metadata, refused (as strax does) if writing never ended or failed."""
    if not isinstance(folder, StraxFolder):
        path = Path(folder)
        folder = StraxFolder(path, *path.name.split("-"))
    path = folder.path / f"{folder.prefix}-metadata.json"
    if not path.exists():
        path = folder.path / "metadata.json"          # strax's old layout
    try:
        md = json.loads(path.read_text())
    except FileNotFoundError:
        raise StraxFormatError(f"{folder.path}: no {folder.prefix}-metadata.json: not strax data") from None
    except ValueError as error:
        raise StraxFormatError(f"{path}: not valid JSON ({error}); the folder is damaged") from None
    if "exception" in md:
        raise StraxFormatError(f"{folder.path}: strax failed while writing it ({md['exception'].strip()[-200:]}); "
                               "remake it with strax")
    if "writing_ended" not in md:
        raise StraxFormatError(f"{folder.path}: writing never ended (incomplete data); remake it with strax")
    missing = [k for k in ("run_id", "data_type", "data_kind", "dtype", "compressor", "chunks") if k not in md]
    if missing:
        raise StraxFormatError(f"{path}: the metadata lacks {', '.join(missing)}: not strax data")
    return md


def checked_folder_metadata(folder: StraxFolder) -> dict:
    """:func:`read_folder_metadata`, refused unless the folder's name, its metadata and the
    lineage recomputed agree on the lineage hash (the identity of strax data, as of our files)
    and its codec can be read here."""
    md = read_folder_metadata(folder)
    where = str(folder.path)
    if md["lineage_hash"] != folder.lineage_hash or deterministic_hash(md["lineage"]) != folder.lineage_hash:
        raise StraxFormatError(f"{where}: the folder's lineage hash {folder.lineage_hash} does not match its "
                               f"metadata ({md['lineage_hash']}, recomputed {deterministic_hash(md['lineage'])}); "
                               "the data cannot be trusted: remake it with strax")
    check_decoder(md.get("compressor", "blosc"), f"{where}: ")
    return md


def iter_folder_chunks(folder: StraxFolder, metadata: dict | None = None) -> Iterator[tuple[dict, np.ndarray]]:
    """``(chunk_info, rows)`` per chunk, in order; rows have the stored dtype (padding kept as
    gaps, see :func:`superruns.storage.dtype_from_metadata`) and their count is checked."""
    md = metadata if metadata is not None else read_folder_metadata(folder)
    dtype = dtype_from_metadata(md)
    for info in md["chunks"]:
        yield info, read_folder_chunk(folder, info, md["compressor"], dtype)


def read_folder_chunk(folder: StraxFolder, info: dict, compressor: str, dtype: np.dtype) -> np.ndarray:
    """The rows of one chunk of a folder (its ``chunk_info`` from the folder's metadata),
    decompressed, their count checked against the metadata."""
    if not info.get("n"):
        return np.zeros(0, dtype)
    path = folder.path / info["filename"]
    try:
        raw = decompress(path.read_bytes(), compressor)
    except StraxFormatError:
        raise
    except Exception as error:
        raise StraxFormatError(f"{path}: cannot be decompressed with {compressor} "
                               f"({type(error).__name__}: {error}); the chunk is damaged") from None
    if len(raw) != info["n"] * dtype.itemsize:
        raise StraxFormatError(f"{path}: holds {len(raw)} bytes, the metadata says {info['n']} rows of "
                               f"{dtype.itemsize} bytes; the chunk is damaged")
    return np.frombuffer(raw, dtype)


def strax_chunk_info(chunk: dict) -> dict:
    """A chunk's entry as strax's saver writes it (``subruns`` as ``{run: {start, end}}``)."""
    subruns = chunk.get("subruns")
    if isinstance(subruns, Mapping):
        subruns = {run: {"start": int(s["start"]), "end": int(s["end"])} for run, s in subruns.items()}
    info = {"chunk_i": chunk["chunk_i"], "n": chunk["n"], "start": chunk["start"], "end": chunk["end"],
            "run_id": chunk.get("run_id"), "subruns": subruns, "nbytes": chunk["nbytes"]}
    if chunk["n"]:
        for key in ("first_time", "first_endtime", "last_time", "last_endtime"):
            info[key] = chunk[key]
    return info
