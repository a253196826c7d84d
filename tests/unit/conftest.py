"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
import yaml

from superruns.project import Project

T0 = 1_546_300_800_000_000_000
S = 1_000_000_000


@pytest.fixture
def project(tmp_path):
    """Runs 5..9: the detector's pmt_gains per-run default changes at run 7."""
    runs = {str(i): {"start": T0 + i * 100 * S, "end": T0 + (i * 100 + 10) * S} for i in range(5, 10)}
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "runs.yaml").write_text(yaml.safe_dump({"runs": runs}))
    (tmp_path / "config" / "superruns.yaml").write_text(yaml.safe_dump({"_all": {"runs": list(runs)}}))
    config = {"data_dir": "data", "runs": "config/runs.yaml", "superruns": ["config/superruns.yaml"],
              "plugins": ["superruns.detector"]}
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return Project.from_file(tmp_path / "config" / "config.yaml")
