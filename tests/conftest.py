"""Fixtures shared by every test layer; the helpers behind them are in tests/support/.

tests/ is on sys.path (pytest puts it there for this file, and pyproject's pythonpath), so no
folder here may be named like a package the tests import: the strax layer is strax_bridge/,
since a folder strax/ would be imported as strax wherever strax is not installed."""

from __future__ import annotations

import pytest

from support.workflows import Workflow, build_demo


@pytest.fixture
def workflow(tmp_path) -> Workflow:
    return Workflow(tmp_path)


@pytest.fixture(scope="session")
def built_demo(tmp_path_factory):
    """``make demo`` once per session (the shipped workflow and config, snakemake's default
    target); tests that change it take a copy (``support.workflows.copy_demo``)."""
    return build_demo(tmp_path_factory.mktemp("demo"))
