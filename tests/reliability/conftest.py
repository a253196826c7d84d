"""Fixtures shared by the reliability tests that damage a built workflow."""

import pytest

from support.reliability import copy_workflow, reference_build


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The standard workflow built once per test module (not to be changed by tests)."""
    return reference_build(tmp_path_factory)


@pytest.fixture
def flow(built, tmp_path):
    """A private copy of ``built`` for one test to damage."""
    return copy_workflow(built, tmp_path / "flow")
