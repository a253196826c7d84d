"""The end-to-end oracle's workflow: regular runs built once, then each drawn batch of
definitions written to ``config/superruns.d/``, built by one ``snakemake`` and compared,
superrun by superrun and data type by data type, with the independent oracle
(tests/support/oracle.py): the rows (bytes), the run document (start, end, livetime, flat
sub_run_spec, exposure) and the chunks' ``subruns``.

Only the package's public face is used: ``superruns.load``, ``superruns.iter_chunks``,
``superruns.run_metadata``, ``superruns.Project`` and ``superruns.storage.DataFile``.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

import superruns
from superruns.storage import DataFile

from support.oracle import (
    Oracle,
    disk_readers,
    expected_chunk_spans,
    expected_document,
    expected_rows,
    keeps,
    merge,
    row_end,
)
from support.oracle_draws import Batch, Universe
from support.workflows import Workflow, run_entry

DATA_TYPES = ("peaks", "event_info")      # two kinds: rows with length/dt, rows with endtime
# start [s after T0], duration [s], mode, source, tags. 000001 and 000002 touch.
RUNS = {"000001": (0, 30, "background", "none", ["sr1"]),
        "000002": (30, 20, "background", "none", ["sr1", "low_rate"]),
        "000003": (60, 45, "kr83m", "kr83m", ["cal"]),
        "000004": (110, 25, "background", "none", ["sr1"]),
        "000005": (140, 20, "background", "ambe", ["sr2"])}
# Runs 000003 and 000004 have data beyond their registry span (support.edge_detector.REACH),
# as imported strax data often begin before the run document: a run held whole keeps every
# row of its file, a range at its registry edge only the rows the selection rule keeps there.
PLUGINS = ["support.edge_detector"]


class BuildFailed(AssertionError):
    """snakemake refused or failed a batch the oracle accepts."""


class ExtraRows(AssertionError):
    """A superrun holds rows the oracle does not keep."""


class MissingRows(AssertionError):
    """A superrun lacks rows the oracle keeps."""


class RowsDiffer(AssertionError):
    """The same rows, in another order or count."""


class DocumentDiffers(AssertionError):
    """start, end, livetime, the flat sub_run_spec or the exposure differ."""


class ChunksDiffer(AssertionError):
    """The chunks' ``subruns`` do not say what the superrun holds."""


#: Which problem a failing batch raises first (hypothesis shrinks towards it).
SEVERITY = (ExtraRows, MissingRows, RowsDiffer, DocumentDiffers, ChunksDiffer)


@dataclass
class Session:
    """The built regular runs: the registry, each run's rows and file span per data type."""

    flow: Workflow
    registry: dict
    rows: dict
    file_spans: dict
    universe: Universe


def start_session(root: Path) -> Session:
    """Build every run's data types (one snakemake) with the edge detector's plugins (the
    snakemake processes find ``support`` through PYTHONPATH, as this process does)."""
    tests_dir = str(Path(__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [tests_dir, os.environ.get("PYTHONPATH")]))
    flow = Workflow(root)
    registry = {r: run_entry(start, duration, mode, source, tags)
                for r, (start, duration, mode, source, tags) in RUNS.items()}
    flow.write(registry, {}, plugins=PLUGINS)
    flow.snakemake(*[f"{r}/{dt}" for r in RUNS for dt in DATA_TYPES])
    project = superruns.Project.from_file(root / "config" / "config.yaml")
    rows = {(r, dt): superruns.load(r, dt, project=project) for r in RUNS for dt in DATA_TYPES}
    spans = {(r, dt): _file_span(flow, r, dt) for r in RUNS for dt in DATA_TYPES}
    reaching = [r for r in RUNS if (rows[r, "peaks"]["time"] < registry[r]["start"]).any()
                and (row_end(rows[r, "peaks"]) > registry[r]["end"]).any()]
    assert reaching == ["000003", "000004"], f"rows beyond the registry span expected, found {reaching}"
    return Session(flow, registry, rows, spans, universe(registry, rows))


def _file_span(flow: Workflow, run_id: str, data_type: str) -> tuple[int, int]:
    metadata = DataFile(flow.file(run_id, data_type)).metadata
    return int(metadata["start"]), int(metadata["end"])


def universe(registry: dict, rows: dict) -> Universe:
    """Scopes: registry edges, row edges +-1 ns and middles, a few uniform times, in the run."""
    rng = np.random.default_rng(0)
    scope, events, peaks = {}, {}, {}
    for r, run in registry.items():
        s, e = run["start"], run["end"]
        parts = [np.array([s, e]), rng.integers(s, e, 20)]
        for dt in DATA_TYPES:
            t, end = rows[r, dt]["time"].astype(np.int64), row_end(rows[r, dt])
            parts += [t, end, t - 1, t + 1, end - 1, end + 1, (t + end) // 2]
        times = np.unique(np.concatenate(parts))
        scope[r] = times[(times >= s) & (times <= e)]
        inside = {dt: rows[r, dt][(rows[r, dt]["time"] >= s) & (row_end(rows[r, dt]) <= e)]
                  for dt in DATA_TYPES}
        events[r] = inside["event_info"][["time", "endtime"]]
        peaks[r] = inside["peaks"][["time", "length", "dt"]]
    return Universe(registry, scope, events, peaks)


# -- one batch -------------------------------------------------------------------------------


def write_batch(flow: Workflow, batch: Batch) -> None:
    """A clean slate (no superrun data, no lock: query superruns lock on first use), then the
    batch's definitions, tables and DQ versions."""
    config = flow.root / "config"
    for path in [*config.glob("superruns.d/*.yaml"), config / "superruns.lock.yaml"]:
        path.unlink(missing_ok=True)
    for folder in [config / "tables", config / "dq", *flow.data.glob("_*")]:
        shutil.rmtree(folder, ignore_errors=True)
    (config / "tables").mkdir()
    (config / "dq").mkdir()
    (config / "superruns.d" / "batch.yaml").write_text(yaml.safe_dump(batch.definitions))
    for version, doc in batch.dq.items():
        (config / "dq" / f"{version}.yaml").write_text(yaml.safe_dump(doc))
    for path, table in batch.tables.items():
        _write_table(flow.root / path, table)


def _write_table(path: Path, table: np.ndarray) -> None:
    if path.suffix == ".npy":
        np.save(path, table)
        return
    with open(path, "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(table.dtype.names)
        writer.writerows(table.tolist())


def build(flow: Workflow, batch: Batch) -> float:
    """One snakemake for every superrun and data type of the batch; its wall time."""
    write_batch(flow, batch)
    started = time.monotonic()
    result = flow.snakemake(*[f"{n}/{dt}" for n in batch.definitions for dt in DATA_TYPES], check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise BuildFailed(f"snakemake failed on definitions the oracle accepts:\n{tail}")
    return time.monotonic() - started


def batch_problems(session: Session, batch: Batch) -> list:
    """``(exception class, superrun, message)`` of every difference from the oracle, the
    most severe first (definition order within a kind)."""
    project = superruns.Project.from_file(session.flow.root / "config" / "config.yaml")
    oracle = Oracle(batch.definitions, session.registry, *disk_readers(session.flow.root))
    problems = []
    for name in batch.definitions:
        problems += document_problems(project, oracle, name)
        for dt in DATA_TYPES:
            problems += row_problems(session, project, oracle, name, dt)
            problems += chunk_problems(session, project, oracle, name, dt)
    return sorted(problems, key=lambda p: SEVERITY.index(p[0]))   # stable


def check_batch(session: Session, batch: Batch) -> None:
    """Every superrun and data type against the oracle; raises the most severe problem
    found (with its superrun's definitions as YAML), listing the others after it."""
    problems = batch_problems(session, batch)
    if problems:
        kind, name, message = problems[0]
        others = "".join(f"\n  {m}" for _, _, m in problems[1:12])
        raise kind(f"{message}\n\nDefinitions ({name} and the superruns it holds):\n"
                   f"{batch.text(batch.closure(name))}\n{len(problems)} problem(s) in this batch:"
                   f"\n  {message}{others}")


# -- comparisons ------------------------------------------------------------------------------


def document_problems(project, oracle: Oracle, name: str) -> list:
    """start, end, livetime, flat sub_run_spec and exposure of the run document."""
    got, expected = superruns.run_metadata(name, project=project), expected_document(oracle, name)
    return [(DocumentDiffers, name, f"{name}: run document {key} is {got.get(key)!r}, the oracle "
             f"says {value!r}") for key, value in expected.items() if got.get(key) != value]


def row_problems(session: Session, project, oracle: Oracle, name: str, data_type: str) -> list:
    """The superrun's rows, byte for byte, against the leaf runs' kept rows in time order."""
    got = superruns.load(name, data_type, project=project)
    expected = expected_rows(oracle, name, lambda r: session.rows[r, data_type])
    if got.dtype == expected.dtype and got.tobytes() == expected.tobytes():
        return []
    have, want = _row_set(got), _row_set(expected)
    extra, missing = have - want, want - have
    where = f"{name}/{data_type}: built {len(got)} rows, the oracle keeps {len(expected)}"
    if extra:
        return [(ExtraRows, name, f"{where}; {len(extra)} built row(s) the oracle does not keep: "
                 f"{_where_rows(session, oracle, name, data_type, extra)}")]
    if missing:
        return [(MissingRows, name, f"{where}; {len(missing)} row(s) the oracle keeps are missing: "
                 f"{_where_rows(session, oracle, name, data_type, missing)}")]
    return [(RowsDiffer, name, f"{where}; the same rows in another order or count")]


def _row_set(rows: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in rows}


def _where_rows(session: Session, oracle: Oracle, name: str, data_type: str, chosen: set[bytes]) -> str:
    """Per leaf run: how many of the ``chosen`` rows lie inside its registry span and outside,
    the first one, and what the superrun holds of that run."""
    held = oracle.held(name)
    out = []
    for run_id, spans in held.segments.items():
        rows = session.rows[run_id, data_type]
        rows = rows[[row.tobytes() in chosen for row in rows]]
        if not len(rows):
            continue
        start, end = oracle.whole(run_id)
        inside = int(((rows["time"] >= start) & (row_end(rows) <= end)).sum())
        out.append(f"run {run_id} [{start}, {end}): {inside} inside it, {len(rows) - inside} reaching "
                   f"outside; first [{rows['time'][0]}, {row_end(rows[:1])[0]}); the superrun holds "
                   f"{[list(p) for p in spans]} of it, selection {held.selection}")
    return "; ".join(out) or "rows of no leaf run"


def chunk_problems(session: Session, project, oracle: Oracle, name: str, data_type: str) -> list:
    """Each chunk's ``subruns`` lie in the chunk and hold its rows; over all chunks they
    cover what the superrun holds per leaf (a leaf held whole: its own file's span)."""
    chunks = DataFile(session.flow.file(name, data_type)).chunks
    arrays = list(superruns.iter_chunks(name, data_type, project=project))
    selection, where = oracle.held(name).selection, f"{name}/{data_type}"
    problems, covered, summarised = [], {}, set()
    if len(arrays) != len(chunks):
        problems.append(f"{len(chunks)} chunks in the metadata, {len(arrays)} read")
    for chunk, rows in zip(chunks, arrays):
        spans = []
        for leaf, entry in (chunk.subruns or {}).items():
            if "n_ranges" in entry:
                summarised.add(leaf)
            leaf_spans = [tuple(p) for p in entry.get("ranges", [[entry["start"], entry["end"]]])]
            if any(s < chunk.start or e > chunk.end for s, e in leaf_spans):
                problems.append(f"chunk [{chunk.start}, {chunk.end}): {leaf} spans {leaf_spans} reach outside it")
            covered.setdefault(leaf, []).extend(leaf_spans)
            spans += leaf_spans
        outside = int((~keeps(rows, spans, selection)).sum())
        if outside:
            problems.append(f"chunk [{chunk.start}, {chunk.end}): {outside} row(s) outside its subruns' spans")
    expected = expected_chunk_spans(oracle, name, lambda r: session.file_spans[r, data_type])
    got = {leaf: merge(s) for leaf, s in covered.items()}
    for leaf in sorted(set(expected) | set(got)):
        if leaf not in summarised and got.get(leaf) != expected.get(leaf):
            problems.append(f"chunks' subruns hold {got.get(leaf)} of run {leaf}, the superrun "
                            f"holds {expected.get(leaf)}")
    return [(ChunksDiffer, name, f"{where}: {p}") for p in problems]
