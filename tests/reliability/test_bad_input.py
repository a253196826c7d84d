"""Bad input, table-driven: every case fails with exit status 1, a message naming the file and
the offending entry, and no output file.

Configuration cases (config.yaml, runs.yaml, superrun definitions, events files) run real
snakemake on a target whose job would take a second: they must stop while Snakemake parses the
workflow or builds its DAG, before any job runs. They go through ``snakemake_forks.py`` (the
real command, forked from one process that imported snakemake once, two at a time: a
snakemake start-up costs ~1.2 s). Data-file cases run the jobs' entry points
(``superruns.orchestration.jobs``) in-process on small files, or ``superruns.load``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import yaml

import superruns
from superruns.base import kernels
from superruns.build.processing import process_run
from superruns.orchestration import jobs
from superruns.storage import DataFile, DataWriter, dtype_to_str

from support.reliability import (
    OPTIONS,
    RUNS,
    Workflow,
    files_under,
    job,
    run_entry,
    run_job,
    snakemake_many,
    superrun_job,
    t,
)

pytestmark = pytest.mark.e2e

SUPERRUNS = {"_a": {"runs": ["8", "9"]}}

# -- configuration cases: real snakemake, stopped before any job ------------------------------------


@dataclass
class Case:
    """Files to write over a good workflow, the target to ask for, and what the error names."""

    id: str
    files: dict                        # relative path -> YAML-able object, or str (raw text), or bytes
    names: tuple                       # substrings the error must show: the file, then the entry
    target: str = "8/raw_records"
    superruns: dict = field(default_factory=lambda: dict(SUPERRUNS))


def superruns_case(id, doc, *names, **kw):
    return Case(id, {"config/superruns.yaml": doc}, ("superruns.yaml", *names), **kw)


def runs_case(id, doc, *names):
    return Case(id, {"config/runs.yaml": doc}, ("runs.yaml", *names))


def config_case(id, change, *names):
    return Case(id, {"config/config.yaml": change}, ("config.yaml", *names))


def events(columns: dict) -> np.ndarray:
    dtype = [(name, np.asarray(values).dtype) for name, values in columns.items()]
    out = np.zeros(len(next(iter(columns.values()))), dtype=dtype)
    for name, values in columns.items():
        out[name] = values
    return out


def events_case(id, content, *names, path="selections/ev.npy"):
    doc = dict(SUPERRUNS, _ev={"events": path})
    return Case(id, {"config/superruns.yaml": doc, path: content}, ("superruns.yaml", "_ev", *names),
                target="_ev/raw_records")


GOOD_EVENTS = {"time": [t(1)], "endtime": [t(1.5)], "run_id": ["8"]}

CONFIG_CASES = [
    # superrun definitions
    superruns_case("definitions-malformed-yaml", '_a: {runs: ["8", "9"]\n_b: 1\n', "not valid YAML", "line"),
    superruns_case("definitions-top-level-list", "- _a\n- _b\n", "top level is a list"),
    superruns_case("name-without-underscore", {"a": {"runs": ["8"]}}, "'a'", "'_a'"),
    superruns_case("run-id-with-slash", {"_a": {"runs": ["8/9"]}}, "'_a'", "runs[0]", "'8/9'"),
    superruns_case("run-id-with-comma", {"_a": {"runs": ["8,9"]}}, "'_a'", "runs[0]", "','"),
    superruns_case("run-id-with-space", {"_a": {"runs": ["8 9"]}}, "'_a'", "runs[0]", "' '"),
    superruns_case("run-id-with-underscore", {"_a": {"runs": ["8", "_"]}}, "'_a'", "runs[1]"),
    superruns_case("run-id-unquoted", '_a: {runs: [8, 9]}\n', "'_a'", "runs[0]", "quote"),
    superruns_case("unknown-run", {"_a": {"runs": ["8", "99"]}}, "'_a'", "runs[1]", "'99'"),
    superruns_case("unknown-superrun", {"_a": {"runs": ["_nosuch"]}}, "'_a'", "'_nosuch'"),
    superruns_case("cycle", {"_a": {"runs": ["_b"]}, "_b": {"runs": ["_c"]}, "_c": {"runs": ["_a"]}},
                   "_a -> _b -> _c -> _a"),
    superruns_case("self-reference", {"_a": {"runs": ["8", "_a"]}}, "'_a'", "runs[1]", "itself"),
    superruns_case("duplicate-subrun", {"_a": {"runs": ["8", "9", "8"]}}, "'_a'", "runs[2]", "twice"),
    superruns_case("duplicate-yaml-key", '_a: {runs: ["8"]}\n_a: {runs: ["9"]}\n', "'_a'", "twice"),
    Case("defined-in-two-files", {"config/superruns.d/more.yaml": {"_a": {"runs": ["10"]}}},
         ("more.yaml", "superruns.yaml", "'_a'")),
    superruns_case("nested-overlap", {"_a": {"runs": ["8", "9"]}, "_b": {"runs": ["_a", "8"]}},
                   "'_b'", "'_a'", "'8'", "twice"),
    superruns_case("ranges-unsorted", {"_a": {"ranges": {"8": [[t(2), t(3)], [t(0), t(1)]]}}},
                   "'_a'", "ranges['8'][1]", "sort"),
    superruns_case("ranges-overlapping", {"_a": {"ranges": {"8": [[t(0), t(2)], [t(1), t(3)]]}}},
                   "'_a'", "ranges['8'][1]", "overlaps"),
    superruns_case("range-inverted", {"_a": {"ranges": {"8": [[t(3), t(1)]]}}}, "'_a'", "ranges['8'][0]"),
    superruns_case("range-outside-run", {"_a": {"ranges": {"8": [[t(4), t(6)]]}}},
                   "'_a'", "ranges['8'][0]", "not inside run '8'"),
    superruns_case("range-of-floats", '_a: {ranges: {"8": [[1.5e+18, 1.6e+18]]}}\n', "'_a'", "ranges['8']", "int ns"),
    superruns_case("empty-superrun", {"_a": {"runs": []}}, "'_a'", "holds no subruns"),
    superruns_case("unknown-key", {"_a": {"run": ["8"]}}, "'_a'", "'run'"),
    superruns_case("runs-not-a-list", {"_a": {"runs": "8"}}, "'_a'", "runs"),
    superruns_case("bad-selection", {"_a": {"runs": ["8"], "selection": "partial"}}, "'_a'", "selection"),
    # events files: read when the superrun is used, still before any job
    events_case("events-without-time", events({"endtime": [t(1)], "run_id": ["8"]}), "no 'time' column"),
    events_case("events-file-missing", None, "events", "does not exist"),
    events_case("events-outside-run", events({"time": [t(4)], "endtime": [t(6)], "run_id": ["8"]}),
                "row 0", "outside its run '8'"),
    events_case("events-unknown-run", events({**GOOD_EVENTS, "run_id": ["99"]}), "row 0", "'99'"),
    events_case("events-run-id-not-string", events({**GOOD_EVENTS, "run_id": [8]}), "run_id", "not strings"),
    events_case("events-csv-not-integer", "time,endtime,run_id\n12.5,13,8\n", "row 1", "'time'",
                path="selections/ev.csv"),
    # run registry
    runs_case("runs-malformed-yaml", "runs:\n  '8': {start: 1, end: 2\n", "not valid YAML"),
    runs_case("run-id-starting-with-underscore", {"runs": {**RUNS, "_11": run_entry(30, 5)}}, "'_11'"),
    runs_case("run-id-with-slash-in-registry", {"runs": {**RUNS, "11/2": run_entry(30, 5)}}, "'11/2'", "'/'"),
    runs_case("run-start-after-end", {"runs": {**RUNS, "11": {"start": t(40), "end": t(30)}}},
              "run '11'", "not before"),
    runs_case("run-bad-timestamp", {"runs": {**RUNS, "11": {"start": "2019-13-01T00:00:00Z", "end": t(40)}}},
              "run '11'", "start"),
    runs_case("run-missing-end", {"runs": {**RUNS, "11": {"start": t(30)}}}, "run '11'", "end"),
    runs_case("run-listed-twice", "runs:\n  '8': {start: 1, end: 2}\n  '8': {start: 3, end: 4}\n",
              "'8'", "twice"),
    runs_case("run-id-unquoted-in-registry", "runs:\n  8: {start: 1, end: 2}\n", "run id 8 is a number, not a string",
              "quote it"),     # (a bare "8" is in any output: the target is 8/raw_records)
    # config.yaml
    config_case("config-unknown-option", {"options": {"chunk_duraton_s": 2}}, "options", "'chunk_duraton_s'",
                "'chunk_duration_s'"),
    config_case("config-unknown-key", {"data_dri": "elsewhere"}, "data_dri"),
    config_case("config-wrong-type", {"storage": {"chunk_target_size_mb": "big"}},
                "storage/chunk_target_size_mb", "number"),
    config_case("config-negative-size", {"storage": {"carry_over_min_mb": -1}}, "storage/carry_over_min_mb"),
    config_case("config-plugin-not-importable", {"plugins": ["superruns.nosuch"]}, "plugins", "superruns.nosuch"),
]


def write_case(root: Path, case: Case) -> Workflow:
    flow = Workflow(root)
    flow.write(RUNS, case.superruns, OPTIONS)
    for relative, content in case.files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            continue
        if relative == "config/config.yaml":
            content = {**yaml.safe_load(path.read_text()), **content}
        if isinstance(content, np.ndarray):
            np.save(path, content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            path.write_text(yaml.safe_dump(content))
    return flow


EXTRA_COMMANDS = {"good-configuration": ["-n", "_a/raw_records"], "unknown-data-type": ["_a/nosuch"]}


@pytest.fixture(scope="module")
def config_results(tmp_path_factory):
    """Every configuration case run by snakemake, and two commands on a good workflow."""
    base = tmp_path_factory.mktemp("bad_config")
    flows = [write_case(base / case.id, case) for case in CONFIG_CASES]
    good = write_case(base / "good", Case("good", {}, ()))
    commands = [(flow.root, [case.target]) for flow, case in zip(flows, CONFIG_CASES)]
    commands += [(good.root, args) for args in EXTRA_COMMANDS.values()]
    results = snakemake_many(commands, base)
    named = {case.id: (flow, result) for case, flow, result in zip(CONFIG_CASES, flows, results)}
    named.update({name: (good, result) for name, result in zip(EXTRA_COMMANDS, results[len(flows):])})
    return named


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.id for c in CONFIG_CASES])
def test_bad_configuration_stops_snakemake_before_any_job(config_results, case):
    flow, (code, output) = config_results[case.id]
    assert code == 1, output
    for name in case.names:
        assert name in output, f"{name!r} not in:\n{output}"
    assert "rule process" not in output and "Finished job" not in output, output
    assert files_under(flow.data) == [], files_under(flow.data)


def test_good_configuration_builds(config_results):
    """The baseline the cases change: it plans a build (so each failure above is the change's)."""
    flow, (code, output) = config_results["good-configuration"]
    assert code == 0, output
    assert "superrun" in output and "run_chain" in output


def test_unknown_data_type_has_no_rule(config_results):
    flow, (code, output) = config_results["unknown-data-type"]
    assert code == 1
    assert "No rule to produce _a/nosuch" in output
    assert files_under(flow.data) == []


# -- data-file cases: the jobs' entry points, in-process ---------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """raw_records of runs 8, 9, 10 built in-process (once), with a ranges superrun defined."""
    flow = Workflow(tmp_path_factory.mktemp("pristine"))
    flow.write(RUNS, dict(SUPERRUNS, _cut={"ranges": {"8": [[t(0.5), t(4.5)]]}, "runs": ["9"]}), OPTIONS,
               storage={"carry_over_min_mb": 0})
    project = flow.project()
    for run in RUNS:
        process_run(project, run, "raw_records", {}, project.path(run, "raw_records"))
    return flow


@pytest.fixture
def flow(pristine, tmp_path):
    shutil.copytree(pristine.root, tmp_path / "flow")
    return Workflow(tmp_path / "flow")


def superrun_build(flow, superrun="_a", data_type="raw_records"):
    smk = superrun_job(flow.project(), superrun, data_type)
    code, log = run_job(jobs.superrun_job, smk)
    return code, log, Path(smk.output[0])


def rewrite(path: Path, rows=None, dtype=None, metadata=None, check_sorted=True, monkeypatch=None):
    """Write ``path`` again, chunk by chunk, with other rows, dtype or metadata."""
    source = DataFile(path)
    md = dict(source.metadata) | (metadata or {})
    dtype = np.dtype(dtype or source.dtype)
    md["dtype"] = dtype_to_str(dtype)
    chunks = [(c.start, c.end, c.rows) for c in source.iter_chunks()]
    if not check_sorted:
        monkeypatch.setattr(kernels, "first_unsorted_row", lambda rows: -1)
    with DataWriter(path, dtype, md) as writer:
        for start, end, chunk_rows in chunks:
            new = np.zeros(len(chunk_rows), dtype)
            for name in dtype.names:
                new[name] = chunk_rows[name]
            if rows is not None:
                new = rows(new)
            writer.write_chunk(new, start, end)


def drop_field(dtype: np.dtype, name: str) -> np.dtype:
    return np.dtype([d for d in dtype.descr if (d[0][1] if isinstance(d[0], tuple) else d[0]) != name])


def test_subrun_with_another_dtype(flow):
    path = flow.file("9", "raw_records")
    rewrite(path, dtype=drop_field(DataFile(path).dtype, "baseline"))
    code, log, output = superrun_build(flow)
    assert code == 1
    assert str(path) in log and "subrun 9" in log and "dtype" in log
    assert not output.exists() and files_under(output.parent) == []


def test_subrun_with_another_lineage(flow):
    """A file of another lineage renamed to the current one's name (versions live side by
    side under their own names, so only a rename puts one there): the build refuses it."""
    flow.write(RUNS, SUPERRUNS, {**OPTIONS, "sim_seed": 1})
    project = flow.project()
    other = project.path("9", "raw_records")
    process_run(project, "9", "raw_records", {}, other)
    flow.write(RUNS, SUPERRUNS, OPTIONS)
    path = flow.file("9", "raw_records")
    assert path != other
    other.replace(path)
    code, log, output = superrun_build(flow)
    assert code == 1
    assert str(path) in log and "subrun 9" in log and "sim_seed" in log and "--forcerun 9/raw_records" in log
    assert not output.exists()


def test_subrun_rows_not_sorted(flow, monkeypatch):
    path = flow.file("8", "raw_records")

    def shuffle(rows):
        i = len(rows) // 2
        if len(rows) > 3 and rows["time"][i] != rows["time"][i + 1]:
            rows[[i, i + 1]] = rows[[i + 1, i]]     # two rows in the middle swapped: time goes back
        return rows

    rewrite(path, rows=shuffle, check_sorted=False, monkeypatch=monkeypatch)
    monkeypatch.undo()
    code, log, output = superrun_build(flow, "_cut")      # ranges cut run 8: its rows are read
    assert code == 1
    assert str(path) in log and "go backwards in time at row" in log
    assert not output.exists()


def test_subrun_data_outside_its_run(flow):
    """Run 9's file was built when the registry put run 9 at run 8's time (a stale file)."""
    source, path = flow.file("8", "raw_records"), flow.file("9", "raw_records")
    shutil.copy(source, path)
    md = DataFile(path).metadata
    rewrite(path, metadata={"run_id": "9", "run_metadata": {**md["run_metadata"], "name": "9"}})
    code, log, output = superrun_build(flow)
    assert code == 1
    assert str(path) in log and "stale" in log and "--forcerun 9/raw_records" in log
    assert not output.exists()


def test_missing_subrun_file(flow):
    path = flow.file("9", "raw_records")
    path.unlink()
    code, log, output = superrun_build(flow)
    assert code == 1
    assert str(path) in log and "no such data file" in log
    assert not output.exists()


def test_subrun_file_is_not_a_data_file(flow):
    path = flow.file("9", "raw_records")
    path.write_text("raw_records of run 9, copied by hand\n")
    code, log, output = superrun_build(flow)
    assert code == 1
    assert str(path) in log and "not a superruns data file" in log
    assert not output.exists()


def test_per_run_input_with_another_lineage(flow):
    flow.write(RUNS, SUPERRUNS, {**OPTIONS, "sim_seed": 1})
    project = flow.project()
    path = project.path("8", "raw_records")
    process_run(project, "8", "raw_records", {}, path)
    flow.write(RUNS, SUPERRUNS, OPTIONS)
    project = flow.project()
    output = project.path("8", "peaks")
    code, log = run_job(jobs.process_job, job(project, "process", output, {"raw_records": path},
                                              run="8", data_type="peaks"))
    assert code == 1
    assert str(path) in log and "lineage hash" in log and "--forcerun 8/raw_records" in log
    assert not output.exists()


def test_load_unknown_data_type(flow):
    with pytest.raises(ValueError, match="Unknown data type 'nosuch'") as error:
        superruns.load("8", "nosuch", project=flow.project())
    assert "superruns.detector" in str(error.value) and "8/nosuch" in str(error.value)


def test_load_unknown_superrun(flow):
    with pytest.raises(KeyError, match="_nosuch"):
        superruns.load("_nosuch", "raw_records", project=flow.project())


def test_load_mixing_kinds(flow):
    project = flow.project()
    process_run(project, "8", "peaks", {"raw_records": project.path("8", "raw_records")}, project.path("8", "peaks"))
    with pytest.raises(ValueError, match="different data kinds") as error:
        superruns.load("8", ["raw_records", "peaks"], project=project)
    assert str(project.path("8", "peaks")) in str(error.value)
    assert str(project.path("8", "raw_records")) in str(error.value)


def test_load_inverted_time_range(flow):
    with pytest.raises(ValueError, match="start after end"):
        superruns.load("8", "raw_records", time_range=(t(3), t(1)), project=flow.project())


def test_cli_reports_bad_files_in_one_line(flow, capsys):
    from superruns.cli import commands as cli

    path = flow.file("9", "raw_records")
    path.write_bytes(path.read_bytes()[:-100])
    assert cli.main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert str(path) in err and "truncated" in err and "Traceback" not in err
