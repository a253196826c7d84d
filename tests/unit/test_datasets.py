"""Datasets (issue 13): query, set algebra, veto, sample, data quality, the lock, exposure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from superruns.base.intervals import intersect_spans, measure, subtract_spans
from superruns.definitions import DefinitionError, Definitions
from superruns.definitions.lock import LockError
from superruns.definitions.setalgebra import sample_key
from superruns.model.runs import RunRegistry

from support.run_grid import S, end, rid, start


def entry(i: int) -> dict:
    return {"start": start(i), "end": end(i), "mode": "background" if i % 3 else "kr83m",
            "source": "none" if i % 3 else "kr83m",
            "tags": ["sr1"] + (["odd"] if i % 2 else [])}


def setup(tmp_path: Path, superruns: dict, n_runs: int = 8, dq: dict | None = None) -> Path:
    (tmp_path / "config" / "dq").mkdir(parents=True, exist_ok=True)
    (tmp_path / "config" / "runs.yaml").write_text(
        yaml.safe_dump({"runs": {rid(i): entry(i) for i in range(1, n_runs + 1)}}))
    (tmp_path / "config" / "superruns.yaml").write_text(yaml.safe_dump(superruns))
    for version, doc in (dq or {}).items():
        (tmp_path / "config" / "dq" / f"{version}.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def load(root: Path, *, lock: bool = True, mode: str = "check") -> Definitions:
    """The definitions as a run of the workflow loads them: entries locked on first use are
    written (before its first job); reading alone writes nothing."""
    runs = RunRegistry.load(root / "config" / "runs.yaml")
    defs = Definitions.load([root / "config" / "superruns.yaml"], runs, base_dir=root,
                            lock=root / "config" / "superruns.lock.yaml" if lock else None,
                            lock_mode=mode)
    if lock and mode == "check":
        defs.lock.write_pending()
    return defs


def spans(defs: Definitions, name: str) -> dict:
    out: dict = {}
    for seg in defs.segments(name):
        out.setdefault(seg.run_id, []).append([seg.start, seg.end])
    return out


def add_run(root: Path, i: int) -> None:
    path = root / "config" / "runs.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["runs"][rid(i)] = entry(i)
    path.write_text(yaml.safe_dump(doc))


# --------------------------------------------------------------------------------------
# interval operations


def test_span_operations():
    a = [[0, 10], [20, 30]]
    b = [[5, 25]]
    assert intersect_spans(a, b) == [[5, 10], [20, 25]]
    assert subtract_spans(a, b) == [[0, 5], [25, 30]]
    assert subtract_spans(a, [[0, 30]]) == []
    assert subtract_spans(a, [[12, 15]]) == a
    assert measure(a) == 20


# --------------------------------------------------------------------------------------
# query


def test_query_selects_by_every_key(tmp_path):
    root = setup(tmp_path, {"_q": {"query": {"mode": "background", "tags": ["sr1", "odd"],
                                             "exclude_tags": [], "start": start(2),
                                             "end": "2019-01-03T10:30:00Z"}}})
    defs = load(root)
    # odd background runs (1, 5, 7), starting at or after run 2, ending by 10:30 (runs <= 8)
    assert defs.leaf_runs("_q") == ["000005", "000007"]
    assert defs.sub_run_spec("_q") == {"000005": "all", "000007": "all"}


def test_an_empty_query_names_the_filter_that_removed_the_last_run(tmp_path):
    root = setup(tmp_path, {"_q": {"query": {"mode": "kr83m", "tags": ["odd"], "source": "none"}}})
    with pytest.raises(DefinitionError) as info:
        load(root)
    text = str(info.value)
    assert "superruns.yaml" in text and "'_q'" in text
    assert "source in ['none'] removed the last 2 run(s)" in text  # kr83m: runs 3 and 6
    assert not (root / "config" / "superruns.lock.yaml").exists()


@pytest.mark.parametrize("query, words", [
    ({"mode": "background", "colour": "red"}, "unknown query key 'colour'"),
    ({"tags": 3}, "tags: 3 is not a string or a list"),
    ({"start": "yesterday"}, "start:"),
    ({"dq": {"version": "v1", "needs": ["tpc"]}}, "dq:"),
])
def test_bad_query_keys_are_refused(tmp_path, query, words):
    root = setup(tmp_path, {"_q": {"query": query}})
    with pytest.raises(DefinitionError, match="superrun '_q', query") as info:
        load(root)
    assert words in str(info.value)


# --------------------------------------------------------------------------------------
# set algebra, veto, sample


def test_union_intersection_difference(tmp_path):
    half = [start(2), start(2) + 50 * S]
    root = setup(tmp_path, {
        "_a": {"runs": [rid(1), rid(2)]},
        "_b": {"ranges": {rid(2): [half]}, "runs": [rid(3)]},
        "_u": {"union": ["_a", "_b"]},
        "_i": {"intersection": ["_a", "_b"]},
        "_d": {"difference": ["_a", "_b"]},
        "_nested": {"union": ["_d", rid(4)]},
    })
    defs = load(root)
    assert spans(defs, "_u") == {rid(1): [[start(1), end(1)]], rid(2): [[start(2), end(2)]],
                                 rid(3): [[start(3), end(3)]]}
    assert spans(defs, "_i") == {rid(2): [half]}
    assert spans(defs, "_d") == {rid(1): [[start(1), end(1)]], rid(2): [[half[1], end(2)]]}
    assert defs.sub_run_spec("_d") == {rid(1): "all", rid(2): [[half[1], end(2)]]}
    assert defs.leaf_runs("_nested") == [rid(1), rid(2), rid(4)]
    assert defs.direct_subruns("_u") == [rid(1), rid(2), rid(3)]  # built from the leaf runs
    assert defs.run_metadata("_d")["livetime"] == 150.0


def test_set_operations_on_unknown_names_and_cycles_are_refused(tmp_path):
    root = setup(tmp_path, {"_u": {"union": ["_a", "_missing"]}, "_a": {"runs": [rid(1)]}})
    with pytest.raises(DefinitionError, match=r"union\[1\] '_missing': no superrun '_missing'"):
        load(root)
    root = setup(tmp_path, {"_u": {"union": ["_v"]}, "_v": {"difference": ["_u", rid(1)]}})
    with pytest.raises(DefinitionError, match="contain each other: _u -> _v -> _u|_v -> _u -> _v"):
        load(root)


def test_an_empty_intersection_is_refused(tmp_path):
    root = setup(tmp_path, {"_a": {"runs": [rid(1)]}, "_b": {"runs": [rid(2)]},
                            "_i": {"intersection": ["_a", "_b"]}})
    with pytest.raises(DefinitionError, match="superrun '_i', intersection: .* holds no time"):
        load(root)


def test_veto_mapping_and_exposure(tmp_path):
    veto = [start(1) + 10 * S, start(1) + 40 * S]
    root = setup(tmp_path, {"_v": {"runs": [rid(1), rid(2)], "veto": {rid(1): [veto]}}})
    md = load(root).run_metadata("_v")
    assert md["livetime"] == 170.0
    assert md["exposure"]["vetoed"] == 30.0
    assert md["exposure"]["span"] == (end(2) - start(1)) / S
    assert md["exposure"]["per_subrun"] == {rid(1): {"livetime": 70.0, "vetoed": 30.0, "dq_cut": 0.0},
                                            rid(2): {"livetime": 100.0, "vetoed": 0.0, "dq_cut": 0.0}}
    assert md["sub_run_spec"][rid(1)] == [[start(1), veto[0]], [veto[1], end(1)]]


def test_veto_file(tmp_path):
    root = setup(tmp_path, {"_v": {"runs": [rid(1)], "veto": "vetoes.csv"}})
    (root / "vetoes.csv").write_text(f"time,endtime,run_id\n{start(1)},{start(1) + S},{rid(1)}\n")
    assert load(root).run_metadata("_v")["livetime"] == 99.0
    (root / "vetoes.csv").write_text(f"time,endtime,run_id\n{start(1)},{end(1) + S},{rid(1)}\n")
    with pytest.raises(DefinitionError, match="superrun '_v', veto: veto file .*vetoes.csv"):
        load(root)
    (root / "vetoes.csv").write_text("time,run_id\n1,2\n")
    with pytest.raises(DefinitionError, match="superrun '_v', veto: veto file"):
        load(root)


def test_vetoes_outside_their_runs_and_total_vetoes_are_refused(tmp_path):
    root = setup(tmp_path, {"_v": {"runs": [rid(1)], "veto": {rid(1): [[end(1), end(1) + S]]}}})
    with pytest.raises(DefinitionError, match=r"veto\['000001'\]: veto .* is not inside run"):
        load(root)
    root = setup(tmp_path, {"_v": {"runs": [rid(1)], "veto": {rid(1): [[start(1), end(1)]]}}})
    with pytest.raises(DefinitionError, match="remove everything"):
        load(root)


def test_sample_is_deterministic_and_stable_as_runs_are_added(tmp_path):
    sr = {"_s": {"query": {"tags": ["sr1"]}, "sample": {"fraction": 0.5, "seed": 7}}}
    small = load(setup(tmp_path / "a", sr, n_runs=40), lock=False).leaf_runs("_s")
    large = load(setup(tmp_path / "b", sr, n_runs=80), lock=False).leaf_runs("_s")
    assert small == [r for r in large if int(r) <= 40]
    assert small == [rid(i) for i in range(1, 41) if sample_key(rid(i), 7) < 0.5]
    assert 10 < len(small) < 30


@pytest.mark.parametrize("sample", [{"fraction": 0}, {"fraction": 1.5}, {"fraction": "a"},
                                    {"fraction": 0.1, "seed": 1.5}, {"seed": 1}])
def test_bad_sample_is_refused(tmp_path, sample):
    root = setup(tmp_path, {"_s": {"runs": [rid(1)], "sample": sample}})
    with pytest.raises(DefinitionError, match="superrun '_s', sample"):
        load(root)


# --------------------------------------------------------------------------------------
# data quality


DQ = {"subsystems": ["tpc", "veto"],
      "runs": {rid(1): {"tpc": "good", "veto": "good"}, rid(2): {"tpc": "good", "veto": "bad"},
               rid(4): {"tpc": "bad"}, rid(5): {"tpc": "good"}},
      "defects": {"tpc": [[start(1) + 5 * S, start(1) + 15 * S]], "veto": [[start(5), end(5)]]}}


def test_dq_keeps_good_runs_and_vetoes_defects(tmp_path):
    root = setup(tmp_path, {"_tpc": {"query": {"dq": {"version": "v1", "require": ["tpc"]}}},
                            "_both": {"query": {"dq": {"version": "v1", "require": ["tpc", "veto"]}}}},
                 dq={"v1": DQ})
    defs = load(root)
    assert defs.leaf_runs("_tpc") == [rid(1), rid(2), rid(5)]  # 3 unknown, 4 bad
    md = defs.run_metadata("_tpc")
    assert md["exposure"]["vetoed"] == 10.0 and md["livetime"] == 290.0
    assert md["exposure"]["dq_cut"] == 10.0 and md["exposure"]["per_subrun"][rid(1)]["dq_cut"] == 10.0
    assert md["dq"]["version"] == "v1"
    assert defs.leaf_runs("_both") == [rid(1)]


def test_unknown_dq_version_or_subsystem_is_refused(tmp_path):
    root = setup(tmp_path, {"_q": {"query": {"dq": {"version": "v9", "require": ["tpc"]}}}},
                 dq={"v1": DQ})
    with pytest.raises(DefinitionError, match=r"query.dq: .*no data-quality version 'v9' \(known: v1\)"):
        load(root)
    root = setup(tmp_path, {"_q": {"query": {"dq": {"version": "v1", "require": ["pmt"]}}}},
                 dq={"v1": DQ})
    with pytest.raises(DefinitionError, match="has no subsystem 'pmt'"):
        load(root)


def test_dq_edit_changes_the_spec_hash_of_what_uses_it_only(tmp_path):
    root = setup(tmp_path, {"_v1": {"query": {"dq": {"version": "v1", "require": ["tpc"]}}},
                            "_v2": {"query": {"dq": {"version": "v2", "require": ["tpc"]}}}},
                 dq={"v1": DQ, "v2": DQ})
    before = {n: load(root).run_metadata(n)["sub_run_spec_hash"] for n in ("_v1", "_v2")}
    edited = dict(DQ, defects={"tpc": [[start(1) + 5 * S, start(1) + 16 * S]]})
    (root / "config" / "dq" / "v1.yaml").write_text(yaml.safe_dump(edited))
    after = {n: load(root).run_metadata(n)["sub_run_spec_hash"] for n in ("_v1", "_v2")}
    assert after["_v1"] != before["_v1"] and after["_v2"] == before["_v2"]


# --------------------------------------------------------------------------------------
# the lock


def test_lock_on_first_use_then_refuse_a_grown_registry(tmp_path, capsys):
    root = setup(tmp_path, {"_q": {"query": {"tags": ["odd"]}}}, n_runs=6)
    lock = root / "config" / "superruns.lock.yaml"
    assert load(root).leaf_runs("_q") == [rid(1), rid(3), rid(5)]
    assert "locked _q to 3 run(s)" in capsys.readouterr().err
    assert yaml.safe_load(lock.read_text())["superruns"]["_q"]["runs"] == [rid(1), rid(3), rid(5)]
    add_run(root, 7)
    with pytest.raises(LockError) as info:
        load(root)
    text = str(info.value)
    assert "runs added: 000007; runs removed: none" in text
    assert "superruns lock --update _q" in text
    # live mode (superruns diff/lock) resolves from the registry and changes nothing
    live = load(root, mode="live")
    assert live.live_runs["_q"] == [rid(1), rid(3), rid(5), rid(7)]
    assert yaml.safe_load(lock.read_text())["superruns"]["_q"]["runs"] == [rid(1), rid(3), rid(5)]


def test_a_locked_run_that_disappears_stops_the_parse(tmp_path):
    root = setup(tmp_path, {"_q": {"query": {"tags": ["odd"]}}}, n_runs=6)
    load(root)
    doc = yaml.safe_load((root / "config" / "runs.yaml").read_text())
    del doc["runs"][rid(3)]
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(LockError, match="runs removed: 000003 .no longer in the registry: 000003"):
        load(root)


def test_a_hand_edited_lock_is_refused(tmp_path):
    root = setup(tmp_path, {"_q": {"query": {"tags": ["odd"]}}}, n_runs=6)
    load(root)
    lock = root / "config" / "superruns.lock.yaml"
    lock.write_text(lock.read_text().replace("'000005'", "'000004'"))
    with pytest.raises(LockError, match="'_q': the entry does not match its hash"):
        load(root)


def test_a_changed_query_stops_the_parse(tmp_path):
    root = setup(tmp_path, {"_q": {"query": {"tags": ["odd"]}}}, n_runs=6)
    load(root)
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump({"_q": {"query": {"tags": ["sr1"]}}}))
    with pytest.raises(LockError, match="its definition changed since it was locked"):
        load(root)


def test_select_runs_matches_the_query(tmp_path):
    from superruns.definitions.query import select_runs

    runs = RunRegistry.load(setup(tmp_path, {"_a": {"runs": [rid(1)]}}) / "config" / "runs.yaml")
    rows = select_runs(runs, mode=["kr83m"])
    assert [r["name"] for r in rows] == [rid(3), rid(6)]
    assert set(rows[0]) >= {"name", "start", "end", "mode", "source", "tags", "livetime"}


def test_events_superruns_in_set_operations(tmp_path):
    root = setup(tmp_path, {"_ev": {"events": "ev.npy", "pad_ns": 0}, "_u": {"union": ["_ev", rid(2)]}})
    ev = np.zeros(1, dtype=[("time", "i8"), ("endtime", "i8"), ("run_id", "U6")])
    ev[0] = (start(1) + S, start(1) + 2 * S, rid(1))
    np.save(root / "ev.npy", ev)
    defs = load(root)
    assert spans(defs, "_u") == {rid(1): [[start(1) + S, start(1) + 2 * S]], rid(2): [[start(2), end(2)]]}


def test_dependents_follow_operands_and_resolved_runs(tmp_path):
    root = setup(tmp_path, {"_q": {"query": {"tags": ["odd"]}}, "_a": {"runs": [rid(2)]},
                            "_u": {"union": ["_q", "_a"]}}, n_runs=4)
    defs = load(root, lock=False)
    assert defs.dependents(rid(1)) == ["_q", "_u"]
    assert defs.dependents("_a") == ["_u"]
    assert defs.resolved("_u").runs == (rid(1), rid(2), rid(3))


def test_lock_command_reports_updates_and_prunes(tmp_path):
    from superruns.definitions.lock import diff_report, lock_report

    root = setup(tmp_path, {"_q": {"query": {"tags": ["odd"]}}, "_old": {"query": {"tags": ["sr1"]}}},
                 n_runs=4)
    load(root)                                   # both locked on first use
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump({"_q": {"query": {"tags": ["odd"]}}}))
    add_run(root, 5)
    live = load(root, mode="live")
    live_runs = live.locked_superruns()
    differs, lines = diff_report(live.lock, live_runs["_q"][0], live_runs["_q"][1], live.runs)
    assert differs and "runs added: 000005" in lines[0]
    report = lock_report(live.lock, live_runs, live.runs)
    assert any("_q: DIFFERS" in line for line in report)
    assert any("_old: kept" in line for line in report)
    report = lock_report(live.lock, live_runs, live.runs, update=["_q"], prune=True)
    assert "_q: updated: 3 run(s)" in report and "_old: removed (no longer a query or sample superrun)" in report
    assert load(root).leaf_runs("_q") == [rid(1), rid(3), rid(5)]
    assert "_old" not in yaml.safe_load((root / "config" / "superruns.lock.yaml").read_text())["superruns"]


def test_the_parse_stop_lists_every_superrun_that_differs(tmp_path):
    root = setup(tmp_path, {"_odd": {"query": {"tags": ["odd"]}}, "_all": {"query": {"tags": ["sr1"]}},
                            "_kr": {"query": {"mode": "kr83m"}}}, n_runs=4)
    load(root)
    add_run(root, 5)     # odd, sr1, background: _odd and _all differ, _kr does not
    with pytest.raises(LockError) as info:
        load(root)
    text = str(info.value)
    assert "'_all' is locked to 4 run(s)" in text and "'_odd' is locked to 2 run(s)" in text
    assert "_kr" not in text
    assert "superruns lock --update _all _odd" in text


def test_a_sampled_query_locks_the_sampled_runs(tmp_path):
    sr = {"_s": {"query": {"tags": ["sr1"]}, "sample": {"fraction": 0.5, "seed": 3}}}
    root = setup(tmp_path, sr, n_runs=20)
    held = load(root).leaf_runs("_s")
    lock = yaml.safe_load((root / "config" / "superruns.lock.yaml").read_text())
    assert lock["superruns"]["_s"]["runs"] == held and 0 < len(held) < 20
    new = next(i for i in range(21, 200) if sample_key(rid(i), 3) < 0.5)
    add_run(root, new)
    with pytest.raises(LockError, match=f"runs added: {rid(new)}"):
        load(root)


def test_the_demo_datasets_match_their_lock_and_the_readme():
    repo = Path(__file__).resolve().parents[2]
    runs = RunRegistry.load(repo / "config" / "runs.yaml")
    lock = repo / "config" / "superruns.lock.yaml"
    before = lock.read_text()
    defs = Definitions.load([repo / "config" / "superruns.yaml", repo / "config" / "superruns.d"],
                            runs, base_dir=repo, lock=lock)
    assert lock.read_text() == before                      # locked, nothing to add
    md = defs.run_metadata("_sr1_clean")
    assert md["livetime"] == 1240.0 and md["exposure"]["vetoed"] == 50.0
    assert md["exposure"]["dq_cut"] == 20.0          # of 000007 (DQ v1); the 30 s of 000003: veto:
    assert md["exposure"]["per_subrun"]["000003"] == {"livetime": 210.0, "vetoed": 30.0, "dq_cut": 0.0}
    assert defs.leaf_runs("_sr1_clean") == ["000001", "000002", "000003", "000007", "000009", "000011"]
    assert defs.run_metadata("_sr1_without_kr")["sub_run_spec_flat"] == md["sub_run_spec_flat"]
    assert defs.run_metadata("_sr1_all")["livetime"] == 1780.0
