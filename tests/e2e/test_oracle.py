"""End to end against an independent oracle: random superrun definitions of every kind
(runs, ranges, events, nesting, query with DQ, union/intersection/difference, veto inline and
from a table, sample; at run edges, touching, overlapping), built with real snakemake, and for
each superrun and data type the rows (bytes), the run document (livetime, exposure, flat
sub_run_spec) and the chunks' ``subruns`` compared with tests/support/oracle.py, a separate
reading of docs/design.md and docs/datasets.md. Definitions that hold nothing are refused
when snakemake parses the workflow, naming the superrun.

The regular runs are built once per session; each example is a batch of definitions written
to ``config/superruns.d/`` and built by one snakemake. A failure prints the batch (hypothesis
shrinks it), and the message names the superrun, the data type, how many rows differ and the
definitions it depends on, as YAML. ``benchmarks/oracle_bench.py`` runs the same at a larger
size.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from support.oracle import Refused
from support.oracle_check import DATA_TYPES, build, check_batch, start_session, write_batch
from support.oracle_draws import Batch, batches, empty_cases
from support.workflows import SECOND

pytestmark = pytest.mark.e2e

BATCHES = 10                    # hypothesis examples, one snakemake each
BATCH_SIZE = (28, 36)           # definitions per batch
MIN_DEFINITIONS = 200           # checked per run of the test, at least
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]


@pytest.fixture(scope="session")
def oracle_session(tmp_path_factory):
    return start_session(tmp_path_factory.mktemp("oracle"))


def test_every_kind_of_superrun_holds_what_the_oracle_says(oracle_session, capsys):
    """Batches of drawn definitions, each built by one snakemake, every superrun and data
    type as the oracle says; at least MIN_DEFINITIONS of them per run."""
    done = {"definitions": 0, "batches": 0, "drawn": 0, "examples": 0, "snakemake": 0.0}

    @settings(max_examples=BATCHES, deadline=None, suppress_health_check=SLOW, print_blob=True)
    @given(st.data())
    def built_batch_matches(data):
        batch = data.draw(batches(oracle_session.universe, *BATCH_SIZE), label="batch")
        done["drawn"] += len(batch.definitions)
        done["examples"] += 1
        done["snakemake"] += build(oracle_session.flow, batch)
        check_batch(oracle_session, batch)
        done["definitions"] += len(batch.definitions)
        done["batches"] += 1

    started = time.monotonic()
    try:
        built_batch_matches()
    finally:    # also when it fails: how much was drawn (shrinking included) and how long
        with capsys.disabled():
            print(f"\noracle: {done['definitions']} definitions matched in {done['batches']} batches; "
                  f"{done['drawn']} drawn in {done['examples']} examples (shrinking included), "
                  f"{len(DATA_TYPES)} data types each, {time.monotonic() - started:.0f} s "
                  f"(snakemake {done['snakemake']:.0f} s)")
    assert done["definitions"] >= MIN_DEFINITIONS


@settings(max_examples=8, deadline=None, suppress_health_check=SLOW)
@given(data=st.data())
def test_a_definition_that_holds_nothing_is_refused_at_parse_time(oracle_session, data):
    """A query, set operation, veto, sample or range of a superrun that holds nothing stops
    the parse (a dry run) naming the superrun, with no traceback and no lock written."""
    batch, name = data.draw(empty_cases(oracle_session.universe), label="case")
    oracle = batch.oracle(oracle_session.registry)
    with pytest.raises(Refused):
        oracle.held(name)
    flow = oracle_session.flow
    write_batch(flow, batch)
    result = flow.snakemake("-n", "000001/peaks", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0, f"snakemake accepted {name}:\n{batch.text()}"
    assert f"superrun {name!r}" in text, text[-2000:]
    assert "Traceback" not in text, text[-2000:]
    assert not (flow.root / "config" / "superruns.lock.yaml").exists()


def test_the_issues_examples_hold_what_the_oracle_says(oracle_session):
    """Issue 21's cases, drawn or not: a veto in a ``runs:`` superrun cuts its rows, and a
    query or set operation keeps the rows a plain superrun of the same runs keeps at run
    edges (000003's data begin before its registry start)."""
    start = oracle_session.registry["000001"]["start"]
    batch = Batch(definitions={
        "_v": {"runs": ["000001"], "veto": {"000001": [[start + 10 * SECOND, start + 20 * SECOND]]}},
        "_plain": {"runs": ["000003"]},
        "_query": {"query": {"mode": "kr83m"}},
        "_union": {"union": ["000003", "_v"]},
    })
    build(oracle_session.flow, batch)
    check_batch(oracle_session, batch)
