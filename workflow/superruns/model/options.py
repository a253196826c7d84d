"""Plugin options and their values per run.

An :class:`Option` is a tracked (lineage-relevant) setting of a plugin. Option names form one
namespace across plugins, as in strax: ``overrides[name]`` (the config's ``options:``)
replaces the default of every plugin option called ``name``. An override may itself be a
per-run specification ``{"default_per_run": [[first_run, value], ...]}``; an Option may also
declare ``default_per_run``.

Per-run defaults
    A run takes the value of the last entry whose ``first_run`` is not after the run, run ids
    being compared as integers (``"000123"`` is run 123).  strax 2.2.3 (``Option.get_default``
    in ``strax/config.py``) walks the list in order and stops at the first entry whose first
    run is after the run; for a sorted list that is the same rule, for an unsorted one it is
    not, so here the entries must be strictly increasing in ``first_run`` (an error otherwise).
    Differences from strax, on purpose: strax deletes every ``_`` from the run id before
    ``int()`` (``"2024_001"`` becomes run 2024001) and ``int()`` itself accepts blanks, signs
    and non-ASCII digits; here a run id must be ASCII digits only.  strax's "run before the
    first entry" message forgets its f-string (it prints ``{start_run}`` literally); ours names
    the option, the run and the first run.

The functions taking a ``registry`` need only ``registry[data_type]`` (an object with
``options``, ``name``) and ``registry.dependencies(data_type)``; iterating it gives the names.
"""

from __future__ import annotations

import copy
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.errors import SuperrunsError

__all__ = ["PER_RUN_KEY", "Option", "OptionError", "override_problems", "per_run_options", "per_run_spec",
           "plugin_options", "resolve_option", "resolve_options", "run_number", "typed_overrides",
           "unknown_options", "value_problem"]

#: The key of a per-run override: ``options: {name: {"default_per_run": [[run, value], ...]}}``.
PER_RUN_KEY = "default_per_run"


class OptionError(SuperrunsError, ValueError):
    """An option's value or per-run specification is invalid; the message names the option."""


@dataclass(frozen=True)
class Option:
    """A tracked (lineage-relevant) setting of a plugin.

    ``default_per_run`` is ``[[first_run, value], ...]``: a run takes the value of the last
    entry whose ``first_run`` is not after it (run ids compared as integers, as in strax).
    What a value may be (checked when a workflow is parsed, :func:`value_problem`): ``kind``, a
    type or tuple of types (None: the kind of the default); ``minimum``, ``maximum`` and
    ``exclusive_minimum`` bound a number, or each number of a list (as in JSON schema). None of
    them is part of the lineage.
    """

    name: str
    default: Any = None
    default_per_run: list | None = None
    track: bool = True
    help: str = ""
    kind: Any = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None


_DIGITS = re.compile(r"[0-9]+")


def run_number(run_id: str | int, option_name: str | None = None) -> int:
    """The integer a run id stands for in per-run defaults: ``"000123"`` -> 123.

    Only ASCII digits are accepted (strax would also drop underscores: see the module doc).
    """
    if isinstance(run_id, (int, np.integer)) and not isinstance(run_id, (bool, np.bool_)):
        if run_id >= 0:
            return int(run_id)
    elif isinstance(run_id, str) and _DIGITS.fullmatch(run_id):
        return int(run_id)
    what = (f"Option {option_name!r} has per-run defaults (default_per_run), which need"
            if option_name else "Per-run defaults (default_per_run) need")
    raise OptionError(f"{what} numeric run ids, but run id {run_id!r} is not a non-negative "
                     "integer (only the digits 0-9)")


def _first_run(entry_run: Any, option_name: str) -> int:
    if isinstance(entry_run, (bool, np.bool_)):
        raise OptionError(f"Option {option_name!r}: default_per_run first run {entry_run!r} "
                         "is not a run number")
    if isinstance(entry_run, (int, np.integer)) and entry_run >= 0:
        return int(entry_run)
    if isinstance(entry_run, str) and _DIGITS.fullmatch(entry_run):
        return int(entry_run)
    raise OptionError(f"Option {option_name!r}: default_per_run first run {entry_run!r} is not "
                     "a run number (a non-negative integer or a string of digits)")


def _checked_spec(spec: Any, option_name: str) -> list[tuple[int, Any]]:
    """``[(first_run as int, value), ...]`` of a per-run specification, validated."""
    if not isinstance(spec, (list, tuple)):
        raise OptionError(f"Option {option_name!r}: default_per_run must be a list of "
                         f"[first_run, value] pairs, not {spec!r}")
    entries = []
    for entry in spec:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise OptionError(f"Option {option_name!r}: default_per_run entry {entry!r} is not a "
                             "[first_run, value] pair")
        entries.append((_first_run(entry[0], option_name), entry[1]))
    if not entries:
        raise OptionError(f"Option {option_name!r}: default_per_run is empty")
    for (run_a, _), (run_b, _) in zip(entries, entries[1:]):
        if run_b <= run_a:
            raise OptionError(f"Option {option_name!r}: default_per_run entries must be sorted by "
                             f"first run, each first run once; run {run_b} comes after {run_a}")
    return entries


def per_run_spec(option: Option, overrides: Mapping | None = None) -> list | None:
    """The ``[[first_run, value], ...]`` specification that applies to ``option``, or None.

    An override of the option's name wins over the option's own default: a plain value makes
    the option run-independent, ``{"default_per_run": [...]}`` makes it per-run.  The
    specification is validated (a ``ValueError`` naming the option) and returned as given.
    """
    overrides = overrides or {}
    if option.name in overrides:
        value = overrides[option.name]
        if isinstance(value, Mapping) and PER_RUN_KEY in value:
            if len(value) != 1:
                extra = ", ".join(repr(k) for k in value if k != PER_RUN_KEY)
                raise OptionError(f"Option {option.name!r}: a per-run override has only the key "
                                 f"'default_per_run', not also {extra}")
            spec = value[PER_RUN_KEY]
        else:
            return None
    elif option.default_per_run is not None:
        spec = option.default_per_run
    else:
        return None
    _checked_spec(spec, option.name)
    return spec


def resolve_option(option: Option, run_id: str | int | None, overrides: Mapping | None = None) -> Any:
    """The value of ``option`` for run ``run_id``: override, per-run default or default.

    Per-run: the value of the last entry whose first run is not after the run (see the module
    doc); a run before the first entry, or a run id that is not an integer, is a ``ValueError``
    naming the option and the run.  The value is a deep copy (plugins may not alter the config).
    """
    overrides = overrides or {}
    spec = per_run_spec(option, overrides)
    if spec is None:
        value = overrides[option.name] if option.name in overrides else option.default
        return copy.deepcopy(value)
    if run_id is None:
        raise OptionError(f"Option {option.name!r} has per-run defaults (default_per_run), so it "
                         "needs a run id to be resolved")
    entries = _checked_spec(spec, option.name)
    number = run_number(run_id, option.name)
    index = bisect_right([first for first, _ in entries], number) - 1
    if index < 0:
        raise OptionError(f"Option {option.name!r} has no per-run default for run {run_id!r}: its "
                         f"default_per_run starts at run {entries[0][0]}")
    return copy.deepcopy(entries[index][1])


def plugin_options(registry, data_type: str) -> tuple[Option, ...]:
    plugin = registry[data_type]
    names = [option.name for option in plugin.options]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise OptionError(f"Plugin {plugin.name} ({data_type!r}) declares option(s) "
                         f"{', '.join(map(repr, doubled))} more than once")
    return tuple(plugin.options)


def resolve_options(registry, data_type: str, run_id: str | int | None,
                    overrides: Mapping | None = None) -> dict[str, Any]:
    """``{option: value}`` for every option (tracked or not) of the plugin of ``data_type``."""
    return {option.name: resolve_option(option, run_id, overrides)
            for option in plugin_options(registry, data_type)}


def per_run_options(registry, data_type: str, overrides: Mapping | None = None) -> set[str]:
    """Names of the per-run-default options (tracked or not) of ``data_type`` and its dependencies."""
    return {option.name
            for dt in registry.dependencies(data_type)
            for option in plugin_options(registry, dt)
            if per_run_spec(option, overrides) is not None}


def unknown_options(registry, overrides: Mapping | None) -> list[str]:
    """Names in ``overrides`` that no plugin of the registry declares (sorted)."""
    known = {option.name for dt in registry for option in registry[dt].options}
    return sorted(name for name in (overrides or {}) if name not in known)


def _typed(text: str, example: Any) -> Any:
    """``text`` read as YAML when that gives a value of ``example``'s kind, else ``text``."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    kind = ((int, float) if isinstance(example, float)
            else list if isinstance(example, (list, tuple)) else type(example))
    if isinstance(value, bool) and not isinstance(example, bool):    # yes/no is no number
        return text
    return value if isinstance(value, kind) else text


def typed_overrides(registry, overrides: Mapping | None) -> dict:
    """``overrides`` with option values given as text read as YAML where the option's default
    is not text: Snakemake's ``--config 'options={peak_min_channels: 3}'`` hands over ``'3'``,
    which would be another lineage than ``3`` in config.yaml, and no number to compute with.
    Per-run entries (``default_per_run``) are read the same way, their first runs as numbers."""
    defaults = {option.name: _example_value(option) for dt in registry for option in registry[dt].options}
    typed = {}
    for name, value in (overrides or {}).items():
        default = defaults.get(name)
        if isinstance(value, str) and default is not None and not isinstance(default, str):
            value = _typed(value, default)
        elif isinstance(value, Mapping) and isinstance(value.get(PER_RUN_KEY), list) and default is not None:
            value = {**value, PER_RUN_KEY: [_typed_entry(entry, default) for entry in value[PER_RUN_KEY]]}
        typed[name] = value
    return typed


def _example_value(option: Option) -> Any:
    """A value of the kind the option takes: its default, or its first per-run default."""
    if option.default is None and option.default_per_run:
        return option.default_per_run[0][1]
    return option.default


def _typed_entry(entry: Any, default: Any) -> Any:
    if not isinstance(entry, (list, tuple)) or len(entry) != 2:
        return entry                                     # _checked_spec names the problem
    first, value = entry
    if isinstance(first, str) and _DIGITS.fullmatch(first):
        first = int(first)
    if isinstance(value, str) and not isinstance(default, str):
        value = _typed(value, default)
    return [first, value]


def _kind_of(example: Any):
    """The types a value must be of, from an example (bools are no numbers; a float option
    takes an int; None: anything)."""
    if example is None:
        return None
    if isinstance(example, bool):
        return (bool,)
    if isinstance(example, int):
        return (int,)
    if isinstance(example, float):
        return (int, float)
    if isinstance(example, (list, tuple)):
        return (list, tuple)
    return (type(example),)


def _numbers(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _numbers(item)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def value_problem(option: Option, value: Any) -> str | None:
    """Why ``value`` cannot be ``option``'s (its kind, its bounds), or None."""
    kinds = option.kind if option.kind is not None else _kind_of(_example_value(option))
    kinds = (kinds,) if isinstance(kinds, type) else kinds
    if kinds is not None and (not isinstance(value, tuple(kinds)) or
                              (isinstance(value, bool) and bool not in kinds)):
        wanted = " or ".join(sorted({k.__name__ for k in kinds}))
        return f"{value!r} is a {type(value).__name__}, not a {wanted}"
    for x in _numbers(value):
        if option.minimum is not None and x < option.minimum:
            return f"{x!r} is below its minimum {option.minimum}"
        if option.exclusive_minimum is not None and x <= option.exclusive_minimum:
            return f"{x!r} is not above {option.exclusive_minimum}"
        if option.maximum is not None and x > option.maximum:
            return f"{x!r} is above its maximum {option.maximum}"
    return None


def override_problems(registry, overrides: Mapping | None) -> list[tuple[str, str]]:
    """``(option name, problem)`` of each override (a plain value, or each value of its
    ``default_per_run``) that the options of that name cannot take."""
    declared = {option.name: option for dt in registry for option in registry[dt].options}
    problems = []
    for name, value in (overrides or {}).items():
        option = declared.get(name)
        if option is None:
            continue
        per_run = isinstance(value, Mapping) and PER_RUN_KEY in value
        values = [entry[1] for entry in value[PER_RUN_KEY] if isinstance(entry, (list, tuple)) and len(entry) == 2] \
            if per_run and isinstance(value[PER_RUN_KEY], list) else [value]
        for one in values:
            problem = value_problem(option, one)
            if problem:
                problems.append((name, problem))
                break
    return problems
