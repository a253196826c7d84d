"""One job per run (superruns.orchestration.chains) without Snakemake: which data types a run's job makes,
one chain per set of lineage hashes, which runs each may build, the run-id pattern."""

from __future__ import annotations

import re

import pytest

from superruns.orchestration.chains import chain_types, external_inputs, plan_chains, runs_pattern

CHAIN = ["raw_records", "peaks", "peak_basics", "events", "event_basics", "event_positions", "event_info"]


def test_the_chain_is_every_per_run_type_in_dependency_order(project):
    types = chain_types(project.registry)
    assert sorted(types) == sorted(CHAIN)          # not the superrun-level accidentals, rates
    for position, data_type in enumerate(types):
        assert set(project.registry[data_type].depends_on) <= set(types[:position])
    assert external_inputs(project.registry, types) == []
    assert chain_types(project.registry, "per_data_type") == []


def test_one_chain_per_option_period_each_with_its_runs(project):
    chains = plan_chains(project)
    # The detector's pmt_gains per-run default changes at run 7: two sets of hashes.
    assert sorted(chain.runs for chain in chains) == [["5", "6"], ["7", "8", "9"]]
    for chain in chains:
        for run in chain.runs:
            assert chain.hashes == {dt: project.lineage_hash(run, dt) for dt in chain.hashes}
        assert chain.outputs("5") == {dt: f"5/{dt}-{h}" for dt, h in chain.hashes.items()}
    assert len({chain.key for chain in chains}) == 2
    assert [chain.runs for chain in chains] == [["5", "6"], ["7", "8", "9"]]     # periods in order
    assert [chain.period_name for chain in chains] == ["from_5", "from_7"]       # rule run_chain_from_7
    assert plan_chains(project, "per_data_type") == []


def touch(project, run, data_type):
    path = project.path(run, data_type)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def test_a_run_with_some_of_its_files_is_left_to_one_job_per_data_type(project):
    touch(project, "5", "raw_records")                 # some: another version shares it, say
    for data_type in CHAIN:                            # all: the no-op check of a built run
        touch(project, "8", data_type)
    other = project.path("9", "peaks").with_name("peaks-otherlineage")
    other.parent.mkdir(parents=True, exist_ok=True)
    other.touch()                                      # another version's file only: none
    runs = sorted(run for chain in plan_chains(project) for run in chain.runs)
    assert runs == ["6", "7", "8", "9"]


@pytest.mark.parametrize("runs", [
    ["000001", "000002", "000010", "0000101", "abc"],
    [f"{i:06d}" for i in range(0, 3000, 3)],
    ["8"],
])
def test_runs_pattern_matches_exactly_the_runs(runs):
    pattern = re.compile(runs_pattern(runs))
    for run in runs:
        assert pattern.fullmatch(run), run
    near = {run[:-1] for run in runs} | {run + "0" for run in runs} | {f"{i:06d}" for i in range(1, 3000, 3)}
    for other in near - set(runs):
        assert not pattern.fullmatch(other), other
    assert len(runs_pattern(runs)) < sum(len(run) + 1 for run in runs) + 10


def test_no_runs_match_nothing():
    assert not re.compile(runs_pattern([])).fullmatch("")
    assert not re.compile(runs_pattern([])).fullmatch("000001")
