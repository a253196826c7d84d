"""One job per run (superruns.orchestration.chains) without Snakemake: which data types a run's job makes,
one chain per set of lineage hashes, which runs each may build, how each rule matches exactly
its runs (the run-id pattern, or a guard), and what is left to the rule process."""

from __future__ import annotations

import re

import pytest

from superruns.orchestration.chains import (
    ANY_RUN,
    RunMatch,
    chain_types,
    external_inputs,
    plan_chains,
    plan_runs,
    process_constraints,
    run_match,
    runs_pattern,
)

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


# -- how each rule matches exactly its runs, at a cost that does not grow with the registry ----

def matches(match, run: str, after: str = "/raw_records-abc") -> bool:
    """Whether a rule with this RunMatch's constraint matches ``run`` in a path, as Snakemake
    puts the constraint into the output pattern."""
    return re.fullmatch(f"(?P<run>{match.constraint}){re.escape(after)}", run + after) is not None


EVERY = [f"{i:06d}" for i in range(5000)]


def test_a_rule_of_every_run_names_none():
    match = run_match(EVERY, [])
    assert match == RunMatch(ANY_RUN, guarded=False)
    assert all(matches(match, run) for run in ("000001", "999999")) and not matches(match, "_sr")


@pytest.mark.parametrize("members, others", [
    (EVERY[7:], EVERY[:7]),            # a big chain beside a small one: the few others excluded
    (EVERY[:7], EVERY[7:]),            # the small one: its few runs named
])
def test_a_rule_names_the_few_runs_either_side(members, others):
    match = run_match(members, others)
    assert not match.guarded and len(match.constraint) < 200
    for after in ("/raw_records-abc", "-key.log", ""):     # data files, the log, the bare value
        assert all(matches(match, run, after) for run in members[:50] + members[-50:])
        assert not any(matches(match, run, after) for run in others)
    longer = others[0] + "0"                               # neither a member nor one of the others
    assert matches(match, longer) == (len(members) > len(others))   # any run but the others, or the members


def test_past_the_limit_on_both_sides_the_rule_is_guarded():
    match = run_match(EVERY[:2500], EVERY[2500:], limit=1000)
    assert match == RunMatch(ANY_RUN, guarded=True)


def test_the_constraints_stay_short_whatever_the_registry(project):
    for chain in plan_runs(project, limit=1).chains:       # 2 and 3 runs per chain: guarded
        assert chain.match.guarded and chain.match.constraint == ANY_RUN
        assert all(chain.admits(run) for run in chain.runs) and not chain.admits("nosuch")


def test_process_leaves_the_chains_files_alone(project):
    plan = plan_runs(project)
    assert plan.partial == []
    [(name, pattern)] = process_constraints(plan, project.registry).items()
    assert name == "lineage"
    current = {h for chain in plan.chains for h in chain.hashes.values()}
    for lineage in current:
        assert not re.fullmatch(pattern, lineage) and not re.fullmatch(pattern, lineage + ".log"[:0])
        assert re.fullmatch(pattern, lineage + "0") and re.fullmatch(pattern, lineage[:-1])
    assert re.fullmatch(pattern, "otherlineage")            # another version still finds process


def test_process_makes_the_runs_with_some_of_their_files(project):
    touch(project, "5", "raw_records")
    plan = plan_runs(project)
    assert plan.partial == ["5"]
    constraints = process_constraints(plan, project.registry)
    assert set(constraints) == {"run"}
    assert matches(RunMatch(constraints["run"]), "5")
    assert not any(matches(RunMatch(constraints["run"]), run) for run in ("6", "7", "8", "9", "55"))   # named
    assert all(not chain.admits("5") for chain in plan.chains)
    assert process_constraints(plan_runs(project, limit=0), project.registry, limit=0) == {}   # both many
