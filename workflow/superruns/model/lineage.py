"""Lineages and their hashes: what a stored file was computed with.

The lineage of a data type is strax's ``{data_type: [PluginName, version, {option: value}]}``
for the data type and every data type it is computed from (tracked options only).  Its hash,
:func:`lineage_hash`, is strax's :func:`deterministic_hash` of that dict, so a file made here
and the same file made by strax 2.2.3 carry the same ten characters.

Options
    :mod:`superruns.model.options` resolves option values per run (overrides, per-run defaults);
    :mod:`superruns.base.hashing` holds strax's ``deterministic_hash``. Both are re-exported here.

Superruns
    A subrun's lineage resolves per-run defaults to that run's value.  A superrun's lineage
    (:func:`superrun_lineage`) gives each per-run-default option the value
    ``"<SUBRUN-DEPENDENT:{deterministic_hash(default_per_run)}>"`` -- the form strax's
    ``get_default`` returns for ids starting with ``_``, which its Context never reaches -- so
    changing the per-run specification changes the superrun's hash.  The subruns of a
    superrun must agree on everything else: :func:`compare_lineages` lists what differs.

The functions take a registry of plugins (:class:`superruns.model.plugins.Registry`, passed in, never
imported: plugins sit above this module and call it for their default lineage).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

# Re-exported: the hash and the option resolution are part of what a lineage is.
from ..base.errors import SuperrunsError
from ..base.hashing import canonical_json, deterministic_hash, hashablize, to_jsonable
from .options import (
    PER_RUN_KEY,
    Option,
    per_run_options,
    per_run_spec,
    plugin_options,
    resolve_option,
    resolve_options,
    run_number,
    unknown_options,
)

__all__ = [
    "ABSENT",
    "PER_RUN_KEY",
    "PER_RUN_MARKER",
    "Option",
    "LineageDifference",
    "LineageError",
    "compare_lineages",
    "deterministic_hash",
    "format_differences",
    "canonical_json",
    "hashablize",
    "lineage",
    "lineage_hash",
    "mask_per_run_options",
    "per_run_options",
    "per_run_spec",
    "plugin_options",
    "resolve_option",
    "resolve_options",
    "run_number",
    "subrun_dependent_value",
    "superrun_lineage",
    "to_jsonable",
    "unknown_options",
]

#: The value :func:`mask_per_run_options` gives every per-run-default option.
PER_RUN_MARKER = "<PER-RUN-DEFAULT>"


class LineageError(SuperrunsError, ValueError):
    """A stored lineage does not have strax's form."""


# --------------------------------------------------------------------------------------------
# Lineages
# --------------------------------------------------------------------------------------------

def subrun_dependent_value(spec: Any) -> str:
    """``"<SUBRUN-DEPENDENT:{deterministic_hash(spec)}>"``: a per-run option in a superrun.

    ``spec`` is the ``[[first_run, value], ...]`` list as given (tuples or lists alike; numpy
    scalars as their Python values).  strax's vector: ``[(0, 0), (1, 1)]`` -> ``tjb4ewtbrb``.
    """
    return f"<SUBRUN-DEPENDENT:{deterministic_hash(to_jsonable(spec, 'default_per_run'))}>"


def _build_lineage(registry, data_type: str, value_of) -> dict:
    result = {}
    for dt in sorted(registry.dependencies(data_type)):
        plugin = registry[dt]
        options = {option.name: to_jsonable(value_of(option), f"{dt}: option {option.name!r}")
                   for option in plugin_options(registry, dt) if option.track}
        result[dt] = [plugin.name, to_jsonable(plugin.version, f"{dt}: version"), options]
    return result


def lineage(registry, data_type: str, run_id: str | int | None,
            overrides: Mapping | None = None) -> dict:
    """strax's lineage of ``data_type`` for run ``run_id``, as plain JSON types.

    ``{dt: [plugin.name, plugin.version, {option: value for tracked options}]}`` for
    ``data_type`` and everything it depends on (recursively), per-run defaults resolved for
    ``run_id`` (None is fine when no per-run option is involved).
    """
    overrides = overrides or {}
    return _build_lineage(registry, data_type,
                          lambda option: resolve_option(option, run_id, overrides))


def superrun_lineage(registry, data_type: str, overrides: Mapping | None = None) -> dict:
    """:func:`lineage` for a superrun: per-run options get :func:`subrun_dependent_value`."""
    overrides = overrides or {}

    def value_of(option: Option) -> Any:
        spec = per_run_spec(option, overrides)
        if spec is not None:
            return subrun_dependent_value(spec)
        return resolve_option(option, None, overrides)

    return _build_lineage(registry, data_type, value_of)


def lineage_hash(lineage: Mapping) -> str:
    """``deterministic_hash(lineage)``: the ten characters in strax's data keys."""
    return deterministic_hash(lineage)


def _entry(lineage: Mapping, data_type: str) -> tuple[Any, Any, Mapping]:
    entry = lineage[data_type]
    if (not isinstance(entry, (list, tuple)) or len(entry) != 3
            or not isinstance(entry[2], Mapping)):
        raise LineageError(f"Malformed lineage entry for {data_type!r}: expected "
                         f"[plugin, version, {{option: value}}], got {entry!r}")
    return entry[0], entry[1], entry[2]


def mask_per_run_options(lineage: Mapping, per_run_options: Iterable[str]) -> dict:
    """A copy of ``lineage`` with every option named in ``per_run_options`` set to
    :data:`PER_RUN_MARKER`, in every data type: lineages that differ only there become equal."""
    masked_names = set(per_run_options)
    result = {}
    for dt in lineage:
        name, version, options = _entry(lineage, dt)
        result[dt] = [copy.deepcopy(name), copy.deepcopy(version),
                      {opt: PER_RUN_MARKER if opt in masked_names else copy.deepcopy(value)
                       for opt, value in options.items()}]
    return result


class _Absent:
    """The value of something a lineage does not have."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False

    def __reduce__(self):
        return (_Absent, ())


#: ``value_a`` / ``value_b`` of a :class:`LineageDifference` for what one lineage lacks.
ABSENT = _Absent()


class LineageDifference(NamedTuple):
    """One way two lineages differ.

    ``field`` is ``"data_type"`` (in one lineage only; the values are the entry and
    :data:`ABSENT`), ``"plugin"``, ``"version"`` or ``"option"`` (then ``option`` names it;
    a value is :data:`ABSENT` when only one lineage has the option).
    """

    data_type: str
    field: str
    option: str | None
    value_a: Any
    value_b: Any

    def describe(self, a_name: str = "the first lineage", b_name: str = "the second lineage") -> str:
        if self.field == "data_type":
            where = a_name if self.value_b is ABSENT else b_name
            return f"{self.data_type}: data type only in {where}"
        what = f"option {self.option!r}" if self.field == "option" else self.field
        return f"{self.data_type}: {what} differs: {_show(self.value_a)} vs {_show(self.value_b)}"

    def __str__(self) -> str:
        return self.describe()


def _show(value: Any, limit: int = 120) -> str:
    if value is ABSENT:
        return "(not set)"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def compare_lineages(a: Mapping, b: Mapping, per_run_options: Iterable[str] = ()) -> list[LineageDifference]:
    """Differences between two lineages, other than in the options named ``per_run_options``.

    Sorted by data type, then plugin, version, options by name.  Values are compared as
    :func:`deterministic_hash` sees them (``1`` differs from ``1.0`` and ``True``; a tuple equals
    the list of its items), so the result is empty exactly when the masked lineages have the
    same :func:`lineage_hash`.
    """
    ignored = set(per_run_options)
    differences = []
    for dt in sorted(set(a) | set(b)):
        if dt not in b:
            differences.append(LineageDifference(dt, "data_type", None, a[dt], ABSENT))
            continue
        if dt not in a:
            differences.append(LineageDifference(dt, "data_type", None, ABSENT, b[dt]))
            continue
        name_a, version_a, options_a = _entry(a, dt)
        name_b, version_b, options_b = _entry(b, dt)
        if canonical_json(name_a) != canonical_json(name_b):
            differences.append(LineageDifference(dt, "plugin", None, name_a, name_b))
        if canonical_json(version_a) != canonical_json(version_b):
            differences.append(LineageDifference(dt, "version", None, version_a, version_b))
        for opt in sorted(set(options_a) | set(options_b)):
            if opt in ignored:
                continue
            value_a = options_a.get(opt, ABSENT)
            value_b = options_b.get(opt, ABSENT)
            if value_a is ABSENT or value_b is ABSENT or canonical_json(value_a) != canonical_json(value_b):
                differences.append(LineageDifference(dt, "option", opt, value_a, value_b))
    return differences


def format_differences(diffs: Iterable[LineageDifference], a_name: str = "the first lineage",
                       b_name: str = "the second lineage") -> str:
    """One line per difference, e.g. ``peaks: option 'gain' differs: 1.0 vs 1.1``."""
    return "\n".join(diff.describe(a_name, b_name) for diff in diffs)
