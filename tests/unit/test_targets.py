"""Short targets of the standalone workflow: which names are expanded under data_dir."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from superruns.orchestration.targets import expand_short_targets, full_target, with_full_targets


class FakeProject:
    registry = {"peaks", "event_info"}
    runs = {"000001"}
    definitions = {"_sr"}

    @staticmethod
    def is_superrun(run_id):
        return run_id.startswith("_")

    @staticmethod
    def relative_path(run_id, data_type):
        return f"{run_id}/{data_type}-{'h' + run_id.strip('_')[:2]}"     # a lineage per run


@dataclass(frozen=True)
class FakeDAGSettings:
    targets: frozenset = frozenset()
    forcerun: frozenset = frozenset()
    until: frozenset = frozenset()
    omit_from: frozenset = frozenset()
    forceall: bool = False


@pytest.mark.parametrize("target, expected", [
    ("_sr/peaks", "data/_sr/peaks-hsr"),                  # the current lineage's file
    ("000001/event_info", "data/000001/event_info-h00"),
    ("_sr/peaks-abc123", "data/_sr/peaks-abc123"),        # a given lineage: as named
    ("_sr/peaks-ABC", "_sr/peaks-ABC"),                   # not a lineage hash: as given
    ("summary/_sr/peaks.html", "data/summary/_sr/peaks.html"),
    ("selections/lowE.npy", "data/selections/lowE.npy"),
    ("logs/process/000001/peaks.log", "data/logs/process/000001/peaks.log"),
    ("data/_sr/peaks", "data/_sr/peaks-hsr"),        # the full path: the current lineage too
    ("data/_sr/peaks-abc123", "data/_sr/peaks-abc123"),
    ("data/results/x", "data/results/x"),            # not ours: as given
    ("_nosuch/peaks", "_nosuch/peaks"),              # unknown superrun: as given
    ("000001/nosuch", "000001/nosuch"),              # unknown data type
    ("all", "all"),                                  # a rule name
    ("results/size.txt", "results/size.txt"),
    ("/abs/_sr/peaks", "/abs/_sr/peaks"),
    ("/scratch/data/_sr/peaks", "/scratch/data/_sr/peaks"),    # data_dir is relative: not it
])
def test_full_target(target, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert full_target(target, "data", FakeProject()) == expected


def test_data_dir_here_or_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert full_target("_sr/peaks", ".", FakeProject()) == "_sr/peaks-hsr"
    assert full_target("_sr/peaks", "/scratch/d", FakeProject()) == "/scratch/d/_sr/peaks-hsr"
    assert full_target("./_sr//peaks", "d", FakeProject()) == "d/_sr/peaks-hsr"
    assert full_target("/scratch/d/_sr/peaks", "/scratch/d", FakeProject()) == "/scratch/d/_sr/peaks-hsr"
    assert full_target(str(tmp_path / "d" / "_sr" / "peaks"), "d", FakeProject()) == "d/_sr/peaks-hsr"


def test_existing_file_is_left_as_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("_sr").mkdir()
    Path("_sr/peaks").write_text("")
    assert full_target("_sr/peaks", "data", FakeProject()) == "_sr/peaks"
    assert full_target("_sr/peaks", "/scratch/d", FakeProject()) == "_sr/peaks"


def test_dag_settings_name_full_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = FakeDAGSettings(targets=frozenset({"_sr/peaks", "all"}),
                               forcerun=frozenset({"000001/peaks"}), forceall=True)
    full = with_full_targets(settings, "d", FakeProject())
    assert full.targets == {"d/_sr/peaks-hsr", "all"} and full.forcerun == {"d/000001/peaks-h00"}
    assert full.until == frozenset() and full.forceall is True


def test_wrapper_rewrites_before_the_dag_is_prepared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    seen = []
    workflow = SimpleNamespace(dag_settings=None)
    workflow._prepare_dag = lambda **kwargs: seen.append((workflow.dag_settings.targets, kwargs))
    expand_short_targets(workflow, "data", FakeProject())
    # Snakemake sets the settings after the Snakefile is parsed, then prepares the DAG.
    workflow.dag_settings = FakeDAGSettings(targets=frozenset({"_sr/event_info"}))
    workflow._prepare_dag(forceall=False)
    assert seen == [({"data/_sr/event_info-hsr"}, {"forceall": False})]
