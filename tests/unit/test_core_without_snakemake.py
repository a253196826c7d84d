"""The core package (`pip install superruns`, no `workflow` extra) works without Snakemake:
load, define, inspect, verify, import/export, the CLIs and the job entry points import and run
with snakemake made unimportable."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCK = textwrap.dedent("""
    import sys
    class _NoSnakemake:
        def find_spec(self, name, path=None, target=None):
            if name == "snakemake" or name.startswith("snakemake."):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
    sys.meta_path.insert(0, _NoSnakemake())
""")


def _run(code: str, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "workflow"))
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_block_works():
    result = _run("import snakemake")
    assert result.returncode != 0 and "blocked by the test" in result.stderr


def test_core_entry_points_import_and_run_without_snakemake():
    result = _run("""
        import superruns, superruns.cli.commands, superruns.orchestration.jobs, superruns.stored.loading, superruns.definitions
        import superruns.storage, superruns.project, superruns.stored.report, superruns.stored.selections
        import superruns.straxio.importer, superruns.straxio.exporter, superruns.straxio.cli
        import superruns.straxio.format, superruns.straxio.registry, superruns.straxio.provider
        project = superruns.Project.default()
        assert project.runs and project.definitions
        print(superruns.run_metadata(next(iter(project.runs)))["start"])
        assert not any(name.split(".")[0] == "snakemake" for name in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    for command in (["list"], ["--help"]):
        result = _run(f"""
            import sys
            from superruns.cli.commands import main
            sys.argv = ["superruns", *{command!r}]
            try:
                main()
            except SystemExit as exit:
                assert not exit.code, exit.code
        """)
        assert result.returncode == 0, result.stderr
        assert "blocked by the test" not in result.stderr


def test_make_without_snakemake_names_the_workflows_environment(tmp_path):
    """superruns.make in an environment without Snakemake says how to point it at the workflow's
    (workflow_python, $SUPERRUNS_WORKFLOW_PYTHON); with one named, it runs Snakemake there."""
    result = _run("""
        import os, sys, superruns
        from superruns.orchestration.campaign import MakeError, workflow_python
        project = superruns.Project.default()
        os.environ.pop("SUPERRUNS_WORKFLOW_PYTHON", None)
        try:
            workflow_python(project)
        except MakeError as error:
            print(error)
        os.environ["SUPERRUNS_WORKFLOW_PYTHON"] = sys.executable    # has snakemake (not blocked there)
        print("USES", workflow_python(project))
        os.environ["SUPERRUNS_WORKFLOW_PYTHON"] = "/nonexistent/python"
        try:
            workflow_python(project)
        except MakeError as error:
            print(error)
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "workflow_python" in lines[0] and "SUPERRUNS_WORKFLOW_PYTHON" in lines[0]
    assert lines[1] == f"USES {os.path.abspath(sys.executable)}"
    assert "/nonexistent/python" in lines[2] and "not an interpreter" in lines[2]


def test_run_without_snakemake_names_the_workflow_extra_and_the_workflows_environment(tmp_path):
    """`superruns init` works in the core alone; `superruns run` there says that Snakemake (the
    workflow extra) is missing and how to name another environment's, as superruns.make does."""
    result = _run("""
        import os, sys
        from superruns.cli.commands import main
        for variable in ("SUPERRUNS_WORKFLOW_PYTHON", "SUPERRUNS_CONFIG"):
            os.environ.pop(variable, None)
        assert main(["init", "."]) == 0
        sys.exit(main(["run", "--cores", "2", "_example/event_info"]))
    """, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert (tmp_path / "config" / "config.yaml").is_file() and not (tmp_path / ".snakemake").exists()
    error = result.stderr.strip()
    assert error.startswith("superruns run: The workflow runs with Snakemake (superruns.make, superruns run), "
                            "which this environment"), error
    assert "workflow_python in config/config.yaml" in error and "pip install 'superruns[workflow]'" in error
