"""The habits of the ``superruns`` command and API: ``--version``, "did you mean", quiet closed
pipes, human times and units, tables that fit 100 columns, one command tree with the bridge's
commands registered through an entry point, ``Project(path)``, DataFrames when pandas is there.

The same habits over every command's output on the demo: tests/e2e/test_cli_demo.py."""

from __future__ import annotations

import importlib.util
import io

import pytest

import superruns
from superruns.base.names import did_you_mean
from superruns.base.times import format_duration
from superruns.base.units import format_size
from superruns.cli import commands as cli, listing
from superruns.cli.tables import WIDTH, human, print_mapping, print_table

from support.workflows import T0, Workflow, run_entry

HAS_PANDAS = importlib.util.find_spec("pandas") is not None


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out == f"superruns {superruns.__version__}\n"


def test_a_mistyped_command_gets_a_suggestion(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["lst"])
    assert exited.value.code == 2 and "Did you mean 'list'?" in capsys.readouterr().err


def test_did_you_mean():
    names = ["_sr1_v0.2", "_sr1_all", "_sr1_clean", "_kr_feb2019"]
    assert did_you_mean("_sr1_v02", names) == " Did you mean '_sr1_v0.2'?"
    assert did_you_mean("_SR1_CLEAN", names) == " Did you mean '_sr1_clean'?"
    assert did_you_mean("_completely_else", names) == "" and did_you_mean(None, names) == ""


def test_unknown_names_are_suggested_by_the_project(tmp_path):
    flow = Workflow(tmp_path)
    flow.write({"000001": run_entry(0, 10)}, {"_sr1_v0.2": {"runs": ["000001"]}})
    project = flow.project()
    with pytest.raises(superruns.base.errors.SuperrunsError, match=r"Did you mean '_sr1_v0\.2'\?"):
        project.check_known("_sr1_v02")
    with pytest.raises(KeyError, match=r"Did you mean '000001'\?"):
        project.check_known("00001")
    with pytest.raises(KeyError, match=r"Did you mean 'event_info'\?"):
        project.registry["evnt_info"]


class ClosedPipe(io.StringIO):
    """An output whose reader went away after the first line (``| head -1``)."""

    def write(self, text):
        if self.getvalue().count("\n") >= 1:
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(text)


def test_a_closed_pipe_ends_quietly_with_status_0(monkeypatch, capsys):
    rows = [{"run_id": f"{i:06d}", "start": T0, "livetime_s": 10.0, "built": []} for i in range(50)]
    monkeypatch.setattr(listing, "project_of", lambda args: None)
    monkeypatch.setattr(listing, "list_rows", lambda project: rows)
    out = ClosedPipe()
    assert cli.main(["list"], out=out) == 0
    assert out.getvalue().startswith("run ") and capsys.readouterr().err == ""


def test_a_broken_pipe_of_the_work_itself_is_an_error(monkeypatch, capsys):
    def broken(project):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(listing, "project_of", lambda args: None)
    monkeypatch.setattr(listing, "list_rows", broken)
    assert cli.main(["list"], out=io.StringIO()) == 1
    assert capsys.readouterr().err.startswith("superruns list: ")


def test_human_values_carry_their_unit_or_are_iso_utc():
    assert human("start", T0) == "2019-01-01T00:00:00Z" and human("end", None) == "-"
    assert human("livetime", 1670.0) == "1670.0 s" and human("span", 4597410.0) == "4597410.0 s (53.2 d)"
    assert human("livetime_ns", 1_500_000_000) == "1.5 s" and human("nbytes", 1_853_376) == "1.85 MB"
    assert human("x", [[T0, T0 + 30 * 10**9]]) == "2019-01-01T00:00:00Z .. 2019-01-01T00:00:30Z (30.0 s)"
    assert format_duration(0.00173) == "0.00173 s" and format_duration(7200) == "7200.0 s (2.0 h)"
    assert format_size(512) == "512 B" and format_size(None) == "-"


def test_a_mapping_prints_times_durations_and_many_ranges_readably():
    out = io.StringIO()
    ranges = [[T0 + i * 10**10, T0 + i * 10**10 + 10**9] for i in range(8)]
    print_mapping({"name": "_x", "start": T0, "sub_run_spec": {"000001": ranges, "000002": "all"},
                   "exposure": {"per_subrun": {"000001": {"livetime": 8.0, "vetoed": 0.0}}}}, out)
    text = out.getvalue()
    assert "start: 2019-01-01T00:00:00Z" in text and "000001: 8 ranges" in text
    assert "... and 3 more (--json lists them all)" in text and "000002: all" in text
    assert "000001: livetime 8.0 s, vetoed 0.0 s" in text and str(T0) not in text


def test_tables_fit_100_columns_and_count_what_is_left_out():
    built = ["raw_records", "peaks", "peak_basics", "events", "event_basics", "event_positions", "event_info",
             "accidental_events", "peak_rates", "peaks-abcde12345"]
    rows = [{"run": "_a_long_superrun_name_of_a_campaign", "start": "2019-01-03T10:00:00Z",
             "livetime": "1670.0 s", "built": built}, {"run": "000001", "start": "-", "livetime": "pending",
                                                        "built": []}]
    out = io.StringIO()
    print_table(rows, ["run", "start", "livetime", "built"], out, squeeze="built")
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    assert lines[1].endswith("more") and "raw_records,peaks" in lines[1] and lines[2].endswith("-")


def test_one_command_tree_with_the_bridge_registered_through_its_entry_point(capsys):
    commands = cli.parser()._subparsers._group_actions[0].choices
    assert {"list", "show", "info", "status", "verify", "lock", "diff", "clean", "migrate"} <= set(commands)
    assert {"import", "export", "runs"} <= set(commands)        # superruns.straxio.cli:register
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert exited.value.code == 0 and "import" in text and "==SUPPRESS==" not in text


def test_the_bridge_help_hides_its_internal_commands(capsys):
    from superruns.straxio.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "==SUPPRESS==" not in text and "describe" not in text and "export" in text


def test_project_from_a_path_or_from_file(tmp_path, monkeypatch):
    flow = Workflow(tmp_path)
    flow.write({"000001": run_entry(0, 10)}, {"_a": {"runs": ["000001"]}})
    monkeypatch.chdir(tmp_path)
    by_path = superruns.Project("config/config.yaml")
    assert by_path.data_dir == tmp_path / "data" and by_path.base_dir == tmp_path
    assert superruns.Project.from_file("config/config.yaml").config == by_path.config
    assert superruns.Project(tmp_path / "config" / "config.yaml").data_dir == by_path.data_dir
    with pytest.raises(superruns.base.errors.SuperrunsError, match="No configuration file at"):
        superruns.Project("config/nothing.yaml")


@pytest.mark.parametrize("as_frame", [None, False])
def test_select_runs_and_status_give_a_frame_when_pandas_is_there(tmp_path, as_frame):
    flow = Workflow(tmp_path)
    flow.write({"000001": run_entry(0, 10), "000002": run_entry(20, 10, mode="kr83m")}, {"_a": {"runs": ["000001"]}})
    project = flow.project()
    runs = superruns.select_runs(mode="background", project=project, as_frame=as_frame)
    status = superruns.status(project=project, as_frame=as_frame)
    if as_frame is None and HAS_PANDAS:
        assert list(runs["name"]) == ["000001"] and list(runs.columns)[:3] == ["name", "start", "end"]
        assert set(status["group"]) == {"runs", "superruns"}
        status = status.to_dict("records")
    else:
        assert runs == [{"name": "000001", "start": T0, "end": T0 + 10 * 10**9, "mode": "background",
                         "source": "none", "tags": ["test"], "livetime": 10.0}]
    assert {"group": "runs", "data_type": "peaks", "done": 0, "stale": 0, "missing": 2} in status
