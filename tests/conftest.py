"""Fixtures shared by every test layer; the helpers behind them are in tests/support/."""

from __future__ import annotations

import pytest

from support.workflows import Workflow


@pytest.fixture
def workflow(tmp_path) -> Workflow:
    return Workflow(tmp_path)
