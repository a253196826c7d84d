"""Superrun definitions (superruns.definitions): flattening, events, validation, metadata, define_run."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from superruns.definitions import (
    DEFINE_RUN_MARKER,
    DefinitionError,
    Definitions,
    Segment,
    Superrun,
    UnknownSuperrunError,
    define_run,
)
from superruns.model.runs import Run, RunRegistry

REPO = Path(__file__).resolve().parents[2]
from support.run_grid import S, T, end, rid, start


def registry(tmp_path: Path, runs: dict | None = None) -> RunRegistry:
    if runs is None:
        runs = {rid(i): {"start": start(i), "end": end(i), "mode": "background" if i % 3 else "kr83m",
                         "source": "none" if i % 3 else "kr83m", "tags": ["sr1"] + (["odd"] if i % 2 else [])}
                for i in range(1, 9)}
    path = tmp_path / "runs.yaml"
    path.write_text(yaml.safe_dump({"runs": runs}))
    return RunRegistry.load(path)


def write_defs(tmp_path: Path, superruns: dict | str, name: str = "superruns.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(superruns if isinstance(superruns, str) else yaml.safe_dump(superruns))
    return path


def load(tmp_path: Path, superruns: dict | str, runs: RunRegistry | None = None) -> Definitions:
    path = write_defs(tmp_path, superruns)
    (tmp_path / "superruns.d").mkdir(exist_ok=True)
    return Definitions.load([path, tmp_path / "superruns.d"], runs or registry(tmp_path),
                            base_dir=tmp_path)


def error(tmp_path: Path, superruns: dict | str, *words: str, runs: RunRegistry | None = None,
          superrun: str | None = None) -> str:
    """Loading must fail with a DefinitionError naming the file, the superrun and ``words``."""
    path = write_defs(tmp_path, superruns)
    with pytest.raises(DefinitionError) as info:
        Definitions.load([path], runs or registry(tmp_path), base_dir=tmp_path)
    message = str(info.value)
    assert str(path) in message, message
    if superrun is not None:
        assert f"superrun {superrun!r}" in message, message
    assert "fix:" in message, message
    for word in words:
        assert word in message, message
    return message


def seg(i: int, s: int | None = None, e: int | None = None) -> Segment:
    return Segment(rid(i), start(i) if s is None else s, end(i) if e is None else e)


# --------------------------------------------------------------------------------------
# flattening


def test_whole_runs(tmp_path):
    d = load(tmp_path, {"_a": {"runs": [rid(3), rid(1), rid(2)], "description": "three"}})
    assert d.names == ["_a"] and "_a" in d and "_b" not in d and len(d) == 1
    assert d.segments("_a") == [seg(1), seg(2), seg(3)]
    assert d.direct_subruns("_a") == [rid(1), rid(2), rid(3)]
    assert d.leaf_runs("_a") == [rid(1), rid(2), rid(3)]
    assert d.sub_run_spec("_a") == {rid(1): "all", rid(2): "all", rid(3): "all"}
    assert list(d.sub_run_spec("_a")) == [rid(1), rid(2), rid(3)]
    assert d.flat_sub_run_spec("_a") == {rid(1): "all", rid(2): "all", rid(3): "all"}
    sr = d.get("_a")
    assert isinstance(sr, Superrun)
    assert (sr.name, sr.description, sr.runs, sr.selection) == ("_a", "three", (rid(3), rid(1), rid(2)), "contained")
    assert sr.source_file == tmp_path / "superruns.yaml"
    assert d.events_file("_a") is None
    assert seg(1).duration_ns == 100 * S


def test_nested_three_levels(tmp_path):
    r4 = rid(4)
    d = load(tmp_path, {
        "_level1": {"runs": [rid(2), rid(1)]},
        "_level2": {"runs": ["_level1"], "ranges": {rid(3): [[start(3) + 10 * S, start(3) + 20 * S]]}},
        "_level3": {"runs": [r4, "_level2", rid(6)],
                    "ranges": {rid(5): [[start(5), start(5) + S], [start(5) + 2 * S, end(5)]]}},
    })
    assert d.segments("_level3") == [
        seg(1), seg(2), seg(3, start(3) + 10 * S, start(3) + 20 * S), seg(4),
        seg(5, start(5), start(5) + S), seg(5, start(5) + 2 * S), seg(6)]
    assert d.direct_subruns("_level3") == ["_level2", r4, rid(5), rid(6)]
    assert d.direct_subruns("_level2") == ["_level1", rid(3)]
    assert d.leaf_runs("_level3") == [rid(i) for i in range(1, 7)]
    assert d.sub_run_spec("_level3") == {
        "_level2": "all", r4: "all",
        rid(5): [[start(5), start(5) + S], [start(5) + 2 * S, end(5)]], rid(6): "all"}
    assert d.flat_sub_run_spec("_level3") == {
        rid(1): "all", rid(2): "all", rid(3): [[start(3) + 10 * S, start(3) + 20 * S]], r4: "all",
        rid(5): [[start(5), start(5) + S], [start(5) + 2 * S, end(5)]], rid(6): "all"}
    sourced = d.sourced_segments("_level3")
    assert [sub for sub, _ in sourced] == ["_level2"] * 3 + [r4, rid(5), rid(5), rid(6)]
    assert d.dependents("_level1") == ["_level2", "_level3"]
    assert d.dependents(rid(3)) == ["_level2", "_level3"]
    assert d.dependents("_level3") == []


def test_time_order_not_id_order(tmp_path):
    runs = registry(tmp_path, {
        "10": {"start": T + 20 * S, "end": T + 21 * S},
        "9": {"start": T + 10 * S, "end": T + 11 * S},
        "8": {"start": T, "end": T + S},
    })
    d = load(tmp_path, {"_sr": {"runs": ["10", "9", "8"]},
                        "_sr2": {"ranges": {"10": [[T + 20 * S, T + 20 * S + 5]], "8": [[T, T + 5]]},
                                 "runs": ["9"]}}, runs)
    assert d.direct_subruns("_sr") == ["8", "9", "10"]
    assert [s.run_id for s in d.segments("_sr")] == ["8", "9", "10"]
    assert list(d.sub_run_spec("_sr")) == ["8", "9", "10"]
    assert list(d.flat_sub_run_spec("_sr")) == ["8", "9", "10"]
    assert d.direct_subruns("_sr2") == ["8", "9", "10"]
    assert list(d.sub_run_spec("_sr2")) == ["8", "9", "10"]
    assert d.run_metadata("_sr")["start"] == T and d.run_metadata("_sr")["end"] == T + 21 * S


def test_ranges_of_a_superrun_cut_its_leaf_runs(tmp_path):
    d = load(tmp_path, {
        "_inner": {"runs": [rid(1), rid(2), rid(3)]},
        "_cut": {"ranges": {"_inner": [
            [start(1) + 50 * S, start(2) + 10 * S],   # end of run 1, the gap, start of run 2
            [start(3) + 5 * S, start(3) + 6 * S],     # inside run 3
        ]}},
    })
    assert d.segments("_cut") == [seg(1, start(1) + 50 * S), seg(2, start(2), start(2) + 10 * S),
                                  seg(3, start(3) + 5 * S, start(3) + 6 * S)]
    assert d.direct_subruns("_cut") == ["_inner"]
    assert d.flat_sub_run_spec("_cut") == {rid(1): [[start(1) + 50 * S, end(1)]],
                                           rid(2): [[start(2), start(2) + 10 * S]],
                                           rid(3): [[start(3) + 5 * S, start(3) + 6 * S]]}
    assert d.sub_run_spec("_cut") == {"_inner": [[start(1) + 50 * S, start(2) + 10 * S],
                                                 [start(3) + 5 * S, start(3) + 6 * S]]}


def test_range_of_a_superrun_in_a_gap_or_outside(tmp_path):
    base = {"_inner": {"runs": [rid(1), rid(2)]}}
    error(tmp_path, {**base, "_cut": {"ranges": {"_inner": [[end(1) + S, end(1) + 2 * S]]}}},
          "falls in a gap", "ranges['_inner'][0]", "holds nothing", superrun="_cut")
    error(tmp_path, {**base, "_cut": {"ranges": {"_inner": [[start(1) - S, start(1) + S]]}}},
          "not inside superrun '_inner'", "span", superrun="_cut")


def test_whole_run_and_superrun_segments_are_all(tmp_path):
    d = load(tmp_path, {"_a": {"ranges": {rid(1): [[start(1), end(1)]]}}})
    assert d.flat_sub_run_spec("_a") == {rid(1): "all"}  # held whole, though via a range
    assert d.sub_run_spec("_a") == {rid(1): [[start(1), end(1)]]}  # as defined


def test_adjacent_segments_are_kept(tmp_path):
    mid = start(1) + 50 * S
    d = load(tmp_path, {"_a": {"ranges": {rid(1): [[start(1), mid], [mid, end(1)]]}}})
    assert d.segments("_a") == [seg(1, start(1), mid), seg(1, mid, end(1))]


# --------------------------------------------------------------------------------------
# overlaps


def test_leaf_run_held_twice_through_nested_superruns(tmp_path):
    message = error(tmp_path, {"_a": {"runs": [rid(1), rid(2)]}, "_b": {"runs": [rid(2), rid(3)]},
                               "_c": {"runs": ["_a", "_b"]}},
                    "holds the same data twice", "'_a'", "'_b'", rid(2), superrun="_c")
    assert "hold each stretch of time once" in message


def test_overlapping_runs(tmp_path):
    runs = registry(tmp_path, {"a": {"start": 0, "end": 10}, "b": {"start": 5, "end": 15}})
    error(tmp_path, {"_x": {"runs": ["a", "b"]}}, "holds overlapping runs", "run 'a' [0, 10)",
          "run 'b' [5, 15)", runs=runs, superrun="_x")


def test_overlapping_ranges_of_two_superruns(tmp_path):
    error(tmp_path, {"_a": {"ranges": {rid(1): [[start(1), start(1) + 10 * S]]}},
                     "_b": {"ranges": {rid(1): [[start(1) + 5 * S, start(1) + 20 * S]]}},
                     "_c": {"runs": ["_b", "_a"]}},
          "holds the same data twice", "'_a'", "'_b'", superrun="_c")


def test_disjoint_ranges_of_one_run_in_two_superruns(tmp_path):
    d = load(tmp_path, {"_a": {"ranges": {rid(1): [[start(1), start(1) + 10 * S]]}},
                        "_b": {"ranges": {rid(1): [[start(1) + 10 * S, start(1) + 20 * S]]}},
                        "_c": {"runs": ["_b", "_a"]}})
    assert d.sourced_segments("_c") == [("_a", seg(1, start(1), start(1) + 10 * S)),
                                        ("_b", seg(1, start(1) + 10 * S, start(1) + 20 * S))]
    assert d.direct_subruns("_c") == ["_a", "_b"]
    assert d.flat_sub_run_spec("_c") == {rid(1): [[start(1), start(1) + 10 * S],
                                                  [start(1) + 10 * S, start(1) + 20 * S]]}


# --------------------------------------------------------------------------------------
# events


def events_array(rows, with_run_id=True, length_dt=False):
    fields = [("time", np.int64)]
    fields += [("length", np.int32), ("dt", np.int16)] if length_dt else [("endtime", np.int64)]
    if with_run_id:
        fields.append(("run_id", "U6"))
    arr = np.zeros(len(rows), dtype=fields)
    for i, row in enumerate(rows):
        arr["time"][i] = row[0]
        if length_dt:
            arr["length"][i], arr["dt"][i] = (row[1] - row[0]) // 10, 10
        else:
            arr["endtime"][i] = row[1]
        if with_run_id:
            arr["run_id"][i] = row[2]
    return arr


def test_events_npy_windows_padding_merging(tmp_path):
    pad = 1000
    a, b = start(1), start(2)
    rows = [
        (b + 5000, b + 6000, rid(2)),
        (a + 100, a + 200, rid(1)),           # clipped at the run start: window [a, a + 1200)
        (a + 2000, a + 2100, rid(1)),         # padded [a + 1000, a + 3100): overlaps -> merged
        (a + 10_000, a + 10_100, rid(1)),     # alone
        (a + 12_100, a + 12_200, rid(1)),     # padded start a + 11_100 == previous end: merged
        (end(1) - 10, end(1), rid(1)),        # clipped at the run end
    ]
    np.save(tmp_path / "events.npy", events_array(rows))
    d = load(tmp_path, {"_ev": {"events": "events.npy", "pad_ns": pad}})
    assert d.events_file("_ev") == tmp_path / "events.npy"
    assert d.segments("_ev") == [
        seg(1, a, a + 3100), seg(1, a + 9000, a + 13_200), seg(1, end(1) - 1010, end(1)),
        seg(2, b + 4000, b + 7000)]
    assert d.direct_subruns("_ev") == [rid(1), rid(2)]
    assert d.sub_run_spec("_ev") == {rid(1): [[a, a + 3100], [a + 9000, a + 13_200],
                                              [end(1) - 1010, end(1)]],
                                     rid(2): [[b + 4000, b + 7000]]}


def test_events_from_run_and_length_dt(tmp_path):
    a = start(3)
    np.save(tmp_path / "ev.npy", events_array([(a + 100, a + 200), (a + 50, a + 150)],
                                              with_run_id=False, length_dt=True))
    d = load(tmp_path, {"_ev": {"events": "ev.npy", "from_run": rid(3)}})
    assert d.segments("_ev") == [seg(3, a + 50, a + 200)]
    # a run_id column that agrees with from_run is fine; one that does not is an error
    np.save(tmp_path / "ev.npy", events_array([(a + 100, a + 200, rid(3))]))
    assert load(tmp_path, {"_ev": {"events": "ev.npy", "from_run": rid(3)}}).segments("_ev") == [
        seg(3, a + 100, a + 200)]
    d = load(tmp_path, {"_ev": {"events": "ev.npy", "from_run": rid(4)}})
    with pytest.raises(DefinitionError, match="from_run is '000004'"):
        d.segments("_ev")


def test_events_csv(tmp_path):
    a = start(2)
    (tmp_path / "sel").mkdir()
    (tmp_path / "sel" / "ev.csv").write_text(
        f"# selected events\ntime,endtime,run_id,area\n{a + 10},{a + 20},{rid(2)},5.5\n"
        f"{start(4) + 10}, {start(4) + 30} ,{rid(4)},1\n\n")
    d = load(tmp_path, {"_ev": {"events": "sel/ev.csv", "pad_ns": 5}})
    assert d.segments("_ev") == [seg(2, a + 5, a + 25), seg(4, start(4) + 5, start(4) + 35)]
    (tmp_path / "sel" / "ev2.csv").write_text(f"time,length,dt\n{a + 10},3,10\n")
    d = load(tmp_path, {"_ev": {"events": "sel/ev2.csv", "from_run": rid(2)}})
    assert d.segments("_ev") == [seg(2, a + 10, a + 40)]


def test_events_read_lazily_and_missing_file(tmp_path):
    d = load(tmp_path, {"_ev": {"events": "later/made_by_workflow.npy", "from_run": rid(1)},
                        "_outer": {"runs": ["_ev", rid(5)]}, "_plain": {"runs": [rid(2)]}})
    assert d.segments("_plain") == [seg(2)]  # other superruns work without the file
    assert d.events_file("_ev") == tmp_path / "later" / "made_by_workflow.npy"
    with pytest.raises(DefinitionError) as info:
        d.segments("_outer")
    message = str(info.value)
    assert "made_by_workflow.npy does not exist" in message and "'_ev'" in message
    assert str(tmp_path / "superruns.yaml") in message and "fix:" in message
    (tmp_path / "later").mkdir()
    np.save(tmp_path / "later" / "made_by_workflow.npy",
            events_array([(start(1) + 1, start(1) + 2)], with_run_id=False))
    assert d.segments("_outer") == [seg(1, start(1) + 1, start(1) + 2), seg(5)]


@pytest.mark.parametrize("rows, dtype_change, words", [
    ([(start(1) - 10, start(1) + 10, rid(1))], None, ["outside its run '000001'"]),
    ([(start(1) + 10, start(1) + 20, "999999")], None, ["'999999'", "not in the run registry"]),
    ([(start(1) + 20, start(1) + 10, rid(1))], None, ["ends", "before it starts"]),
    ([(start(1) + 20, start(1) + 20, rid(1))], None, ["zero duration", "pad_ns > 0"]),
    ([(start(1) + 10, start(1) + 20, rid(1))], "no_end", ["neither an 'endtime' column"]),
    ([(start(1) + 10, start(1) + 20, rid(1))], "no_run", ["no 'run_id' column and no from_run"]),
    ([(start(1) + 10, start(1) + 20, rid(1))], "int_run", ["not strings"]),
    ([], None, ["holds no events"]),
])
def test_bad_events(tmp_path, rows, dtype_change, words):
    arr = events_array(rows)
    if dtype_change == "no_end":
        arr = arr[["time", "run_id"]]
    elif dtype_change == "no_run":
        arr = arr[["time", "endtime"]]
    elif dtype_change == "int_run":
        new = np.zeros(len(arr), dtype=[("time", np.int64), ("endtime", np.int64), ("run_id", np.int32)])
        new["time"], new["endtime"], new["run_id"] = arr["time"], arr["endtime"], 1
        arr = new
    np.save(tmp_path / "ev.npy", arr)
    d = load(tmp_path, {"_ev": {"events": "ev.npy"}})
    with pytest.raises(DefinitionError) as info:
        d.segments("_ev")
    message = str(info.value)
    assert "superrun '_ev'" in message and str(tmp_path / "superruns.yaml") in message
    assert "ev.npy" in message and "fix:" in message
    for word in words:
        assert word in message, message


def test_events_run_also_in_runs(tmp_path):
    np.save(tmp_path / "ev.npy", events_array([(start(1) + 10, start(1) + 20, rid(1))]))
    d = load(tmp_path, {"_ev": {"events": "ev.npy", "runs": [rid(1)]}})
    with pytest.raises(DefinitionError, match="also in runs:"):
        d.segments("_ev")
    d = load(tmp_path, {"_ev": {"events": "ev.npy", "runs": [rid(2)]}})
    assert d.segments("_ev") == [seg(1, start(1) + 10, start(1) + 20), seg(2)]


# --------------------------------------------------------------------------------------
# validation rules: each error names the file, the superrun, the entry and the fix


def test_name_must_start_with_underscore(tmp_path):
    error(tmp_path, {"background": {"runs": [rid(1)]}}, "does not start with '_'",
          "'_background'", superrun="background")


def test_bad_superrun_name_characters(tmp_path):
    error(tmp_path, {"_bad-name": {"runs": [rid(1)]}}, "'_bad_name'", "rename", superrun="_bad-name")


def test_unknown_run(tmp_path):
    error(tmp_path, {"_a": {"runs": [rid(1), "999999"]}}, "runs[1]", "'999999'",
          "not in the run registry", str(tmp_path / "runs.yaml"), "add it to", superrun="_a")


def test_unknown_superrun(tmp_path):
    error(tmp_path, {"_a": {"runs": ["_nope"]}}, "runs[0]", "no superrun '_nope' is defined",
          "define it", superrun="_a")
    error(tmp_path, {"_a": {"ranges": {"_nope": [[1, 2]]}}}, "ranges['_nope']",
          "no superrun '_nope'", superrun="_a")


def test_self_reference(tmp_path):
    error(tmp_path, {"_a": {"runs": [rid(1), "_a"]}}, "contains itself", "runs[1]", superrun="_a")
    error(tmp_path, {"_a": {"ranges": {"_a": [[1, 2]]}}}, "contains itself", superrun="_a")


def test_cycle_reports_its_path(tmp_path):
    message = error(tmp_path, {"_a": {"runs": ["_b"]}, "_b": {"runs": ["_c", rid(1)]},
                               "_c": {"runs": ["_a"]}},
                    "contain each other", "break the cycle", superrun="_a")
    assert re.search(r"_a -> _b -> _c -> _a|_b -> _c -> _a -> _b|_c -> _a -> _b -> _c", message), message


def test_duplicate_subrun_in_list(tmp_path):
    error(tmp_path, {"_a": {"runs": [rid(1), rid(2), rid(1)]}}, "listed twice", "runs[2]",
          "list each subrun once", superrun="_a")


def test_run_both_whole_and_in_ranges(tmp_path):
    error(tmp_path, {"_a": {"runs": [rid(1)], "ranges": {rid(1): [[start(1), start(1) + 1]]}}},
          "both in runs:", "keep it in one of them", superrun="_a")


@pytest.mark.parametrize("ranges, words", [
    ([[start(1) + 10, start(1) + 20], [start(1), start(1) + 5]], ["starts before the previous", "sort the ranges"]),
    ([[start(1), start(1) + 20], [start(1) + 10, start(1) + 30]], ["overlaps the previous", "merge or separate"]),
    ([[start(1) + 20, start(1) + 10]], ["0 <= start < end", "make start smaller than end"]),
    ([[start(1) + 20, start(1) + 20]], ["0 <= start < end"]),
    ([[start(1) - 1, start(1) + 10]], ["not inside run '000001'", "keep ranges inside"]),
    ([[start(1), end(1) + 1]], ["not inside run '000001'"]),
    ([[float(start(1)), float(start(1) + 10)]], ["pair of ints", "no floats"]),  # schema: 1e18 is an integer
    ([[1.5, 2.5]], ["[start, end] pairs of int ns"]),
    ([[start(1), start(1) + 1, start(1) + 2]], ["[start, end] pairs of int ns"]),
    ([], ["[start, end] pairs of int ns"]),
    ("all", ["[start, end] pairs of int ns", "whole runs go in runs:"]),
])
def test_bad_ranges(tmp_path, ranges, words):
    error(tmp_path, {"_a": {"ranges": {rid(1): ranges}}}, "ranges['000001']", *words, superrun="_a")


def test_flat_pair_is_accepted(tmp_path):
    d = load(tmp_path, {"_a": {"ranges": {rid(1): [start(1), start(1) + 10]}}})
    assert d.get("_a").ranges == {rid(1): ((start(1), start(1) + 10),)}
    assert d.sub_run_spec("_a") == {rid(1): [[start(1), start(1) + 10]]}


def test_no_subruns(tmp_path):
    error(tmp_path, {"_a": {"description": "nothing"}}, "holds no subruns", "add runs:", superrun="_a")
    error(tmp_path, {"_a": {"runs": []}}, "holds no subruns", superrun="_a")
    error(tmp_path, "_a:\n", "not a mapping", "give it runs:", superrun="_a")


def test_unknown_key(tmp_path):
    error(tmp_path, {"_a": {"run": [rid(1)]}}, "'run'", "allowed keys", "runs", superrun="_a")


def test_bad_selection(tmp_path):
    error(tmp_path, {"_a": {"runs": [rid(1)], "selection": "overlapping"}}, "selection",
          "'contained'", "'touching'", superrun="_a")


def test_unquoted_run_id(tmp_path):
    error(tmp_path, "_a:\n  runs: [000001]\n", "runs[0]", "quote", superrun="_a")
    error(tmp_path, "_a:\n  ranges:\n    000001: [[1, 2]]\n", "quote", superrun="_a")


def test_regular_run_ids_never_start_with_underscore(tmp_path):
    error(tmp_path, {"_a": {"events": "x.npy", "from_run": "_b"}, "_b": {"runs": [rid(1)]}},
          "from_run", "starts with '_'", "regular run", superrun="_a")
    error(tmp_path, {"_a": {"runs": ["run-1"]}}, "'-'", superrun="_a")


def test_events_keys(tmp_path):
    error(tmp_path, {"_a": {"events": "x.parquet"}}, "neither .npy nor .csv", superrun="_a")
    error(tmp_path, {"_a": {"runs": [rid(1)], "pad_ns": 5}}, "pad_ns applies only to events:",
          superrun="_a")
    error(tmp_path, {"_a": {"runs": [rid(1)], "from_run": rid(1)}}, "from_run applies only",
          superrun="_a")
    error(tmp_path, {"_a": {"events": "x.npy", "pad_ns": -1}}, "pad_ns", superrun="_a")
    error(tmp_path, {"_a": {"events": "x.npy", "from_run": "999999"}}, "from_run",
          "not in the run registry", superrun="_a")


def test_selection_must_match_when_nesting_cuts(tmp_path):
    cut = {"ranges": {rid(1): [[start(1), start(1) + 10 * S]]}, "selection": "touching"}
    error(tmp_path, {"_in": cut, "_out": {"runs": ["_in", rid(2)]}}, "selection 'contained' differs",
          "'_in'", "same selection", superrun="_out")
    d = load(tmp_path, {"_in": cut, "_out": {"runs": ["_in", rid(2)], "selection": "touching"}})
    assert d.selection("_out") == "touching"
    # whole runs: nothing is cut, so the modes may differ
    d = load(tmp_path, {"_in": {"runs": [rid(1)], "selection": "touching"}, "_out": {"runs": ["_in"]}})
    assert d.segments("_out") == [seg(1)]
    # ...unless the outer superrun cuts the inner one
    error(tmp_path, {"_in": {"runs": [rid(1)], "selection": "touching"},
                     "_out": {"ranges": {"_in": [[start(1), start(1) + 5]]}}}, "differs", superrun="_out")


def test_defined_in_two_files(tmp_path):
    runs = registry(tmp_path)
    first = write_defs(tmp_path, {"_a": {"runs": [rid(1)]}})
    second = write_defs(tmp_path, {"_a": {"runs": [rid(2)]}}, "superruns.d/more.yaml")
    with pytest.raises(DefinitionError) as info:
        Definitions.load([first, tmp_path / "superruns.d"], runs)
    message = str(info.value)
    assert str(first) in message and str(second) in message and "'_a'" in message
    assert "keep one definition" in message


def test_defined_twice_in_one_file(tmp_path):
    path = write_defs(tmp_path, "_a:\n  runs: ['000001']\n_a:\n  runs: ['000002']\n")
    with pytest.raises(DefinitionError) as info:
        Definitions.load([path], registry(tmp_path))
    assert str(path) in str(info.value) and "'_a' appears twice" in str(info.value)


def test_files_and_directories(tmp_path):
    runs = registry(tmp_path)
    main = write_defs(tmp_path, {"_a": {"runs": [rid(1)]}})
    write_defs(tmp_path, {"_c": {"runs": ["_b"]}}, "superruns.d/2_late.yaml")
    write_defs(tmp_path, {"_b": {"runs": [rid(2)]}}, "superruns.d/1_early.yaml")
    write_defs(tmp_path, "not: [valid", "superruns.d/.hidden.yaml")
    write_defs(tmp_path, "ignored", "superruns.d/README.md")
    d = Definitions.load([main, tmp_path / "superruns.d"], runs)
    assert d.names == ["_a", "_b", "_c"]
    assert d.files == (main, tmp_path / "superruns.d" / "1_early.yaml", tmp_path / "superruns.d" / "2_late.yaml")
    assert d.segments("_c") == [seg(2)]
    # a missing directory or file is an error (a misspelt path would hide its definitions)
    with pytest.raises(DefinitionError, match="nowhere.d: this definitions path does not exist"):
        Definitions.load([main, tmp_path / "nowhere.d"], runs)
    with pytest.raises(DefinitionError, match="file not found"):
        Definitions.load([tmp_path / "missing.yaml"], runs)
    # an empty file defines nothing
    empty = write_defs(tmp_path, "# nothing yet\n", "empty.yaml")
    assert Definitions.load([empty], runs).names == []


def test_unknown_superrun_lookup(tmp_path):
    d = load(tmp_path, {"_a": {"runs": [rid(1)]}})
    for call in (d.get, d.segments, d.direct_subruns, d.run_metadata):
        with pytest.raises(UnknownSuperrunError) as info:
            call("_zzz")
        assert isinstance(info.value, KeyError)
        assert "'_zzz'" in str(info.value) and "_a" in str(info.value) and "fix:" in str(info.value)
    with pytest.raises(KeyError, match="regular run"):
        d.get(rid(1))


# --------------------------------------------------------------------------------------
# run metadata


def test_run_metadata(tmp_path):
    from superruns.model.lineage import deterministic_hash

    d = load(tmp_path, {
        "_in": {"runs": [rid(3), rid(2)]},
        "_md": {"description": "metadata", "runs": ["_in"],
                "ranges": {rid(1): [[start(1), start(1) + 10 * S], [start(1) + 20 * S, start(1) + 25 * S]],
                           rid(6): [[start(6) + S, start(6) + 2 * S]]}},
    })
    md = d.run_metadata("_md")
    assert md["name"] == "_md"
    assert md["start"] == start(1) and md["end"] == start(6) + 2 * S
    assert md["livetime"] == pytest.approx(10 + 5 + 100 + 100 + 1) and isinstance(md["livetime"], float)
    assert md["mode"] == ["background", "kr83m"]  # sorted: runs 3 and 6 are kr83m
    assert md["source"] == ["kr83m", "none"]
    assert md["tags"] == ["odd", "sr1"]
    assert md["description"] == "metadata" and md["selection"] == "contained"
    assert md["n_leaf_runs"] == 4
    assert md["sub_run_spec"] == {
        rid(1): [[start(1), start(1) + 10 * S], [start(1) + 20 * S, start(1) + 25 * S]],
        "_in": "all", rid(6): [[start(6) + S, start(6) + 2 * S]]}
    assert list(md["sub_run_spec"]) == [rid(1), "_in", rid(6)]
    assert md["sub_run_spec_flat"] == {
        rid(1): [[start(1), start(1) + 10 * S], [start(1) + 20 * S, start(1) + 25 * S]],
        rid(2): "all", rid(3): "all", rid(6): [[start(6) + S, start(6) + 2 * S]]}
    assert md["sub_run_spec_hash"] == deterministic_hash((md["sub_run_spec_flat"], "contained"))
    assert re.fullmatch(r"[a-z2-7]{10}", md["sub_run_spec_hash"])
    # the hash follows the selection mode and the flat spec, not how it was nested
    flat = load(tmp_path, {
        "_md": {"runs": [rid(2), rid(3)],
                "ranges": {rid(1): [[start(1), start(1) + 10 * S], [start(1) + 20 * S, start(1) + 25 * S]],
                           rid(6): [[start(6) + S, start(6) + 2 * S]]}}})
    assert flat.run_metadata("_md")["sub_run_spec_hash"] == md["sub_run_spec_hash"]
    touching = load(tmp_path, {"_md": {"runs": [rid(2)], "selection": "touching"}})
    contained = load(tmp_path, {"_md": {"runs": [rid(2)]}})
    assert (touching.run_metadata("_md")["sub_run_spec_hash"]
            != contained.run_metadata("_md")["sub_run_spec_hash"])
    assert contained.run_metadata("_md")["livetime"] == 100.0


def test_empty_modes_are_left_out(tmp_path):
    runs = registry(tmp_path, {"a": {"start": 0, "end": 10}, "b": {"start": 10, "end": 20, "mode": "m"}})
    md = load(tmp_path, {"_x": {"runs": ["a", "b"]}}, runs).run_metadata("_x")
    assert md["mode"] == ["m"] and md["source"] == [] and md["tags"] == []


# --------------------------------------------------------------------------------------
# define_run


def test_define_run_list_round_trip(tmp_path):
    runs = registry(tmp_path)
    defs = load(tmp_path, {"_base": {"runs": [rid(1)]}}, runs)
    path = define_run("_new", [rid(3), "_base", rid(2)], directory=tmp_path / "superruns.d",
                      definitions=defs, description="made by a test")
    assert path == tmp_path / "superruns.d" / "_new.yaml"
    text = path.read_text()
    assert text.startswith(DEFINE_RUN_MARKER)
    assert yaml.safe_load(text) == {"_new": {"description": "made by a test",
                                             "runs": ["_base", rid(2), rid(3)]}}  # time order
    again = Definitions.load([tmp_path / "superruns.yaml", tmp_path / "superruns.d"], runs)
    assert again.segments("_new") == [seg(1), seg(2), seg(3)]
    assert again.get("_new").source_file == path
    assert not [p for p in path.parent.iterdir() if p.name != "_new.yaml"]  # no temp files left


def test_define_run_dict_normalises(tmp_path):
    runs = registry(tmp_path)
    data = {rid(2): "all", rid(1): [start(1) + 5, start(1) + 9],
            rid(4): np.array([[start(4) + 50, start(4) + 60], [start(4) + 10, start(4) + 20]])}
    path = define_run("_mixed", data, directory=tmp_path / "d", runs=runs)
    loaded = Definitions.load([path], runs)
    assert loaded.segments("_mixed") == [seg(1, start(1) + 5, start(1) + 9), seg(2),
                                         seg(4, start(4) + 10, start(4) + 20),
                                         seg(4, start(4) + 50, start(4) + 60)]
    body = yaml.safe_load(path.read_text())["_mixed"]
    assert body["ranges"] == {rid(1): [[start(1) + 5, start(1) + 9]],
                              rid(4): [[start(4) + 10, start(4) + 20], [start(4) + 50, start(4) + 60]]}
    assert body["runs"] == [rid(2)]


def test_define_run_from_events(tmp_path):
    runs = registry(tmp_path)
    rows = [(start(2) + 100, start(2) + 200, rid(2)), (start(1) + 100, start(1) + 200, rid(1)),
            (start(1) + 150, start(1) + 300, rid(1))]
    arr = events_array(rows)
    path = define_run("_from_events", arr, directory=tmp_path / "d", runs=runs, pad_ns=10)
    defined = Definitions.load([path], runs)
    # the same as an events: definition read from a file
    np.save(tmp_path / "ev.npy", arr)
    from_file = load(tmp_path, {"_ev": {"events": "ev.npy", "pad_ns": 10}}, runs)
    assert defined.segments("_from_events") == from_file.segments("_ev") == [
        seg(1, start(1) + 90, start(1) + 310), seg(2, start(2) + 90, start(2) + 210)]
    assert "3 events" in defined.get("_from_events").description
    # from_run, length/dt, no run_id column
    arr = events_array([(start(3) + 10, start(3) + 20)], with_run_id=False, length_dt=True)
    path = define_run("_one", arr, directory=tmp_path / "d", runs=runs, from_run=rid(3))
    assert Definitions.load([path], runs).segments("_one") == [seg(3, start(3) + 10, start(3) + 20)]
    with pytest.raises(DefinitionError, match="no 'run_id' column and no from_run"):
        define_run("_two", arr, directory=tmp_path / "d", runs=runs)


def test_define_run_refuses(tmp_path):
    runs = registry(tmp_path)
    directory = tmp_path / "d"

    def refused(*words, **kwargs):
        args = {"name": "_x", "data": [rid(1)], "directory": directory, "runs": runs, **kwargs}
        with pytest.raises(DefinitionError) as info:
            define_run(**args)
        message = str(info.value)
        assert "fix:" in message and "superrun" in message, message
        for word in words:
            assert word in message, message
        return message

    refused("does not start with '_'", "'_nounderscore'", name="nounderscore")
    assert not directory.exists() or not list(directory.iterdir())  # nothing written, no '_' added
    refused("not in the run registry", data=[rid(1), "999999"])
    refused("listed twice", data=[rid(1), rid(1)])
    refused("bare string", "[", data=rid(1))
    refused("overlaps the previous", data={rid(1): [[start(1), start(1) + 10], [start(1) + 5, start(1) + 20]]})
    refused("from_run applies only to an array", from_run=rid(1))
    refused("no run registry", runs=None)
    refused("not a run id", data=[1])
    assert not directory.exists() or not list(directory.iterdir())

    # hand-written file: never overwritten
    directory.mkdir(exist_ok=True)
    (directory / "_x.yaml").write_text("_x:\n  runs: ['000002']  # my notes\n")
    message = refused("not written by define_run", overwrite=True)
    assert str(directory / "_x.yaml") in message
    assert "my notes" in (directory / "_x.yaml").read_text()
    (directory / "_x.yaml").unlink()

    # define_run's own file: only with overwrite=True
    path = define_run("_x", [rid(1)], directory=directory, runs=runs)
    refused("pass overwrite=True")
    define_run("_x", [rid(2)], directory=directory, runs=runs, overwrite=True)
    assert Definitions.load([path], runs).segments("_x") == [seg(2)]


def test_define_run_checks_existing_definitions(tmp_path):
    runs = registry(tmp_path)
    defs = load(tmp_path, {"_a": {"runs": [rid(1), rid(2)]}}, runs)
    with pytest.raises(DefinitionError) as info:
        define_run("_a", [rid(3)], directory=tmp_path / "superruns.d", definitions=defs)
    assert "already defined in" in str(info.value) and str(tmp_path / "superruns.yaml") in str(info.value)
    with pytest.raises(DefinitionError, match="holds the same data twice"):
        define_run("_b", ["_a", rid(2)], directory=tmp_path / "superruns.d", definitions=defs)
    with pytest.raises(DefinitionError, match="no superrun '_c' is defined"):
        define_run("_b", ["_c"], directory=tmp_path / "superruns.d", definitions=defs)
    assert not (tmp_path / "superruns.d").exists() or not list((tmp_path / "superruns.d").iterdir())
    # redefining a define_run file: dependents are checked too
    define_run("_b", [rid(3)], directory=tmp_path / "superruns.d", definitions=defs)
    write_defs(tmp_path, {"_a": {"runs": [rid(1), rid(2)]}, "_c": {"runs": ["_a", "_b"]}})
    defs = Definitions.load([tmp_path / "superruns.yaml", tmp_path / "superruns.d"], runs)
    with pytest.raises(DefinitionError, match="holds the same data twice"):
        define_run("_b", [rid(1)], directory=tmp_path / "superruns.d", definitions=defs, overwrite=True)
    assert yaml.safe_load((tmp_path / "superruns.d" / "_b.yaml").read_text()) == {"_b": {"runs": [rid(3)]}}


def test_define_run_writes_through_the_atomic_helper(tmp_path, monkeypatch):
    """A temp file superruns verify recognises; nothing left behind when the rename fails."""
    import os

    from superruns.base.atomic import is_temp_name, temp_owner_pid

    runs = registry(tmp_path)
    directory = tmp_path / "d"
    renamed = []
    real_link = os.link

    def failing_link(src, dst):  # a new file is hard-linked into place (create-if-absent)
        renamed.append((Path(src).name, Path(dst)))
        raise OSError("disk full")

    monkeypatch.setattr(os, "link", failing_link)
    with pytest.raises(OSError, match="disk full"):
        define_run("_x", [rid(1)], directory=directory, runs=runs)
    assert [dst for _, dst in renamed] == [directory / "_x.yaml"]
    assert is_temp_name(renamed[0][0]) and renamed[0][0].startswith("._x.yaml")
    assert temp_owner_pid(renamed[0][0]) == os.getpid()  # verify tells live writers from dead
    assert list(directory.iterdir()) == []
    monkeypatch.setattr(os, "link", real_link)
    path = define_run("_x", [rid(1)], directory=directory, runs=runs)
    assert [p.name for p in directory.iterdir()] == ["_x.yaml"]
    assert path.read_text().startswith(DEFINE_RUN_MARKER)
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_definition_errors_are_superruns_errors(tmp_path):
    from superruns.base.errors import SuperrunsError

    runs = registry(tmp_path)
    defs = load(tmp_path, {"_a": {"runs": [rid(1)]}}, runs)
    with pytest.raises(SuperrunsError) as info:
        defs.get("_nope")
    assert isinstance(info.value, UnknownSuperrunError) and isinstance(info.value, KeyError)
    assert isinstance(info.value, DefinitionError) and isinstance(info.value, ValueError)
    assert "fix:" in str(info.value) and not str(info.value).startswith('"')
    with pytest.raises(SuperrunsError, match="appears twice"):
        Definitions.load([write_defs(tmp_path, "_a:\n  runs: ['000001']\n  runs: ['000002']\n")],
                         runs)


def test_package_keeps_its_public_names():
    import superruns.definitions as definitions

    for name in ("Definitions", "DefinitionError", "UnknownSuperrunError", "Segment", "Superrun",
                 "define_run", "events_to_windows", "DEFINE_RUN_MARKER", "SELECTIONS"):
        assert name in definitions.__all__ and hasattr(definitions, name), name
    assert definitions.SELECTIONS == ("contained", "touching")


# --------------------------------------------------------------------------------------
# the demo configuration


def test_demo_definitions(tmp_path):
    runs = RunRegistry.load(REPO / "config" / "runs.yaml")
    d = Definitions.load([REPO / "config" / "superruns.yaml", REPO / "config" / "superruns.d"], runs)
    assert {"_background_january", "_background_february", "_sr1_v0.2", "_kr_feb2019"} <= set(d.names)
    assert d.direct_subruns("_sr1_v0.2") == ["_background_january", "_background_february"]
    leaves = d.leaf_runs("_sr1_v0.2")
    assert leaves == [r.run_id for r in runs.sorted_by_start() if r.mode == "background"]
    md = d.run_metadata("_sr1_v0.2")
    assert md["mode"] == ["background"] and md["source"] == ["none"]
    assert md["livetime"] == pytest.approx(sum(runs[r].duration_s for r in leaves))
    kr = d.run_metadata("_kr_feb2019")
    assert kr["mode"] == ["kr83m"] and kr["start"] >= runs["000007"].start
    for name in ("_background_january", "_background_february", "_kr_feb2019"):
        assert all(runs[r].mode == ("kr83m" if "kr" in name else "background") for r in d.leaf_runs(name))
    # the commented examples are valid once uncommented
    text = (REPO / "config" / "superruns.yaml").read_text()
    examples = "\n".join(line[2:] for line in text.splitlines() if line.startswith("# _")
                         or line.startswith("#   "))
    path = write_defs(tmp_path, examples, "examples.yaml")
    ex = Definitions.load([path], runs, base_dir=tmp_path)
    assert len(ex.segments("_minbias_jan3")) == 3
    assert ex.events_file("_dm_candidates") == tmp_path / "selections" / "candidates.npy"


# --------------------------------------------------------------------------------------
# speed (smoke test, generous bound)


def test_ten_thousand_subruns_fast(tmp_path):
    n = 10_000
    runs = RunRegistry([Run(f"{i:06d}", T + i * 10 * S, T + i * 10 * S + 5 * S) for i in range(n)],
                       source="generated")
    ids = [f"{i:06d}" for i in range(n)]
    half = n // 2
    write_defs(tmp_path, {
        "_all": {"runs": ids[::-1]},
        "_first": {"runs": ids[:half]},
        "_outer": {"runs": ["_first"],
                   "ranges": {r: [[T + (half + i) * 10 * S, T + (half + i) * 10 * S + S]]
                              for i, r in enumerate(ids[half:])}},
        "_cut": {"ranges": {"_outer": [[T, T + (n - 1) * 10 * S + S]]}},
    })
    t0 = time.perf_counter()
    d = Definitions.load([tmp_path / "superruns.yaml"], runs)
    segments = d.segments("_all")
    cut = d.segments("_cut")
    md = d.run_metadata("_cut")
    elapsed = time.perf_counter() - t0
    assert len(segments) == n and segments[0].run_id == "000000" and segments[-1].run_id == ids[-1]
    assert len(cut) == n and md["n_leaf_runs"] == n
    assert md["livetime"] == pytest.approx(half * 5 + half * 1)
    assert d.direct_subruns("_all") == ids
    assert elapsed < 5, elapsed
