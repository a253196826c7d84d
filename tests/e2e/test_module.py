"""End to end: a host workflow includes ours as a Snakemake module (README.md).

Each host is a directory of its own with its own Snakefile, config and rules (results/size.json
made by a `run:` block that calls superruns.load, results/size_by_script.json by a script); it
includes the repository's Snakefile with
`module ...: snakefile: ... config: config["superruns"]`, with and without `prefix:` and
`as superruns_*`. Nothing of the host's own paths may move, and the host reads our data.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

import superruns
from superruns.project import Project

from support.workflows import REPO, SNAKEMAKE, TEST_OPTIONS, run_entry, short_name

pytestmark = pytest.mark.e2e

RUNS = {"000001": run_entry(0, 10), "000002": run_entry(20, 10)}
SUPERRUNS = {"_pair": {"runs": ["000001", "000002"]}}

# The host's own rule: reads a superrun of ours through the name it gave our module (module
# `superruns`), or through the package imported in the rule (then the module's Project is the
# process default). Our files by the path the module gives (data_file: the current lineage's).
SIZE_RULE = '''
rule size:
    input:
        {module}.data_file("_pair", "peaks"),
    output:
        "results/size.json",
    run:
        {import_line}
        rows = superruns.load("_pair", "peaks")
        with open(output[0], "w") as f:
            json.dump({{"n": len(rows), "first": int(rows["time"][0])}}, f)
'''


# A host rule that runs a script (a process of its own): it gets the module's configuration.
SCRIPT_RULE = '''
rule size_by_script:
    input:
        {module}.data_file("_pair", "peaks"),
    output:
        "results/size_by_script.json",
    params:
        ours={module}.PROJECT.config,
    script:
        "size.py"
'''
SCRIPT = '''
import json
import superruns

project = superruns.Project(snakemake.params.ours)
rows = superruns.load("_pair", "peaks", project=project)
with open(snakemake.output[0], "w") as f:
    json.dump({"n": len(rows), "first": int(rows["time"][0])}, f)
'''


def write_host(root: Path, *, module: str, prefix: str | None, rename: bool, import_line: str,
               extra_superruns: dict | None = None, selections: dict | None = None) -> None:
    """A host workflow in ``root``: config/ with our section, a Snakefile including ours."""
    (root / "config").mkdir(parents=True)
    (root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": RUNS}))
    (root / "config" / "superruns.yaml").write_text(yaml.safe_dump({**SUPERRUNS, **(extra_superruns or {})}))
    ours = {"data_dir": "data", "runs": "config/runs.yaml", "superruns": ["config/superruns.yaml"],
            "plugins": ["superruns.detector"], "options": TEST_OPTIONS, "selections": selections or {}}
    (root / "config" / "config.yaml").write_text(yaml.safe_dump({"superruns": ours, "host": {"n": 1}}))
    snakefile = f'''
        import json

        configfile: "config/config.yaml"

        rule all:
            input:
                "results/size.json",
                "results/size_by_script.json",

        module {module}:
            snakefile:
                "{REPO / 'Snakefile'}"
            config:
                config["superruns"]
            {f'prefix: "{prefix}"' if prefix else ""}

        use rule * from {module}{" as superruns_*" if rename else ""}
        '''
    rules = SIZE_RULE.format(module=module, import_line=import_line) + SCRIPT_RULE.format(module=module)
    (root / "Snakefile").write_text(textwrap.dedent(snakefile) + rules)
    (root / "size.py").write_text(SCRIPT)


def run_host(root: Path, *targets: str, flag: str = "--force-use-threads") -> str:
    """The host's snakemake with the one flag our jobs need (the README's line)."""
    result = subprocess.run([str(SNAKEMAKE), "--cores", "2", flag, *targets], cwd=root,
                            capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def ours_at(root: Path, data_dir: str) -> Project:
    """Our Project as the host's directory holds it: its config section, data under data_dir."""
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())["superruns"]
    return Project(dict(config, data_dir=data_dir), root)


def assert_host_read_our_superrun(root: Path, project: Project) -> None:
    rows = superruns.load("_pair", "peaks", project=project)
    assert len(rows) > 0
    for name in ("size.json", "size_by_script.json"):
        made = json.loads((root / "results" / name).read_text())
        assert made == {"n": len(rows), "first": int(rows["time"][0])}, name


def ran(output: str) -> set[str]:
    """The rules (and checkpoints) Snakemake ran, by name."""
    return set(re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):$", output, re.MULTILINE))


def top_level(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()} - {".snakemake"}


@pytest.fixture(scope="module")
def prefixed_host(tmp_path_factory) -> tuple[Path, str]:
    """A host with `prefix: "sr"` and `use rule * from superruns as superruns_*`, building its
    own rule and a superrun of ours defined by a selection (a checkpoint of ours)."""
    root = tmp_path_factory.mktemp("host_prefixed")
    selections = {"big": {"source": "_pair", "data_type": "peaks", "cuts": {"area": [1000, None]}}}
    write_host(root, module="superruns", prefix="sr", rename=True, import_line="pass",
               extra_superruns={"_big": {"events": "sr/data/selections/big.npy", "pad_ns": 1000}},
               selections=selections)
    output = run_host(root, "all", f"sr/data/{ours_at(root, 'sr/data').relative_path('_big', 'raw_records')}")
    return root, output


def test_prefixed_host_keeps_its_paths_and_reads_our_data(prefixed_host):
    root, output = prefixed_host
    # The host's own output is in the host's directory; ours all under prefix/data_dir.
    assert (root / "results" / "size.json").is_file()
    assert top_level(root) == {"Snakefile", "size.py", "config", "results", "sr"}
    assert {p.name for p in (root / "sr").iterdir()} == {"data"}
    project = ours_at(root, "sr/data")
    assert project.path("_pair", "peaks").is_file()
    assert (root / "sr" / "data" / "logs" / "superrun" / "_pair" / f"{project.path('_pair', 'peaks').name}.log").is_file()
    # The rules are ours, renamed; the host rule's superruns.load read the prefixed data.
    assert {"superruns_superrun", "superruns_process", "size", "size_by_script", "all"} <= ran(output)
    assert_host_read_our_superrun(root, project)


def test_prefixed_host_builds_a_superrun_from_our_selection(prefixed_host):
    root, output = prefixed_host
    project = ours_at(root, "sr/data")
    assert "superruns_select_events" in ran(output)
    assert (root / "sr" / "data" / "selections" / "big.npy").is_file()
    events = np.load(root / "sr" / "data" / "selections" / "big.npy")
    held = superruns.load("_big", "raw_records", project=project)
    assert len(events) > 0 and len(held) > 0
    # Its provenance names its inputs relative to the data directory the module writes to.
    from superruns.storage import DataFile

    inputs = DataFile(project.path("_big", "raw_records")).metadata["provenance"]["inputs"]
    assert {short_name(n) for n in inputs} == {"000001/raw_records", "000002/raw_records"}


def test_host_without_prefix_and_renaming(tmp_path):
    """`module sr:` with no prefix and no `as`: data in data/, our rule names; the host's rule
    imports the package itself, so the module's Project is found as the process default."""
    root = tmp_path / "host"
    write_host(root, module="sr", prefix=None, rename=False, import_line="import superruns")
    output = run_host(root)
    assert top_level(root) == {"Snakefile", "size.py", "config", "results", "data"}
    assert ran(output) == {"process", "superrun", "size", "size_by_script", "all"}
    assert_host_read_our_superrun(root, ours_at(root, "data"))
    # Up to date for Snakemake: nothing moved between the run and this dry run.
    assert "Nothing to be done" in run_host(root, "-n")


def test_host_without_the_flag_is_refused_with_the_line_to_add(tmp_path):
    """Without --force-use-threads Snakemake would start each of our jobs as a process of its
    own, reading the whole workflow again: our jobs refuse, naming the flag, and write nothing."""
    root = tmp_path / "host"
    write_host(root, module="sr", prefix=None, rename=False, import_line="import superruns")
    result = subprocess.run([str(SNAKEMAKE), "--cores", "2"], cwd=root, capture_output=True, text=True,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "OwnProcessError" in output and "add --force-use-threads to the snakemake command" in output
    assert not any(path.is_file() and "-" in path.name for path in (root / "data").rglob("*") if "logs" not in path.parts)
