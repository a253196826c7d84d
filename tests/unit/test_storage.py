"""The storage format: round trips, carry-over of frames, time ranges, corruption, atomicity."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import zlib

import blosc2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from superruns import storage
from superruns.storage import (
    DataCorrupted,
    DataFile,
    DataWriter,
    Frame,
    FrameCursor,
    StorageError,
    dtype_from_metadata,
    dtype_to_str,
    read_metadata,
)

T0 = 1_546_300_800_000_000_000

# Titles, a padding gap (2 bytes after 'channel'), a multi-dimensional field; end = time + length * dt.
PEAKS = np.dtype({
    "names": ["time", "length", "dt", "channel", "area", "data"],
    "titles": ["Start time since unix epoch [ns]", "Length of the interval in samples", None, None,
               "Area [PE]", None],
    "formats": ["<i8", "<i4", "<i4", "<i2", "<f4", ("<f4", (6,))],
    "offsets": [0, 8, 12, 16, 20, 24],
    "itemsize": 48,
})
# An explicit end time and a multi-dimensional integer field.
EVENTS = np.dtype([(("Start time [ns]", "time"), "<i8"), (("Exclusive end time [ns]", "endtime"), "<i8"),
                   ("n_peaks", "<i2"), ("s", "<i4", (2, 3))])


def endtime(rows):
    if "endtime" in rows.dtype.names:
        return rows["endtime"].astype(np.int64)
    return rows["time"] + rows["length"].astype(np.int64) * rows["dt"]


def join(arrays, dtype=PEAKS):
    """Rows of several arrays, byte for byte (np.concatenate drops padding in numpy 2)."""
    return np.frombuffer(b"".join(a.tobytes() for a in arrays), dtype)


def contained(rows, t0, t1):
    """The reference selection, written independently of the package (byte-exact rows)."""
    t, e = rows["time"], endtime(rows)
    return join([rows[i:i + 1] for i in np.flatnonzero((t >= t0) & (t < t1) & (e <= t1))], rows.dtype)


def make_rows(rng, n, start, dtype=PEAKS, max_gap=50):
    rows = np.zeros(n, dtype)
    rows["time"] = start + np.cumsum(rng.integers(0, max_gap, n))
    if "endtime" in dtype.names:
        rows["endtime"] = rows["time"] + rng.integers(0, 40, n)
    else:
        rows["length"] = rng.integers(0, 8, n)
        rows["dt"] = rng.integers(1, 6, n)
    for name in dtype.names:
        if name in ("time", "endtime", "length", "dt"):
            continue
        field = rows[name]
        if np.issubdtype(field.dtype, np.floating):
            rows[name] = rng.normal(size=field.shape)
        else:
            rows[name] = rng.integers(-100, 100, size=field.shape)
    return rows


def make_chunks(rng, counts, dtype=PEAKS, start=T0):
    """[(rows, start, end)]: chunks in time order, rows inside, random gaps and slack."""
    chunks = []
    for n in counts:
        start += int(rng.integers(0, 30))
        rows = make_rows(rng, n, start, dtype)
        end = start
        if n:
            end = max(int(endtime(rows).max()), int(rows["time"][-1]) + 1)
        end += int(rng.integers(0, 30))
        chunks.append((rows, start, end))
        start = end
    return chunks


def write(path, chunks, dtype=PEAKS, metadata=None, **kwargs):
    metadata = {"run_id": "000001", "data_type": "peaks", "data_kind": "peaks"} if metadata is None else metadata
    with DataWriter(path, dtype, metadata, **kwargs) as writer:
        for rows, start, end in chunks:
            writer.write_chunk(rows, start, end)
    return path


def all_rows(chunks, dtype=PEAKS):
    return join([c[0] for c in chunks], dtype)


def tmp_files(directory):
    return [name for name in os.listdir(directory) if ".tmp-" in name]


# -- round trips -----------------------------------------------------------------------------------


def test_round_trip_with_metadata(tmp_path):
    rng = np.random.default_rng(1)
    chunks = make_chunks(rng, [40, 0, 25, 1])
    lineage = {"peaks": ["Peaks", "0.1.0", {"gain": 2}]}
    path = tmp_path / "000001" / "peaks"           # parent directories are created
    with DataWriter(path, PEAKS, {"run_id": "000001", "data_type": "peaks", "data_kind": "peaks",
                                  "lineage": lineage, "lineage_hash": "abcdefghij",
                                  "chunk_target_size_mb": np.float64(200), "run_metadata": {"mode": "bg"}},
                    frame_size=10 * PEAKS.itemsize) as writer:
        for i, (rows, start, end) in enumerate(chunks):
            writer.write_chunk(rows, np.int64(start), end, subruns={"000001": {"start": start, "end": end}}
                               if i == 2 else None)
        writer.update_metadata(note="hello", lineage_hash="klmnopqrst")
    assert sorted(os.listdir(path.parent)) == ["peaks"]

    f = DataFile(path)
    md = f.metadata
    assert f.dtype == PEAKS and f.dtype.fields["time"][2] == "Start time since unix epoch [ns]"
    assert md["dtype"] == repr(PEAKS.descr)
    assert (md["run_id"], md["data_type"], md["data_kind"]) == ("000001", "peaks", "peaks")
    assert (f.run_id, f.data_type) == ("000001", "peaks")
    assert md["lineage"] == lineage and md["lineage_hash"] == "klmnopqrst" and md["note"] == "hello"
    assert md["chunk_target_size_mb"] == 200 and md["run_metadata"] == {"mode": "bg"}
    assert md["compressor"] == "blosc2" and md["format_version"] == storage.FORMAT_VERSION
    assert md["compression"]["codec"] == storage.DEFAULT_CODEC
    assert md["writing_started"] <= md["writing_ended"]
    assert (md["start"], md["end"]) == (chunks[0][1], chunks[-1][2])
    assert f.n_rows == 66 and f.nbytes == 66 * PEAKS.itemsize
    assert read_metadata(path) == md

    for i, (c, (rows, start, end)) in enumerate(zip(f.chunks, chunks)):
        assert (c.chunk_i, c.start, c.end, c.n, c.nbytes) == (i, start, end, len(rows), rows.nbytes)
        assert c.run_id == "000001"
        if len(rows):
            e = endtime(rows)
            assert (c.first_time, c.first_endtime, c.last_time, c.last_endtime) == (
                rows["time"][0], e[0], rows["time"][-1], e[-1])
        else:
            assert c.first_time is None and "first_time" not in md["chunks"][i] and c.frames[0] == c.frames[1]
        assert f.read_chunk(i).tobytes() == rows.tobytes()
    assert f.chunks[0].frames == [0, 4]              # 40 rows, 10 per frame
    assert f.chunks[2].subruns == {"000001": {"start": chunks[2][1], "end": chunks[2][2]}}
    assert f.chunks[0].subruns is None
    assert [c.to_json() for c in f.chunks] == md["chunks"]          # the records are the metadata's
    assert [fr.to_json() for fr in f.frame_table] == md["frames"]

    loaded = f.load()
    assert loaded.dtype == PEAKS and loaded.tobytes() == all_rows(chunks).tobytes()
    got = list(f.iter_chunks())
    assert [(c.chunk_i, c.start, c.end, c.run_id) for c in got] == [
        (i, s, e, "000001") for i, (_, s, e) in enumerate(chunks)]
    assert all(c.rows.tobytes() == r.tobytes() for c, (r, _, _) in zip(got, chunks))


@pytest.mark.parametrize("dtype", [PEAKS, EVENTS], ids=["peaks", "events"])
def test_zero_chunks_and_one_empty_chunk(tmp_path, dtype):
    f = DataFile(write(tmp_path / "none", [], dtype, metadata={"run_id": "r", "start": 5, "end": 9}))
    assert f.chunks == [] and f.n_rows == 0 and (f.metadata["start"], f.metadata["end"]) == (5, 9)
    assert f.load().dtype == dtype and len(f.load()) == 0 and list(f.iter_chunks()) == []
    assert read_metadata(write(tmp_path / "bare", [], dtype, metadata={}))["start"] is None

    f = DataFile(write(tmp_path / "empty", [(np.zeros(0, dtype), 10, 20)], dtype))
    assert len(f.chunks) == 1 and f.chunks[0].n == 0 and f.metadata["frames"] == []
    assert (f.metadata["start"], f.metadata["end"]) == (10, 20)
    assert len(f.read_chunk(0)) == 0 and f.read_chunk(0).dtype == dtype
    assert [(c.start, c.end, len(c.rows)) for c in f.iter_chunks()] == [(10, 20, 0)]


def test_dtype_edge_cases_bit_exact(tmp_path):
    gap = np.dtype({"names": ["time", "length", "dt", "flag"], "formats": ["<i8", "<i4", "<i4", "u1"],
                    "offsets": [0, 8, 12, 20], "itemsize": 24})       # gaps inside and at the end
    assert ("", "|V4") in gap.descr and ("", "|V3") in gap.descr
    wave = np.dtype([(("Start time [ns]", "time"), "<i8"), ("endtime", "<i8"), ("data", "<f4", (200,)),
                     ("big", ">i4"), ("sub", [("x", "<f8"), ("y", "u2")], (2,))])
    for dtype in (gap, wave):
        rng = np.random.default_rng(3)
        rows = np.zeros(7, dtype)
        rows["time"] = T0 + np.arange(7) * 100
        if "endtime" in dtype.names:
            rows["endtime"] = rows["time"] + 10
        else:
            rows["length"], rows["dt"] = 3, 10
        raw = rows.view(np.uint8).reshape(len(rows), -1)
        keep = raw.copy()
        raw[:] = rng.integers(0, 256, raw.shape, dtype=np.uint8)      # garbage everywhere, padding too
        for name in ("time", "endtime", "length", "dt"):
            if name in dtype.names:
                rows[name] = keep.reshape(-1).view(dtype)[name]
        path = write(tmp_path / f"d{dtype.itemsize}", [(rows, T0, T0 + 1000)], dtype, metadata={})
        f = DataFile(path)
        assert f.dtype == dtype and dtype_from_metadata(f.metadata) == dtype
        assert f.load().tobytes() == rows.tobytes()


def test_dtype_strings_are_strax_compatible():
    text = dtype_to_str(PEAKS)
    assert text == repr(PEAKS.descr)
    assert dtype_from_metadata(text) == PEAKS == dtype_from_metadata({"dtype": text})
    plain = np.dtype([("time", "<i8"), ("endtime", "<i8")])
    assert dtype_from_metadata(dtype_to_str(plain)) == plain == np.dtype(ast.literal_eval(dtype_to_str(plain)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(counts=st.lists(st.integers(0, 25), max_size=7), rows_per_frame=st.integers(1, 9),
       seed=st.integers(0, 2**32 - 1), events=st.booleans(), a=st.floats(-0.1, 1.1), b=st.floats(-0.1, 1.1))
def test_round_trip_and_time_ranges_property(tmp_path_factory, counts, rows_per_frame, seed, events, a, b):
    dtype = EVENTS if events else PEAKS
    rng = np.random.default_rng(seed)
    chunks = make_chunks(rng, counts, dtype)
    path = write(tmp_path_factory.mktemp("p") / "f", chunks, dtype, frame_size=rows_per_frame * dtype.itemsize)
    f = DataFile(path)
    expected = all_rows(chunks, dtype)
    assert f.load().tobytes() == expected.tobytes()
    assert [len(f.frames(i)) for i in range(len(chunks))] == [-(-len(r) // rows_per_frame) for r, _, _ in chunks]
    for i, (rows, _, _) in enumerate(chunks):
        assert f.read_chunk(i).tobytes() == rows.tobytes()

    # A time range: containment, and only overlapping chunks and frames are read.
    lo = chunks[0][1] if chunks else 0
    hi = chunks[-1][2] if chunks else 10
    t0, t1 = sorted(int(lo + x * (hi - lo)) for x in (a, b))
    read = []
    original = FrameCursor.raw

    def spy(cursor, chunk_i, k):
        read.append((chunk_i, k))
        return original(cursor, chunk_i, k)

    FrameCursor.raw = spy
    try:
        got = f.load(time_range=(t0, t1))
    finally:
        FrameCursor.raw = original
    assert got.tobytes() == contained(expected, t0, t1).tobytes()
    for chunk_i, k in read:
        c, fr = f.chunks[chunk_i], f.frame_table[k]
        assert c.start < t1 and c.end > t0
        assert fr.first_time < t1 and fr.last_time >= t0
    listed = list(f.iter_chunks(time_range=(t0, t1)))
    assert [c.chunk_i for c in listed] == [i for i, (_, s, e) in enumerate(chunks) if s < t1 and e > t0]
    for c in listed:
        rows, s, e = chunks[c.chunk_i]
        assert (c.start, c.end) == (max(s, t0), min(e, t1))
        assert c.rows.tobytes() == contained(rows, t0, t1).tobytes()


def test_time_range_reads_only_overlapping_frames(tmp_path):
    rows = np.zeros(100, PEAKS)
    rows["time"] = T0 + np.arange(100) * 10
    rows["length"], rows["dt"] = 1, 5                                  # [t, t + 5)
    path = tmp_path / "f"
    with DataWriter(path, PEAKS, {}, frame_size=10 * PEAKS.itemsize) as writer:
        writer.write_chunk(rows[:50], T0, T0 + 500)
        writer.write_chunk(rows[50:], T0 + 500, T0 + 1000)
    f = DataFile(path)
    got = f.load(time_range=(T0 + 230, T0 + 415))                        # frames 2, 3, 4 of chunk 0
    assert got.tobytes() == rows[23:42].tobytes() and f.frames_read == 3   # [T0 + 410, T0 + 415) is in
    # Rows cut by the range are not selected: [T0 + 230, +235) and [T0 + 410, +415) here.
    assert DataFile(path).load(time_range=(T0 + 232, T0 + 414)).tobytes() == rows[24:41].tobytes()
    # Damage a frame outside the range: the range still loads, a whole load does not.
    flip_bit_in_frame(path, 9)
    assert DataFile(path).load(time_range=(T0 + 230, T0 + 415)).tobytes() == rows[23:42].tobytes()
    with pytest.raises(DataCorrupted, match="chunk 1, frame 9"):
        DataFile(path).load()


def test_iter_chunks_clips_to_the_range(tmp_path):
    rng = np.random.default_rng(5)
    (r0, s0, e0), (r1, s1, e1) = make_chunks(rng, [20, 20])
    path = tmp_path / "f"
    with DataWriter(path, PEAKS, {"run_id": "_sr"}) as writer:
        writer.write_chunk(r0, s0, e0, subruns={"a": {"start": s0, "end": e0}})
        writer.write_chunk(r1, s1, e1, subruns={"a": {"start": s1, "end": s1 + 3},
                                                "b": {"start": s1 + 3, "end": e1, "ranges": [[s1 + 3, e1]]}})
    t0, t1 = s0 + 5, s1 + 2
    got = list(DataFile(path).iter_chunks(time_range=(t0, t1)))
    assert [(c.start, c.end, c.run_id) for c in got] == [(t0, e0, "_sr"), (s1, t1, "_sr")]
    assert got[0].subruns == {"a": {"start": t0, "end": e0}}
    assert got[1].subruns == {"a": {"start": s1, "end": t1}}                  # "b" holds nothing here
    assert got[1].rows.tobytes() == contained(r1, t0, t1).tobytes()


def test_all_zero_frames(tmp_path):
    """blosc2 turns all-zero data into a "special" chunk that a variable-size SChunk cannot give
    back; the writer must store such frames in a form that reads back."""
    zeros = np.zeros(30, PEAKS)                                        # time 0, length 0: [0, 0)
    special = blosc2.compress2(zeros[:10], typesize=4)
    assert len(special) == 32
    frame = Frame(data=special, n=10, nbytes=zeros[:10].nbytes, crc32=zlib.crc32(special), first_time=0,
                  last_time=0, last_endtime=0, first_endtime=0, max_endtime=0)
    with DataWriter(tmp_path / "f", PEAKS, {}, frame_size=8 * PEAKS.itemsize) as writer:
        writer.write_chunk(zeros[:20], 0, 1)
    with DataWriter(tmp_path / "g", PEAKS, {}) as writer:
        writer.write_chunk_parts([frame, zeros[10:]], 0, 1)
    for name, n in (("f", 20), ("g", 30)):
        f = DataFile(tmp_path / name)
        assert f.load().tobytes() == zeros[:n].tobytes() and len(f.frames(0)) >= 1
        assert all(len(fr.data) > 32 for fr in f.frames(0))


def test_reads_fall_back_to_blosc2_when_the_layout_is_unexpected(tmp_path):
    rng = np.random.default_rng(12)
    chunks = make_chunks(rng, [30, 20])
    f = DataFile(write(tmp_path / "f", chunks, frame_size=7 * PEAKS.itemsize))
    f._reader.offsets = [offset + 1 for offset in f.frame_offsets]      # as if the frames had moved
    assert f.load().tobytes() == all_rows(chunks).tobytes() and f._reader.direct is False
    assert [fr.data for fr in f.frames(1)] == [fr.data for fr in DataFile(tmp_path / "f").frames(1)]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_open_files_hold_no_file_descriptors(tmp_path):
    """A superrun build opens one DataFile per subrun: they must not each keep a file open."""
    path = write(tmp_path / "f", make_chunks(np.random.default_rng(13), [5]))

    def open_fds():
        fds = f"/proc/{os.getpid()}/fd"
        return sum(1 for fd in os.listdir(fds) if os.path.realpath(os.path.join(fds, fd)) == str(path))

    files = [DataFile(path) for _ in range(20)]
    files[0].load()
    files[1].frames(0)
    assert open_fds() == 0


# -- carry-over ---------------------------------------------------------------------------------------


def test_carry_over_is_bit_identical(tmp_path):
    rng = np.random.default_rng(7)
    chunks = make_chunks(rng, [30, 12])
    src = DataFile(write(tmp_path / "a", chunks, frame_size=8 * PEAKS.itemsize, codec="zstd", clevel=1))
    frames0, frames1 = src.frames(0), src.frames(1)
    assert [fr.n for fr in frames0] == [7, 8, 7, 8] and all(fr.csize == len(fr.data) for fr in frames0)
    extra = make_rows(rng, 5, chunks[1][2] + 10)
    end = int(endtime(extra).max()) + 1
    with DataWriter(tmp_path / "b", PEAKS, src.metadata | {"run_id": "_sr"}) as writer:  # source md passed on
        writer.write_chunk_parts(frames0, chunks[0][1], chunks[0][2], subruns={"000001": {"start": 0, "end": 1}})
        writer.write_chunk_parts([frames1[0], np.zeros(0, PEAKS), extra],
                                 chunks[1][1], end)
    out = DataFile(tmp_path / "b")
    assert out.load().tobytes() == join([chunks[0][0], chunks[1][0][:6], extra]).tobytes()
    assert [fr.data for fr in out.frames(0)] == [fr.data for fr in frames0]       # no recompression
    assert out.frames(1)[0] == frames1[0]                                         # data and stats
    for k in range(4):
        assert out.metadata["frames"][k] == src.metadata["frames"][k]
    c = out.chunks[1]
    assert (c.n, c.first_time, c.last_endtime) == (11, chunks[1][0]["time"][0], endtime(extra)[-1])
    assert out.metadata["compression"]["codec"] == storage.DEFAULT_CODEC          # new frames: default codec
    assert out.run_id == "_sr" and out.chunks[0].run_id == "_sr" and out.metadata["start"] == chunks[0][1]
    assert out.decode_frame(frames0[1]).tobytes() == chunks[0][0][7:15].tobytes()


def test_hand_made_frame_gets_its_statistics(tmp_path):
    rows = make_rows(np.random.default_rng(2), 10, T0)
    data = blosc2.compress2(rows, typesize=4, clevel=5, codec=blosc2.Codec.LZ4)
    e = endtime(rows)
    frame = Frame(data=data, n=10, nbytes=rows.nbytes, crc32=zlib.crc32(data), first_time=int(rows["time"][0]),
                  last_time=int(rows["time"][-1]), last_endtime=int(e[-1]))
    with DataWriter(tmp_path / "f", PEAKS, {}) as writer:
        writer.write_chunk_parts([frame], T0, int(e.max()) + 1)
    f = DataFile(tmp_path / "f")
    assert f.load().tobytes() == rows.tobytes()
    assert f.metadata["frames"][0]["max_endtime"] == e.max() and f.frames(0)[0].data == data


def test_carried_frames_are_checked(tmp_path):
    rows = make_rows(np.random.default_rng(4), 20, T0)
    src = DataFile(write(tmp_path / "a", [(rows, T0, T0 + 10_000)]))
    frame = src.frames(0)[0]
    with DataWriter(tmp_path / "b", PEAKS, {}) as writer:
        damaged = dataclasses.replace(frame, data=bytes([frame.data[0] ^ 1]) + frame.data[1:])
        with pytest.raises(DataCorrupted, match="CRC32"):
            writer.write_chunk_parts([damaged], T0, T0 + 10_000)
        with pytest.raises(StorageError, match=r"inside the chunk"):
            writer.write_chunk_parts([frame], frame.first_time + 1, T0 + 10_000)  # a row before start
        with pytest.raises(StorageError, match=r"inside the chunk"):
            writer.write_chunk_parts([frame], T0, frame.max_endtime - 1)       # a row ends after end
        with pytest.raises(StorageError, match="sorted"):
            writer.write_chunk_parts([frame, rows[:3]], T0, T0 + 10_000)
        writer.write_chunk_parts([frame], T0, T0 + 10_000)                     # refused parts left nothing
    assert DataFile(tmp_path / "b").load().tobytes() == rows.tobytes()
    other = np.dtype([("time", "<i8"), ("endtime", "<i8")])
    with DataWriter(tmp_path / "c", other, {}) as writer, pytest.raises(StorageError, match="bytes for 20 rows"):
        writer.write_chunk_parts([frame], T0, T0 + 10_000)


# -- validation on write ----------------------------------------------------------------------------------


def test_dtype_mismatch_names_both(tmp_path):
    untitled = np.dtype([(name, PEAKS.fields[name][0]) for name in PEAKS.names])
    rows = np.zeros(3, untitled)
    with DataWriter(tmp_path / "f", PEAKS, {}) as writer:
        with pytest.raises(StorageError) as info:
            writer.write_chunk(rows, 0, 10)
    message = str(info.value)
    assert str(tmp_path / "f") in message and "chunk 0" in message
    assert f"expected {PEAKS.descr!r}" in message and f"got {untitled.descr!r}" in message
    with pytest.raises(StorageError, match="metadata's dtype"):
        DataWriter(tmp_path / "g", PEAKS, {"dtype": repr(untitled.descr)})
    with pytest.raises(StorageError, match="'time' field"):
        DataWriter(tmp_path / "h", np.dtype([("t", "<i8")]), {})
    with pytest.raises(StorageError, match="end time"):
        DataWriter(tmp_path / "i", np.dtype([("time", "<i8")]), {})
    assert tmp_files(tmp_path) == []


def test_rows_and_chunks_are_validated(tmp_path):
    rows = np.zeros(3, PEAKS)
    rows["time"] = [100, 110, 120]
    rows["length"], rows["dt"] = 2, 5                                  # end times 110, 120, 130
    path = tmp_path / "f"
    with DataWriter(path, PEAKS, {}) as writer:
        for bad, pattern in [((rows, 101, 200), "inside the chunk"), ((rows, 100, 129), "inside the chunk"),
                             ((rows[::-1].copy(), 100, 200), "not sorted by time: row 1"),
                             ((rows, 200, 100), "after end"), ((rows, "a", 100), "integers")]:
            with pytest.raises(StorageError, match=pattern) as info:
                writer.write_chunk(*bad)
            assert f"{path}: chunk 0" in str(info.value)
        zero = np.zeros(1, PEAKS)
        zero["time"] = 130                                             # zero length, at the chunk's end
        with pytest.raises(StorageError, match="inside the chunk"):
            writer.write_chunk(np.concatenate([rows, zero], dtype=PEAKS), 100, 130)
        writer.write_chunk(rows, 100, 130)
        with pytest.raises(StorageError, match="before the previous chunk ends at 130"):
            writer.write_chunk(rows[:0], 129, 140)
        writer.write_chunk(rows[:0], 130, 130)
    assert DataFile(path).load().tobytes() == rows.tobytes()


def test_metadata_rules(tmp_path):
    with DataWriter(tmp_path / "f", PEAKS, {"chunks": ["stale"], "frames": [1], "x": np.arange(3)}) as writer:
        with pytest.raises(StorageError, match="sets chunks itself"):
            writer.update_metadata(chunks=[])
        with pytest.raises(StorageError, match="JSON"):
            writer.update_metadata(bad=object())
        writer.update_metadata(y={"nested": (1, 2)})
    md = read_metadata(tmp_path / "f")
    assert md["chunks"] == [] and md["frames"] == [] and md["x"] == [0, 1, 2] and md["y"] == {"nested": [1, 2]}
    spec = {"8": "all", "9": "all", "10": [[1, 2]]}                 # time order, not sorted order
    with DataWriter(tmp_path / "o", PEAKS, {"sub_run_spec": spec}) as writer:
        writer.write_chunk(np.zeros(0, PEAKS), 0, 10, subruns={"9": {"start": 0, "end": 5},
                                                               "10": {"start": 5, "end": 10}})
    f = DataFile(tmp_path / "o")
    assert list(f.metadata["sub_run_spec"]) == ["8", "9", "10"] and list(f.chunks[0].subruns) == ["9", "10"]
    with pytest.raises(StorageError, match="JSON"):
        DataWriter(tmp_path / "g", PEAKS, {"when": object()})


# -- atomic writes -----------------------------------------------------------------------------------------


def test_exception_in_with_block_leaves_nothing(tmp_path):
    rows = make_rows(np.random.default_rng(0), 5, T0)
    path = tmp_path / "run" / "peaks"
    with pytest.raises(RuntimeError, match="boom"):
        with DataWriter(path, PEAKS, {}) as writer:
            writer.write_chunk(rows, T0, T0 + 10_000)
            assert len(tmp_files(path.parent)) == 1 and tmp_files(path.parent)[0].startswith(".peaks.tmp-")
            raise RuntimeError("boom")
    assert os.listdir(path.parent) == []


def test_failed_close_keeps_the_old_file(tmp_path, monkeypatch):
    rows = make_rows(np.random.default_rng(0), 5, T0)
    path = write(tmp_path / "f", [(rows, T0, T0 + 10_000)])
    before = path.read_bytes()

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    writer = DataWriter(path, PEAKS, {})
    writer.write_chunk(rows[:2], T0, T0 + 10_000)
    with pytest.raises(OSError, match="disk full"):
        writer.close()
    monkeypatch.undo()
    assert path.read_bytes() == before and tmp_files(tmp_path) == []
    writer.close()                                                     # already discarded: no-op
    assert path.read_bytes() == before

    abandoned = DataWriter(tmp_path / "g", PEAKS, {})                  # never closed
    assert len(tmp_files(tmp_path)) == 1
    del abandoned
    assert tmp_files(tmp_path) == [] and not (tmp_path / "g").exists()


def test_verify_knows_every_temporary_file(tmp_path):
    """Every atomic write of the package (data files, summaries, selections) leaves, if killed,
    a temporary file that ``superruns verify`` lists as a leftover, never as data."""
    from superruns.base.atomic import temp_path_for

    for target in (tmp_path / "8" / "peaks", tmp_path / "summary" / "_a" / "peaks.html",
                   tmp_path / "selections" / "lowE.npy"):
        target.parent.mkdir(parents=True, exist_ok=True)
        temp_path_for(target).write_bytes(b"partial")
    files, leftovers = storage.data_files(tmp_path)
    assert files == [] and len(leftovers) == 3


def test_selection_and_summary_writes_are_atomic(tmp_path, monkeypatch):
    """A failed write leaves neither a partial target nor a temporary file behind."""
    from superruns.stored import selections

    def fail(*args, **kwargs):
        raise OSError("disk full")

    events = np.zeros(3, selections.EVENTS_DTYPE)
    monkeypatch.setattr(selections, "select_events", lambda project, name, source: events)
    target = tmp_path / "selections" / "lowE.npy"
    assert selections.write_selection(None, "lowE", "source-file", target) == 3
    assert np.load(target).tobytes() == events.tobytes() and os.listdir(target.parent) == ["lowE.npy"]
    monkeypatch.setattr(np, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        selections.write_selection(None, "lowE", "source-file", tmp_path / "selections" / "other.npy")
    assert os.listdir(target.parent) == ["lowE.npy"]


def test_blosc2_is_fenced_in_one_module():
    """In the storage package only blosc_layout.py knows blosc2 (imports it); the writer,
    reader and verification go through it."""
    import pathlib

    package = pathlib.Path(storage.__file__).parent.parent

    def imports_blosc2(path) -> bool:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] == "blosc2" for name in names):
                return True
        return False

    importers = sorted(str(p.relative_to(package)) for p in (package / "storage").glob("*.py") if imports_blosc2(p))
    assert importers == ["storage/blosc_layout.py"]


def test_compression_settings(tmp_path):
    default = storage.Compression.for_dtype(PEAKS)
    assert (default.codec, default.clevel, default.filter, default.nthreads) == (
        storage.DEFAULT_CODEC, storage.DEFAULT_CLEVEL, storage.DEFAULT_FILTER, storage.COMPRESSION_NTHREADS)
    assert default.typesize == 4                                     # float32 waveforms
    assert storage.Compression(codec="LZ4", filter=blosc2.Filter.NOFILTER, typesize=4) == default
    with pytest.raises(StorageError, match="Unknown codec 'nope'"):
        storage.Compression(codec="nope")
    with pytest.raises(StorageError, match="Unknown filter"):
        storage.Compression(filter="sort")
    rows = make_rows(np.random.default_rng(6), 30, T0)
    zstd = storage.Compression(codec="zstd", clevel=3, filter="shuffle", typesize=4)
    for name, kwargs in (("a", {"compression": zstd}), ("b", {"codec": "ZSTD", "clevel": 3, "filter": "shuffle"})):
        with DataWriter(tmp_path / name, PEAKS, {}, **kwargs) as writer:
            writer.write_chunk(rows, T0, T0 + 10_000)
    a, b = DataFile(tmp_path / "a"), DataFile(tmp_path / "b")
    assert a.metadata["compression"] == b.metadata["compression"] == {
        "codec": "zstd", "clevel": 3, "filter": "shuffle", "typesize": 4, "frame_rows": a.metadata["compression"]["frame_rows"]}
    assert [f.data for f in a.frames(0)] == [f.data for f in b.frames(0)] and a.load().tobytes() == rows.tobytes()


# -- corruption -----------------------------------------------------------------------------------------------


def flip_bit_in_frame(path, k):
    """Flip one bit in the middle of frame k's compressed bytes, in place."""
    f = DataFile(path)
    chunk_i = next(i for i, c in enumerate(f.chunks) if c.frames[0] <= k < c.frames[1])
    data = f.frames(chunk_i)[k - f.chunks[chunk_i].frames[0]].data
    raw = bytearray(path.read_bytes())
    at = raw.find(data)
    assert at > 0 and raw.find(data, at + 1) == -1
    raw[at + len(data) // 2] ^= 0x10
    path.write_bytes(bytes(raw))
    return chunk_i


def test_flipped_bit_in_a_frame(tmp_path):
    rng = np.random.default_rng(8)
    path = write(tmp_path / "f", make_chunks(rng, [20, 20]), frame_size=7 * PEAKS.itemsize)
    chunk_i = flip_bit_in_frame(path, 4)
    assert chunk_i == 1
    f = DataFile(path)
    f.read_chunk(0)
    for action in (lambda: f.read_chunk(1), f.load, lambda: f.frames(1), lambda: list(f.iter_chunks())):
        with pytest.raises(DataCorrupted) as info:
            action()
        message = str(info.value)
        assert message.startswith(f"{path}: chunk 1, frame 4") and "CRC32" in message and "rebuild" in message


def test_truncated_files(tmp_path):
    rng = np.random.default_rng(9)
    path = write(tmp_path / "f", make_chunks(rng, [30, 30]), frame_size=10 * PEAKS.itemsize)
    raw = path.read_bytes()
    damaged = tmp_path / "g"
    for size in (0, 1, 5, 16, 23, 24, 100, len(raw) // 2, len(raw) - 100, len(raw) - 1):
        damaged.write_bytes(raw[:size])
        with pytest.raises(DataCorrupted, match=r"(truncated|empty).*move it aside.*rebuild it") as info:
            DataFile(damaged)
        assert str(damaged) in str(info.value)
    damaged.write_bytes(raw + b"\0" * 10)
    with pytest.raises(DataCorrupted, match="longer"):
        DataFile(damaged)


def test_damaged_or_foreign_metadata(tmp_path):
    rng = np.random.default_rng(10)
    path = write(tmp_path / "f", make_chunks(rng, [10]))
    text = read_metadata(path)

    def rewrite(value, key=storage.METADATA_KEY, crc=True):
        target = tmp_path / f"g{len(os.listdir(tmp_path))}"
        target.write_bytes(path.read_bytes())
        schunk = blosc2.open(str(target), mode="a")
        schunk.vlmeta[key] = value
        if crc and isinstance(value, str):
            schunk.vlmeta[storage.METADATA_CRC_KEY] = zlib.crc32(value.encode())
        del schunk
        return target

    cases = [
        (rewrite(json.dumps(text).replace('"n": 10', '"n": 11'), crc=False), DataCorrupted, "checksum"),
        (rewrite("{not json"), DataCorrupted, "not valid JSON"),
        (rewrite(json.dumps(text).replace('"n": 10', '"n": 11')), DataCorrupted, "chunk 0's metadata"),
        (rewrite(json.dumps({**text, "frames": []})), DataCorrupted, "metadata"),
        (rewrite(json.dumps({**text, "format_version": 99})), StorageError, "upgrade superruns"),
        (rewrite(json.dumps({k: v for k, v in text.items() if k != "format_version"})), StorageError,
         "not a superruns data file"),
    ]
    for target, error, pattern in cases:
        with pytest.raises(error, match=pattern) as info:
            DataFile(target)
        assert str(target) in str(info.value)

    plain = tmp_path / "plain"
    schunk = blosc2.SChunk(chunksize=0, contiguous=True, urlpath=str(plain), mode="w")
    schunk.append_data(b"x" * 100)
    del schunk
    with pytest.raises(StorageError, match="no superruns metadata") as info:
        DataFile(plain)
    assert str(plain) in str(info.value)
    text_file = tmp_path / "text"
    text_file.write_text("just some text that is long enough to have a header")
    with pytest.raises(StorageError, match="not a blosc2 frame"):
        DataFile(text_file)
    with pytest.raises(StorageError, match="is a directory"):
        DataFile(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such data file"):
        DataFile(tmp_path / "missing")


def test_no_crash_on_any_flipped_byte(tmp_path):
    """Flipping any byte of a small file gives identical rows or a StorageError, never garbage."""
    rows = make_rows(np.random.default_rng(11), 12, T0)
    path = write(tmp_path / "f", [(rows[:6], T0, int(rows["time"][6])), (rows[6:], int(rows["time"][6]), T0 + 10_000)],
                 frame_size=4 * PEAKS.itemsize)
    raw = path.read_bytes()
    damaged = tmp_path / "g"
    outcomes = {"same": 0, "error": 0}
    for at in range(0, len(raw), 3):
        b = bytearray(raw)
        b[at] ^= 0x41
        damaged.write_bytes(bytes(b))
        try:
            got = DataFile(damaged).load()
        except StorageError:
            outcomes["error"] += 1
            continue
        assert got.tobytes() == rows.tobytes(), f"byte {at}: wrong rows returned without an error"
        outcomes["same"] += 1
    assert outcomes["error"] > 0.8 * (outcomes["error"] + outcomes["same"])
