"""Corruption: flipped bits, a truncated file, a damaged metadata block.

Each raises a clear error naming the file (and the chunk and frame, where the damage is in a
frame) on load, and when the file is an input to a superrun (the build fails naming the
subrun's file, and writes nothing); ``superruns verify`` finds each, frame by frame.
"""

from __future__ import annotations

import io
import json
import zlib

import blosc2
import pytest

import superruns
from superruns.cli import commands as cli
from superruns.storage import METADATA_KEY, DataCorrupted, DataFile, FrameCursor, StorageError, verify_file

from support.reliability import copy_workflow, snakemake_many

pytestmark = pytest.mark.e2e


def frame_offset(path, k: int) -> int:
    """Where frame ``k``'s compressed bytes start in the file."""
    data = DataFile(path)
    return data.frame_offsets[k]


def flip_bit_in_frame(path, chunk: int = 1) -> tuple[int, int]:
    """Flip one bit in the middle of the first frame of ``chunk``; return (chunk, frame)."""
    data = DataFile(path)
    k = data.chunks[chunk].frames[0]
    record = data.frame_table[k]
    position = frame_offset(path, k) + record.csize // 2
    raw = bytearray(path.read_bytes())
    raw[position] ^= 0x10
    path.write_bytes(bytes(raw))
    return chunk, k


def truncate(path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) * 2 // 3])


def damage_metadata(path) -> None:
    """Change the metadata JSON as stored (one character) without updating its checksum."""
    schunk = blosc2.open(str(path), mode="a")
    text = schunk.vlmeta[METADATA_KEY]
    schunk.vlmeta[METADATA_KEY] = text.replace('"n": ', '"n": 1', 1)
    del schunk


DAMAGE = {
    "flipped-bit": (flip_bit_in_frame, ["chunk 1, frame", "CRC32 mismatch"]),
    "truncated": (truncate, ["truncated"]),
    "damaged-metadata": (damage_metadata, ["metadata does not match its checksum"]),
}


def verify_command(*args) -> tuple[int, str]:
    out = io.StringIO()
    return cli.main(["verify", *args], out=out), out.getvalue()


@pytest.mark.parametrize("kind", DAMAGE)
def test_damaged_file_on_load_and_verify(flow, kind):
    damage, words = DAMAGE[kind]
    path = flow.file("9", "raw_records")
    assert len(DataFile(path).chunks) >= 2
    damage(path)
    project = flow.project()
    with pytest.raises(DataCorrupted) as error:
        superruns.load("9", "raw_records", project=project)
    for word in [str(path), *words]:
        assert word in str(error.value)

    report = verify_file(path)
    assert not report["ok"] and any(all(w in p for w in [str(path), *words]) for p in report["problems"])
    # the command: exit status 1, the bad file listed, the good ones not; --json too
    good = flow.file("8", "raw_records")
    code, out = verify_command(str(good), str(path))
    assert code == 1
    assert f"BAD  {path}" in out and f"ok   {good}" in out and words[0] in out
    code, out = verify_command("--json", str(flow.data))
    assert code == 1
    result = json.loads(out)
    assert result["bad"] == [str(path)] and result["checked"] >= 20


def test_verify_lists_every_damaged_frame_and_checks_rows_deeply(flow):
    path = flow.file("_b", "raw_records")
    data = DataFile(path)
    assert len(data.chunks) >= 3
    flip_bit_in_frame(path, 0)
    flip_bit_in_frame(path, 2)
    report = verify_file(path)
    assert len(report["problems"]) == 2 and "chunk 0" in report["problems"][0] and "chunk 2" in report["problems"][1]
    # --deep decompresses each frame and checks the rows against the records
    intact = flow.file("_a", "raw_records")
    assert verify_file(intact, deep=True)["ok"]
    code, out = verify_command("--deep", str(intact))
    assert code == 0 and "all intact" in out


def test_verify_reads_frame_by_frame(flow, monkeypatch):
    """verify never loads a whole file: it reads one frame at a time, and never all rows."""
    path = flow.file("_b", "raw_records")
    monkeypatch.setattr(DataFile, "load", lambda *a, **k: pytest.fail("verify loaded the whole file"))
    monkeypatch.setattr(DataFile, "read_chunk", lambda *a, **k: pytest.fail("verify read a whole chunk"))
    sizes = []
    original = FrameCursor.raw

    def spy(self, chunk_i, k):
        data = original(self, chunk_i, k)
        sizes.append(len(data))
        return data

    monkeypatch.setattr(FrameCursor, "raw", spy)
    report = verify_file(path, deep=True)
    assert report["ok"] and len(sizes) == report["frames"] and max(sizes) < report["size"]


def test_damaged_inputs_fail_the_superrun_build(tmp_path, built):
    """Snakemake rebuilds _a/raw_records from a damaged 9/raw_records: the job fails, naming
    the file (and chunk and frame), and leaves no output."""
    commands, flows = [], {}
    for kind, (damage, words) in DAMAGE.items():
        flow = copy_workflow(built, tmp_path / kind)
        damage(flow.file("9", "raw_records"))
        (flow.file("_a", "raw_records")).unlink()
        flows[kind] = flow
        commands.append((flow.root, ["_a/raw_records"]))
    results = snakemake_many(commands, tmp_path)
    for (kind, (damage, words)), (code, output) in zip(DAMAGE.items(), results):
        flow = flows[kind]
        assert code == 1, output
        log = (flow.data / "logs" / "superrun" / "_a" / f"{flow.file('_a', 'raw_records').name}.log").read_text()
        path = flow.file("9", "raw_records")
        for word in [str(path), *words]:
            assert word in log, (kind, log)
        assert "Traceback" not in log
        assert not (flow.file("_a", "raw_records")).exists()
        assert [p.name for p in (flow.data / "_a").iterdir() if p.name.startswith(".raw_records")] == []


def test_damaged_input_to_a_per_run_job(flow):
    """The same for a per-run job: peaks from a damaged raw_records."""
    from superruns.orchestration import jobs

    from support.reliability import process_job, run_job

    path = flow.file("8", "raw_records")
    chunk, k = flip_bit_in_frame(path)
    (flow.file("8", "peaks")).unlink()
    code, log = run_job(jobs.process_job, process_job(flow.project(), "8", "peaks"))
    assert code == 1 and f"{path}: chunk {chunk}, frame {k}: CRC32 mismatch" in log
    assert not (flow.file("8", "peaks")).exists()


def test_metadata_checksum_is_what_it_says(flow):
    """The checksum protects the metadata as stored (so a damaged copy is told from a good one)."""
    path = flow.file("8", "event_info")
    schunk = blosc2.open(str(path), mode="r")
    assert schunk.vlmeta["superruns_crc32"] == zlib.crc32(schunk.vlmeta[METADATA_KEY].encode())
    del schunk
    assert isinstance(DataCorrupted("x"), StorageError)
