"""Issue 12, classes 4 and 5: define_run is an atomic create-if-absent that writes only where
the configuration reads, and a build decompresses each frame at most once whatever the number
of ranges.

Two processes defining one new superrun at the same instant (started together at a barrier):
exactly one wins, the other gets a DefinitionError naming the file, and the file holds the
winner's definition whole. Real processes, many trials: the race the issue found lost one
definition in 30 of 30 trials.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import yaml

from superruns.definitions import DefinitionError, Definitions, define_run
from superruns.model.runs import RunRegistry

T0 = 1_546_300_800_000_000_000
S = 1_000_000_000
RUNS = {"runs": {f"{i:06d}": {"start": T0 + 100 * i * S, "end": T0 + (100 * i + 50) * S}
                 for i in range(1, 4)}}


def _racer(directory: str, run: str, barrier, results) -> None:
    runs = RunRegistry.from_dict(RUNS)
    barrier.wait()
    try:
        define_run("_x", [run], directory=directory, runs=runs)
        results.put((run, "ok"))
    except DefinitionError as error:
        results.put((run, str(error)))


@pytest.mark.parametrize("trial", range(10))
def test_of_two_racing_writers_exactly_one_wins(tmp_path, trial):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    racers = [context.Process(target=_racer, args=(str(tmp_path), run, barrier, results))
              for run in ("000001", "000002")]
    for p in racers:
        p.start()
    for p in racers:
        p.join(60)
    outcome = dict(results.get(timeout=5) for _ in racers)
    winners = [run for run, what in outcome.items() if what == "ok"]
    assert len(winners) == 1, outcome
    loser = next(what for what in outcome.values() if what != "ok")
    assert str(tmp_path / "_x.yaml") in loser and "'_x'" in loser, loser
    assert "overwrite=True" in loser, loser
    written = yaml.safe_load((tmp_path / "_x.yaml").read_text())
    assert written["_x"]["runs"] == winners
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_x.yaml"]  # no temporary file left


@pytest.mark.parametrize("directory, listed", [
    ("other.d", ["superruns.yaml", "superruns.d"]),
    ("superruns.d", ["superruns.yaml"]),
    ("sub.d", ["superruns.d", "superruns.yaml"]),
])
def test_define_run_refuses_a_folder_the_configuration_does_not_read(tmp_path, directory, listed):
    (tmp_path / "superruns.yaml").write_text("")
    for d in ("superruns.d", "other.d", "sub.d"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    runs = RunRegistry.from_dict(RUNS)
    defs = Definitions.load([tmp_path / p for p in listed], runs)
    with pytest.raises(DefinitionError) as info:
        define_run("_x", ["000001"], directory=tmp_path / directory, definitions=defs)
    message = str(info.value)
    assert "does not read the folder" in message and "add" in message, message
    assert not list((tmp_path / directory).glob("*.yaml"))


def test_define_run_writes_into_a_folder_the_configuration_reads(tmp_path):
    (tmp_path / "superruns.d").mkdir()
    runs = RunRegistry.from_dict(RUNS)
    defs = Definitions.load([tmp_path / "superruns.d"], runs)
    path = define_run("_x", ["000001"], directory=tmp_path / "superruns.d", definitions=defs)
    assert Definitions.load([tmp_path / "superruns.d"], runs).names == ["_x"]
    assert path == tmp_path / "superruns.d" / "_x.yaml"


@pytest.mark.parametrize("n_ranges", [1, 10, 1000])
def test_each_frame_is_decompressed_once_whatever_the_number_of_ranges(tmp_path, monkeypatch, n_ranges):
    from superruns.build.concatenation import BuildSettings, Source, build_superrun
    from superruns.storage import DataFile, DataWriter

    dtype = np.dtype([("time", "i8"), ("endtime", "i8"), ("value", "i4")])
    rows = np.zeros(20_000, dtype)
    rows["time"] = T0 + np.arange(len(rows)) * 1000
    rows["endtime"] = rows["time"] + 10
    path = tmp_path / "run"
    with DataWriter(path, dtype, {"run_id": "000001", "data_type": "x", "start": T0,
                                  "end": T0 + 20_000_000}) as writer:
        for part in np.array_split(rows, 4):  # 4 chunks
            writer.write_chunk_parts([part], int(part["time"][0]), int(part["endtime"][-1]) + 1)
    n_frames = len(DataFile(path).frame_table)
    starts = T0 + np.linspace(0, 19_000_000, n_ranges, endpoint=False).astype(np.int64) + 1
    sources = [Source("000001", path, "000001", int(s), int(s) + 500, False) for s in starts]
    decoded, real_decode = [], DataFile.decode_frame

    def counting(self, frame):
        decoded.append(frame.crc32)
        return real_decode(self, frame)

    monkeypatch.setattr(DataFile, "decode_frame", counting)
    settings = BuildSettings(chunk_target_bytes=10**8, row_bytes=dtype.itemsize,
                             carry_over_min_bytes=0)
    build_superrun("_x", sources, tmp_path / "out", {"run_id": "_x", "data_type": "x"}, settings)
    assert len(decoded) == len(set(decoded)) <= n_frames
    out = DataFile(tmp_path / "out").load()
    expected = sum(int(((rows["time"] >= s) & (rows["endtime"] <= s + 500)).sum()) for s in starts)
    assert len(out) == expected
