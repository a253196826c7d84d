"""The run registry (superruns.model.runs): file format, times, validation messages, speed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from superruns.model.runs import (
    Run,
    RunRegistry,
    RunRegistryError,
    UnknownRunError,
    format_ns,
    parse_time_ns,
    yaml_load,
)

REPO = Path(__file__).resolve().parents[2]
S = 1_000_000_000
JAN3 = 1_546_509_600 * S  # 2019-01-03T10:00:00Z


def write(tmp_path: Path, text: str, name: str = "runs.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> str:
    """Load a bad registry; the message must name the file."""
    path = write(tmp_path, text)
    with pytest.raises(RunRegistryError) as info:
        RunRegistry.load(path)
    message = str(info.value)
    assert str(path) in message, message
    return message


# --------------------------------------------------------------------------------------
# the shipped demo registry


def test_demo_registry():
    runs = RunRegistry.load(REPO / "config" / "runs.yaml")
    assert list(runs) == [f"{i:06d}" for i in range(1, 13)]
    jan = parse_time_ns("2019-01-01T00:00:00Z")
    mar = parse_time_ns("2019-03-01T00:00:00Z")
    for run in runs.values():
        assert jan <= run.start < run.end <= mar
        assert 180 <= run.duration_s <= 240
        assert run.mode in {"background", "kr83m"}
        assert run.source == ("none" if run.mode == "background" else "kr83m")
        assert "sr1" in run.tags
    ordered = runs.sorted_by_start()
    assert all(a.end <= b.start for a, b in zip(ordered, ordered[1:]))  # time order, no overlap
    assert {r.mode for r in runs.values()} == {"background", "kr83m"}


# --------------------------------------------------------------------------------------
# times


def test_time_forms(tmp_path):
    path = write(tmp_path, """
runs:
  a: {start: 2019-01-03T10:00:00Z, end: 2019-01-03T10:03:00Z}
  b: {start: "2019-01-03T10:05:00.000000001Z", end: "2019-01-03T11:08:00+01:00"}
  c: {start: 2019-01-03 10:10:00, end: 1546510260000000000}
  d: {start: 2019-01-04, end: "2019-01-04T00:00:01"}
  e: {start: 2019-01-03T11:10:00+01:00, end: 2019-01-03T10:11:00.5Z}
""")
    runs = RunRegistry.load(path)
    assert (runs["a"].start, runs["a"].end) == (JAN3, JAN3 + 180 * S)
    assert runs["b"].start == JAN3 + 300 * S + 1  # nanoseconds of an ISO string kept
    assert runs["b"].end == JAN3 + 480 * S  # an explicit zone is honoured
    assert runs["c"].start == JAN3 + 600 * S  # naive YAML timestamp = UTC
    assert runs["c"].end == 1546510260000000000  # int ns as is
    assert runs["d"].start == parse_time_ns("2019-01-04T00:00:00Z")  # a date = midnight UTC
    assert runs["d"].end == runs["d"].start + S  # naive ISO string = UTC
    assert (runs["e"].start, runs["e"].end) == (JAN3 + 600 * S, JAN3 + 660 * S + S // 2)
    assert all(isinstance(r.start, int) and isinstance(r.end, int) for r in runs.values())


def test_parse_and_format_ns():
    assert parse_time_ns("2019-01-03T10:00:00Z") == JAN3
    assert parse_time_ns("2019-01-03T10:00Z") == JAN3
    assert parse_time_ns("2019-01-03T11:00:00+0100") == JAN3
    assert parse_time_ns("2019-01-03T10:00:00.123456789") == JAN3 + 123456789
    assert format_ns(JAN3) == "2019-01-03T10:00:00Z"
    assert format_ns(JAN3 + 1) == "2019-01-03T10:00:00.000000001Z"
    assert parse_time_ns(format_ns(JAN3 + 123)) == JAN3 + 123
    for bad in ("yesterday", 1.5e18, True, None, -1, 2**63):
        with pytest.raises(ValueError):
            parse_time_ns(bad)


# --------------------------------------------------------------------------------------
# the mapping


def test_run_fields(tmp_path):
    path = write(tmp_path, """
runs:
  "000001":
    start: 2019-01-03T10:00:00Z
    end: 2019-01-03T10:03:30Z
    mode: background
    source: none
    tags: [sr1, blinded]
    comments: [first run]
  "000002": {start: 2019-01-03T10:05:00Z, end: 2019-01-03T10:06:00Z, comments: one line}
""")
    runs = RunRegistry.load(path)
    assert runs["000001"] == Run("000001", JAN3, JAN3 + 210 * S, "background", "none",
                                 ("sr1", "blinded"), ("first run",))
    assert runs["000001"].duration_s == 210.0
    assert runs["000001"].duration_ns == 210 * S
    assert runs["000002"].mode == "" and runs["000002"].tags == () and runs["000002"].comments == ("one line",)
    with pytest.raises(AttributeError):
        runs["000001"].start = 0  # frozen


def test_mapping_and_time_order():
    # ids whose string order ("10" < "8") differs from time order
    runs = RunRegistry.from_dict({"runs": {
        "10": {"start": JAN3 + 20 * S, "end": JAN3 + 21 * S},
        "8": {"start": JAN3, "end": JAN3 + S},
        "9": {"start": JAN3 + 10 * S, "end": JAN3 + 11 * S},
    }}, source="inline")
    assert len(runs) == 3
    assert list(runs) == ["10", "8", "9"]  # file order
    assert [r.run_id for r in runs.sorted_by_start()] == ["8", "9", "10"]
    assert "8" in runs and "7" not in runs and 8 not in runs and ["x"] not in runs
    assert runs.get("7") is None
    assert runs.get("8").start == JAN3


def test_unknown_run_error(tmp_path):
    path = write(tmp_path, "runs:\n  '000001': {start: 0, end: 10}\n")
    runs = RunRegistry.load(path)
    with pytest.raises(UnknownRunError) as info:
        runs["000002"]
    assert isinstance(info.value, KeyError) and isinstance(info.value, RunRegistryError)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert str(path) in message and "'000002'" in message and "add it to" in message
    with pytest.raises(KeyError, match="superrun"):
        runs["_sr"]


def test_from_dict_and_constructor():
    runs = RunRegistry.from_dict({"runs": {"r1": {"start": 0, "end": 5, "tags": ["x"]}}})
    assert runs["r1"] == Run("r1", 0, 5, tags=("x",))
    direct = RunRegistry([Run("a", 0, 1), Run("b", 1, 2)], source="mine")
    assert list(direct) == ["a", "b"]
    with pytest.raises(RunRegistryError, match="listed twice"):
        RunRegistry([Run("a", 0, 1), Run("a", 1, 2)])
    with pytest.raises(RunRegistryError, match="starts with '_'"):
        RunRegistry([Run("_a", 0, 1)])


# --------------------------------------------------------------------------------------
# validation: each message names the file, the run and the fix


def test_unquoted_id_says_quote_it(tmp_path):
    message = load_error(tmp_path, "runs:\n  000001: {start: 0, end: 10}\n")
    assert "quote it" in message and "1" in message and '"000001"' in message


@pytest.mark.parametrize("run_id, words", [
    ("_000001", ["starts with '_'", "superrun"]),
    ("run-1", ["'-'", "use '_'"]),
    ("run/1", ["'/'"]),
    ("run,1", ["','"]),
    ("run 1", ["' '"]),
    (".hidden", ["'.'"]),
])
def test_bad_run_ids(tmp_path, run_id, words):
    message = load_error(tmp_path, f"runs:\n  {run_id!r}: {{start: 0, end: 10}}\n")
    assert repr(run_id) in message
    for word in words:
        assert word in message, message


def test_start_not_before_end(tmp_path):
    message = load_error(tmp_path, "runs:\n  '1': {start: 2019-01-03T10:00:00Z, end: 2019-01-03T10:00:00Z}\n")
    assert "'1'" in message and "not before end" in message and "fix its start/end" in message


def test_missing_end(tmp_path):
    message = load_error(tmp_path, "runs:\n  '1': {start: 0}\n")
    assert "run '1'" in message and "'end' is a required property" in message
    assert "add the missing key(s): start, end" in message


def test_unknown_key(tmp_path):
    message = load_error(tmp_path, "runs:\n  '1': {start: 0, end: 5, tag: [a]}\n")
    assert "run '1'" in message and "'tag'" in message and "allowed keys" in message
    assert "tags" in message


def test_unknown_top_level_key(tmp_path):
    message = load_error(tmp_path, "runs: {}\nrun: {}\n")
    assert "'run'" in message and "one top-level key" in message


@pytest.mark.parametrize("value", ["yesterday", "1.5e18", "-5", "true", "'2019-01-03T25:00:00Z'"])
def test_bad_times(tmp_path, value):
    message = load_error(tmp_path, f"runs:\n  '1': {{start: {value}, end: 2019-01-03T10:00:00Z}}\n")
    assert "run '1'" in message and "start" in message, message
    assert "ISO-8601" in message and "int ns" in message, message


def test_invalid_yaml_timestamp(tmp_path):
    message = load_error(tmp_path, "runs:\n  '1': {start: 2019-13-45T00:00:00Z, end: 5}\n")
    assert "month must be in 1..12" in message and "line 2" in message


def test_bad_types(tmp_path):
    message = load_error(tmp_path, "runs:\n  '1': {start: 0, end: 5, mode: [a, b]}\n")
    assert "run '1'" in message and "mode" in message and "type string" in message
    message = load_error(tmp_path, "runs:\n  '1': {start: 0, end: 5, tags: [a, a]}\n")
    assert "run '1'" in message and "tags" in message
    message = load_error(tmp_path, "runs:\n  '1': null\n")
    assert "run '1'" in message and "object" in message


def test_duplicate_run_id_in_yaml(tmp_path):
    message = load_error(tmp_path, "runs:\n  '1': {start: 0, end: 5}\n  '1': {start: 5, end: 9}\n")
    assert "appears twice" in message and "'1'" in message and "line 3" in message


def test_bad_files(tmp_path):
    message = load_error(tmp_path, "")
    assert "empty" in message and "runs:" in message
    message = load_error(tmp_path, "- a\n- b\n")
    assert "top level" in message and "'runs:'" in message
    message = load_error(tmp_path, "runs: {a: [\n")
    assert "not valid YAML" in message and "line" in message
    message = load_error(tmp_path, "runs: []\n")
    assert "runs" in message and "object" in message
    with pytest.raises(RunRegistryError, match="file not found"):
        RunRegistry.load(tmp_path / "missing.yaml")


def test_errors_are_value_errors(tmp_path):
    with pytest.raises(ValueError):
        RunRegistry.load(write(tmp_path, "runs:\n  '1': {start: 5, end: 1}\n"))


def test_errors_are_superruns_errors(tmp_path):
    from superruns.base.errors import SuperrunsError

    with pytest.raises(SuperrunsError, match="not before"):
        RunRegistry.load(write(tmp_path, "runs:\n  '1': {start: 5, end: 1}\n"))
    with pytest.raises(SuperrunsError, match="appears twice"):
        RunRegistry.load(write(tmp_path, "runs:\n  '1': {start: 1, end: 5}\n  '1': {start: 1, end: 5}\n"))
    with pytest.raises(SuperrunsError):
        RunRegistry([Run("a", 0, 1)])["b"]


def test_name_rules_live_in_names_and_are_re_exported():
    from superruns.base import names
    from superruns.model import runs

    for attr in ("RUN_ID_PATTERN", "SUPERRUN_NAME_PATTERN", "is_superrun_id", "run_id_problem",
                 "superrun_name_problem"):
        assert getattr(runs, attr) is getattr(names, attr), attr
    assert names.run_id_problem("000001") is None and names.superrun_name_problem("_a.b") is None
    assert "quote it" in names.run_id_problem(1)
    assert names.subrun_problem("_a") is None and names.subrun_problem("a") is None
    assert "'_bad_name'" in names.subrun_problem("_bad-name")
    assert names.is_superrun_id("_a") and not names.is_superrun_id("a")


# --------------------------------------------------------------------------------------
# YAML loading: the fast path must agree with PyYAML's safe loader


@pytest.mark.parametrize("text", [
    "a: 1\nb: [1, 2.5, true, null, ~, '3', 0o17, 0x1f, 1_000, .inf]\nc: {d: 2019-01-03T10:00:00Z}\n",
    "base: &b {x: 1, y: [1, 2]}\nother: *b\nlist: &l [a, b]\nagain: *l\n",
    "merged:\n  <<: {a: 1, b: 2}\n  b: 3\n",
    "tagged: !!str 123\nbin: !!binary aGVsbG8=\nset: !!set {a, b}\n",
    "? [1, 2]\n: complex key\n",
    "'000001': x\n000002: y\n'yes': no\nOn: off\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
    "",
    "--- just a scalar\n",
])
def test_yaml_load_matches_pyyaml(tmp_path, text):
    path = write(tmp_path, text, "doc.yaml")
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        with pytest.raises(ValueError):
            yaml_load(path)
        return
    assert yaml_load(path) == expected


def test_yaml_duplicate_keys_refused(tmp_path):
    for text in ("a: 1\na: 2\n", "x: {b: 1, b: 1}\n", "l: [{a: 1, a: 1}]\n"):
        with pytest.raises(ValueError, match="appears twice"):
            yaml_load(write(tmp_path, text, "dup.yaml"))
    assert yaml_load(write(tmp_path, "m:\n  <<: {a: 1}\n  a: 2\n", "merge.yaml")) == {"m": {"a": 2}}


# --------------------------------------------------------------------------------------
# speed (smoke test, generous bound)


def test_ten_thousand_runs_load_fast(tmp_path):
    lines = ["runs:"]
    for i in range(10_000):
        start = JAN3 + i * 300 * S
        lines.append(f'  "{i:06d}": {{start: {format_ns(start)}, end: {format_ns(start + 200 * S)}, '
                     f"mode: background, source: none, tags: [sr1]}}")
    path = write(tmp_path, "\n".join(lines) + "\n")
    t0 = time.perf_counter()
    runs = RunRegistry.load(path)
    elapsed = time.perf_counter() - t0
    assert len(runs) == 10_000
    assert runs["009999"].start == JAN3 + 9999 * 300 * S
    assert elapsed < 5, elapsed
