"""Small workflows in temporary directories, run with real snakemake: what most tests share."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from superruns.base.intervals import merge_spans  # noqa: F401  (tests compare held spans)
from superruns.storage.layout import parse_data_file_name

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
T0 = 1_546_300_800_000_000_000  # 2019-01-01T00:00:00Z in ns
SECOND = 1_000_000_000
#: The shipped detector's data types of a regular run, in the order a run's one job makes them.
RUN_CHAIN = ("raw_records", "peaks", "peak_basics", "events", "event_basics", "event_positions", "event_info")


def short_name(name: str) -> str:
    """``"run/data_type"`` of a data file's name relative to data_dir, without its lineage
    (``"8/peaks-abcde12345"`` -> ``"8/peaks"``): what provenance records and listings compare."""
    run_id, _, file_name = str(name).rpartition("/")
    parsed = parse_data_file_name(file_name)
    return f"{run_id}/{parsed[0]}" if parsed else str(name)


def planned_outputs(result: subprocess.CompletedProcess) -> set[str]:
    """The files a dry run plans, without their lineage (``data/8/event_info``); a run's one
    job lists its files on one line."""
    lines = re.findall(r"^\s+output: (.+)$", result.stdout + result.stderr, re.MULTILINE)
    return {short_name(path) for line in lines for path in line.split(", ")}


def run_entry(start_s: float, duration_s: float, mode="background", source="none", tags=("test",)):
    return {"start": T0 + int(start_s * SECOND), "end": T0 + int((start_s + duration_s) * SECOND),
            "mode": mode, "source": source, "tags": list(tags)}


# Short runs with a fast, small simulation keep end-to-end tests to seconds.
TEST_OPTIONS = {"chunk_duration_s": 10}


@dataclass
class Workflow:
    """A workflow directory: config/ with runs and superruns, data in data/; snakemake runs
    in it (its working directory), with the repository's Snakefile."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    def write(self, runs: dict, superruns: dict, options: dict | None = None, **config) -> None:
        (self.root / "config" / "superruns.d").mkdir(parents=True, exist_ok=True)
        (self.root / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}))
        (self.root / "config" / "superruns.yaml").write_text(yaml.safe_dump(superruns))
        settings = {"data_dir": "data", "runs": "config/runs.yaml",
                    "superruns": ["config/superruns.yaml", "config/superruns.d"],
                    "plugins": ["superruns.detector"], "options": {**TEST_OPTIONS, **(options or {})}}
        settings.update(config)
        (self.root / "config" / "config.yaml").write_text(yaml.safe_dump(settings))

    def snakemake(self, *args: str, check: bool = True, timeout: float = 600,
                  cwd: Path | None = None) -> subprocess.CompletedProcess:
        """Run snakemake in the workflow's directory (or in ``cwd``, e.g. with ``-d``)."""
        command = [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--cores", "2", *args]
        result = subprocess.run(command, cwd=cwd or self.root, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def file(self, run_id: str, data_type: str | None = None, lineage: str | None = None) -> Path:
        """The data file of ``run_id/data_type`` (or of one ``"run/data_type"`` target) of
        ``lineage`` (default: the current configuration's): ``data/{run}/{data_type}-{hash}``
        (superruns.storage.layout). Tests name data files through this one helper."""
        if data_type is None:
            run_id, data_type = run_id.split("/")
        parsed = parse_data_file_name(data_type)
        if parsed is not None and lineage is None:        # a name with its lineage already
            return self.data / run_id / data_type
        return self.project().path(run_id, data_type, lineage)

    def project(self):
        from superruns.project import Project

        return Project.from_file(self.root / "config" / "config.yaml")


#: What a clone ships that the demo needs: the workflow and its configuration.
SHIPPED = ["Snakefile", "rules", "scripts", "config", "profiles", "report", "environment.yml"]


def copy_demo(built: Path, root: Path) -> Path:
    """A copy of a built demo (``build_demo``) in ``root``, times kept, so Snakemake finds it up to
    date: tests that change a demo work on a copy of the one the session built."""
    shutil.copytree(built, root, symlinks=True, dirs_exist_ok=True)
    return root


def build_demo(root: Path) -> Path:
    """``make demo`` in ``root``: the shipped workflow copied there, and ``snakemake --cores 2``
    (the config's default_target) run in it, as the Makefile does. Returns ``root``."""
    for name in SHIPPED:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    result = subprocess.run([str(SNAKEMAKE), "--cores", "2"], cwd=root, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return root
