"""Where plugins come from (modules or provider functions) and how a plugin says its lineage."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from superruns.base.errors import SuperrunsError
from superruns.model import lineage as lineages
from superruns.model.plugins import (
    Option,
    Plugin,
    PluginError,
    PluginReferenceError,
    Registry,
    UnknownDataTypeError,
    plugins_of,
)


class Source(Plugin):
    provides = "source"
    data_kind = "things"
    version = "1.0.0"
    dtype = np.dtype([("time", "<i8"), ("endtime", "<i8")])
    options = (Option("gain", default_per_run=[[0, 1.0], [10, 2.0]]),)


class Derived(Plugin):
    provides = "derived"
    depends_on = ("source",)
    data_kind = "things"
    version = "0.2.0"
    dtype = Source.dtype
    options = (Option("threshold", 3),)


class OwnLineage(Plugin):
    """A data type that keeps a lineage of its own (as strax data types do)."""

    provides = "own"
    data_kind = "things"
    lineage_is_derived = False

    def lineage(self, project, run_id):
        return {"own": ["Elsewhere", "9", {"run": run_id}]}

    def lineage_key(self, project, run_id):
        return ("run", run_id)


class DependsOnOwn(Derived):
    provides = "depends_on_own"
    depends_on = ("own",)


class FakeProject:
    """What plugins use of a project: its registry, options and superrun naming."""

    def __init__(self, registry, options=None):
        self.registry, self.options = registry, options or {}

    @staticmethod
    def is_superrun(run_id):
        return run_id.startswith("_")


@pytest.fixture
def provider_module(tmp_path, monkeypatch):
    (tmp_path / "my_provider.py").write_text(
        "from test_plugins import Derived, Source\n"
        "PLUGINS = [Source]\n"
        "def plugins(project):\n"
        "    return [Derived()] if project == 'with derived' else []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_provider"
    sys.modules.pop("my_provider", None)


def test_modules_and_provider_functions_give_plugins(provider_module):
    registry = Registry.from_references([provider_module, f"{provider_module}:plugins"], "with derived")
    assert list(registry) == ["source", "derived"]
    assert isinstance(registry["derived"], Derived)
    assert plugins_of(f"{provider_module}:plugins", "another project") == []


@pytest.mark.parametrize("reference, message", [
    ("no_such_module_here", "cannot be imported"),
    ("my_provider:nosuch", "has no function 'nosuch'"),
    ("numpy", "has no PLUGINS list"),
])
def test_a_bad_reference_is_a_clear_error(provider_module, reference, message):
    with pytest.raises(PluginReferenceError, match=message) as raised:
        Registry.from_references([reference])
    assert isinstance(raised.value, SuperrunsError) and reference in str(raised.value)


def test_the_default_lineage_is_derived_from_the_declarations():
    registry = Registry.from_references([])
    for plugin in (Source(), Derived()):
        registry.register(plugin)
    project = FakeProject(registry)
    derived = registry["derived"]
    assert derived.lineage(project, "000012") == lineages.lineage(registry, "derived", "000012", {})
    assert derived.lineage(project, "000012")["source"] == ["Source", "1.0.0", {"gain": 2.0}]
    assert derived.lineage(project, "_super") == lineages.superrun_lineage(registry, "derived", {})
    # Runs with the same per-run values share a key (one hash), others do not.
    assert derived.lineage_key(project, "000011") == derived.lineage_key(project, "000012")
    assert derived.lineage_key(project, "000001") != derived.lineage_key(project, "000012")
    assert derived.lineage_key(project, "_super") == ("superrun",)


def test_a_plugin_can_keep_its_own_lineage():
    registry = Registry()
    registry.register(OwnLineage())
    assert registry["own"].lineage(FakeProject(registry), "7") == {"own": ["Elsewhere", "9", {"run": "7"}]}


def test_a_derived_lineage_cannot_depend_on_an_own_lineage():
    registry = Registry()
    for plugin in (OwnLineage(), DependsOnOwn()):
        registry.register(plugin)
    with pytest.raises(PluginError, match="depends on own, which keep a lineage of their own"):
        registry.check_derived_lineages()


def test_registry_errors_are_superruns_errors():
    registry = Registry()
    registry.register(Source())
    with pytest.raises(PluginError, match="provided twice"):
        registry.register(Source())
    with pytest.raises(UnknownDataTypeError, match="the registry knows: source") as raised:
        registry["nosuch"]
    assert isinstance(raised.value, KeyError)
