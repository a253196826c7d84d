"""Remote data files read by byte ranges (superruns.storage.remote, .remote_file), against the
local reader as the oracle: a Source serving a local file's bytes stands in for XRootD and S3
(the real servers: tests/remote/). Metadata from the frame's trailer alone equals blosc2's;
rows, chunks and time ranges equal DataFile's; a time range fetches only its frames; damaged
or foreign bytes are refused as locally; DIDs for Rucio never start with `_`."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from superruns.base.names import RUN_ID_PATTERN, SUPERRUN_NAME_PATTERN
from superruns.storage import DataCorrupted, DataFile, DataWriter, StorageError, remote_file
from superruns.storage.remote import (
    RemoteError,
    RemoteSettings,
    RemoteStore,
    Source,
    check_snakemake_storage,
    parse_rucio_did,
    rucio_did,
    snakemake_storage_args,
)
from superruns.storage.remote_file import TAIL_BYTES, RemoteDataFile

T0 = 1_546_300_800_000_000_000
PEAKS = np.dtype([("time", "<i8"), ("length", "<i4"), ("dt", "<i4"), ("area", "<f4")])
#: Rucio's default name rule (rucio/common/schema/generic.py: NAME).
RUCIO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\.\-\_]{1,250}$")


class BytesSource(Source):
    """A remote file stand-in: a local file's bytes, served by range, requests counted."""

    def __init__(self, path: Path):
        super().__init__()
        self.data = Path(path).read_bytes()
        self.url, self.size, self.identity = f"test://{path}", len(self.data), (len(self.data),)
        self.ranges = []

    def _read(self, offset, n):
        self.ranges.append((offset, n))
        return self.data[offset:offset + n]


def write_file(path: Path, n_chunks: int = 4, rows_per_chunk: int = 50, frame_rows: int = 10, **metadata) -> Path:
    rows = np.zeros(n_chunks * rows_per_chunk, PEAKS)
    rows["time"] = T0 + np.arange(len(rows)) * 10
    rows["length"], rows["dt"] = 1, 5
    rows["area"] = np.arange(len(rows))
    md = {"run_id": "_sr", "data_type": "peaks", "data_kind": "peaks", **metadata}
    with DataWriter(path, PEAKS, md, frame_size=frame_rows * PEAKS.itemsize) as writer:
        for i in range(n_chunks):
            part = rows[i * rows_per_chunk:(i + 1) * rows_per_chunk]
            writer.write_chunk(part, T0 + i * rows_per_chunk * 10, T0 + (i + 1) * rows_per_chunk * 10)
    return path


def test_remote_file_reads_what_the_local_reader_reads(tmp_path):
    path = write_file(tmp_path / "f")
    local, remote = DataFile(path), RemoteDataFile(BytesSource(path))
    assert remote.metadata == local.metadata
    assert remote.requests == 2 or remote.source.size <= TAIL_BYTES      # head + trailer, or the small file
    assert remote.load().tobytes() == local.load().tobytes()
    assert [c.rows.tobytes() for c in remote.iter_chunks()] == [c.rows.tobytes() for c in local.iter_chunks()]
    assert remote.read_chunk(2).tobytes() == local.read_chunk(2).tobytes()


def test_a_time_range_fetches_only_its_frames(tmp_path):
    path = write_file(tmp_path / "f", n_chunks=20, rows_per_chunk=500, frame_rows=100)   # 100 frames
    source = BytesSource(path)
    assert source.size > TAIL_BYTES, "the file must be larger than the first trailer read"
    remote = RemoteDataFile(source)
    opened = source.bytes_read
    t0, t1 = T0 + 2_330, T0 + 4_150                                  # rows 233..414: frames 2, 3, 4
    got = remote.load(time_range=(t0, t1))
    assert got.tobytes() == DataFile(path).load(time_range=(t0, t1)).tobytes()
    frames = remote.frame_table[2:5]
    assert source.bytes_read - opened == sum(f.csize for f in frames)
    assert source.requests == 3                                       # head, trailer, the 3 frames at once


def test_a_trailer_longer_than_the_first_read_is_fetched_whole(tmp_path, monkeypatch):
    path = write_file(tmp_path / "f", n_chunks=600, rows_per_chunk=2, frame_rows=1)   # big metadata
    monkeypatch.setattr(remote_file, "TAIL_BYTES", 4096)       # its trailer is longer than that
    source = BytesSource(path)
    remote = RemoteDataFile(source)
    assert remote.metadata == DataFile(path).metadata
    assert len(remote.frame_table) == 1200 and source.requests == 3


def test_damaged_or_foreign_remote_bytes_are_refused(tmp_path):
    path = write_file(tmp_path / "f", n_chunks=20, rows_per_chunk=500, frame_rows=100)
    data = bytearray(path.read_bytes())
    truncated = tmp_path / "t"
    truncated.write_bytes(bytes(data[:-100]))
    with pytest.raises(DataCorrupted, match="truncated"):
        RemoteDataFile(BytesSource(truncated))
    foreign = tmp_path / "x"
    foreign.write_bytes(b"not a frame at all" * 100)
    with pytest.raises(StorageError, match="not a superruns data file"):
        RemoteDataFile(BytesSource(foreign))
    remote = DataFile(path)
    k = 7
    at = remote.frame_offsets[k] + remote.frame_table[k].csize // 2
    data[at] ^= 0x10
    damaged = tmp_path / "d"
    damaged.write_bytes(bytes(data))
    with pytest.raises(DataCorrupted, match=f"frame {k}: CRC32"):
        RemoteDataFile(BytesSource(damaged)).load()


def test_remote_paths_and_snakemake_settings(tmp_path):
    store = RemoteStore(RemoteSettings.from_config({"provider": "xrootd", "prefix": "root://h:1094//x/"}), tmp_path)
    assert store.url(tmp_path / "data" / "_sr" / "peaks-abc") == "root://h:1094//x/data/_sr/peaks-abc"
    section = {"provider": "s3", "prefix": "s3://bucket/run"}
    check_snakemake_storage(section, "s3", "s3://bucket/run/")
    check_snakemake_storage(None, "fs", "/anywhere")
    with pytest.raises(RemoteError, match="--default-storage-provider s3 --default-storage-prefix s3://bucket/run"):
        check_snakemake_storage(section, None, None)
    with pytest.raises(RemoteError, match="was started with --default-storage-provider s3 --default-storage-prefix "
                                          "s3://other"):
        check_snakemake_storage(section, "s3", "s3://other")


def test_make_puts_every_file_where_remote_says():
    assert snakemake_storage_args(None) == []
    args = snakemake_storage_args({"provider": "s3", "prefix": "s3://b/p/", "endpoint_url": "http://127.0.0.1:9000"})
    assert args == ["--default-storage-provider", "s3", "--default-storage-prefix", "s3://b/p",
                    "--storage-s3-max-requests-per-second", "1000", "--storage-s3-endpoint-url", "http://127.0.0.1:9000"]
    check_snakemake_storage({"provider": "s3", "prefix": "s3://b/p/"}, args[1], args[3])   # what the Snakefile checks


names = st.one_of(st.from_regex(f"^{RUN_ID_PATTERN}$", fullmatch=True),
                  st.from_regex(f"^{SUPERRUN_NAME_PATTERN}$", fullmatch=True)).filter(lambda n: len(n) <= 100)


@settings(max_examples=300, deadline=None)
@given(run_id=names, data_type=st.from_regex(r"^[a-z][a-z0-9_]{0,30}$", fullmatch=True),
       lineage=st.from_regex(r"^[a-z0-9]{10}$", fullmatch=True))
def test_rucio_dids_are_valid_names_and_map_back(run_id, data_type, lineage):
    did = rucio_did(run_id, data_type, lineage, scope="xnt_superruns")
    scope, name = did.split(":")
    assert scope == "xnt_superruns" and RUCIO_NAME.match(name), did
    assert parse_rucio_did(did) == (run_id, data_type, lineage)


def test_rucio_did_of_a_superrun():
    assert rucio_did("_sr1_v0.2", "event_info", "fq5vyd3ii5", scope="xnt_sr") == \
        "xnt_sr:superrun-sr1_v0.2-event_info-fq5vyd3ii5"
    assert rucio_did("000001", "peaks", "abcdefghij", scope="xnt_sr") == "xnt_sr:000001-peaks-abcdefghij"
    with pytest.raises(ValueError, match="not a superruns DID"):
        parse_rucio_did("xnt_sr:_bad-peaks-abc")
