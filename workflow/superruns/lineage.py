"""Lineages and their hashes: what a stored file was computed with.

The lineage of a data type is strax's ``{data_type: [PluginName, version, {option: value}]}``
for the data type and every data type it is computed from (tracked options only).  Its hash,
:func:`lineage_hash`, is strax's :func:`deterministic_hash` of that dict, so a file made here
and the same file made by strax 2.2.3 carry the same ten characters.

Options
    Option names form one namespace across plugins, as in strax: ``overrides[name]`` (the
    config's ``options:``) replaces the default of every plugin option called ``name``.  An
    override may itself be a per-run specification ``{"default_per_run": [[first_run, value],
    ...]}``; an :class:`~superruns.plugins.Option` may also declare ``default_per_run``.

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

Superruns
    A subrun's lineage resolves per-run defaults to that run's value.  A superrun's lineage
    (:func:`superrun_lineage`) gives each per-run-default option the value
    ``"<SUBRUN-DEPENDENT:{deterministic_hash(default_per_run)}>"`` -- the form strax's
    ``get_default`` returns for ids starting with ``_``, which its Context never reaches -- so
    changing the per-run specification changes the superrun's hash.  The subruns of a
    superrun must agree on everything else: :func:`compare_lineages` lists what differs.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from superruns.plugins import Option, Registry

__all__ = [
    "ABSENT",
    "PER_RUN_MARKER",
    "LineageDifference",
    "compare_lineages",
    "deterministic_hash",
    "format_differences",
    "hashablize",
    "lineage",
    "lineage_hash",
    "mask_per_run_options",
    "per_run_options",
    "per_run_spec",
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

#: The key of a per-run override: ``options: {name: {"default_per_run": [[run, value], ...]}}``.
PER_RUN_KEY = "default_per_run"


# --------------------------------------------------------------------------------------------
# strax's deterministic_hash
# --------------------------------------------------------------------------------------------

def hashablize(obj: Any) -> Any:
    """Make a container hierarchy hashable, exactly as strax 2.2.3's ``strax.hashablize``.

    In order: a Mapping becomes a plain dict; an object ``hash()`` accepts is returned as it is
    (a tuple of scalars stays a tuple, a ``bytes`` or ``frozenset`` stays too); a dict becomes
    the tuple of its ``(key, hashablize(value))`` pairs in ``sorted(items)`` order (keys are not
    converted); a numpy array becomes ``tuple(array.tolist())`` (not converted further: the rows
    of a 2-d array stay lists); any other object with ``__iter__`` becomes the tuple of its
    hashablized items, in iteration order -- for a ``set`` of strings that order depends on
    ``PYTHONHASHSEED``, so strax's hash of such a set differs between processes; anything else
    is a ``TypeError``.
    """
    if isinstance(obj, Mapping):
        obj = dict(obj)
    try:
        hash(obj)
    except TypeError:
        pass
    else:
        return obj
    if isinstance(obj, dict):
        pairs = sorted(obj.items())
        return tuple((key, hashablize(value)) for key, value in pairs)
    if isinstance(obj, np.ndarray):
        return tuple(obj.tolist())
    if hasattr(obj, "__iter__"):
        return tuple(hashablize(item) for item in obj)
    raise TypeError(f"Can't hashablize object of type {type(obj)!r}")


def _json_fallback(obj: Any) -> Any:
    """What strax's ``NumpyJSONEncoder.default`` makes of an object ``json`` can't encode.

    The order matters and is strax's: any iterable first (each item passed through this same
    function, *not* through the normal encoder, so a ``frozenset`` of numpy integers encodes
    but one of Python ints raises, and ``b""`` encodes as ``[]`` while ``b"a"`` raises), then
    numpy integers to ``int``, numpy floats to ``float``, (0-d) arrays to ``tolist()``.  numpy
    bools are none of these: ``np.bool_`` is a ``TypeError``, as in strax.
    """
    if isinstance(obj, str) and obj:
        # strax iterates a one-character string into itself until RecursionError.
        raise TypeError(f"Can't JSON-encode the string {obj!r} inside a non-JSON iterable "
                        "(strax's encoder recurses forever on it)")
    try:
        items = iter(obj)
    except TypeError:
        pass
    else:
        return [_json_fallback(item) for item in items]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class _StraxJSONEncoder(json.JSONEncoder):
    """``json.JSONEncoder`` whose fallback is :func:`_json_fallback` (strax's numpy encoder)."""

    def default(self, o: Any) -> Any:
        return _json_fallback(o)


def deterministic_hash(thing: Any, length: int = 10) -> str:
    """strax 2.2.3's ``strax.deterministic_hash``: bit-identical for every input it accepts.

    :func:`hashablize`, then ``json.dumps`` (default separators ``", "`` and ``": "``, ASCII
    only, numpy integers/floats as ``int``/``float``), SHA-1 of the ASCII bytes, base32, the
    first ``length`` characters, lowercase.  Dict keys are sorted, so key order never matters;
    ``1``, ``1.0`` and ``True`` hash differently (``1``, ``1.0``, ``true``); a tuple and a list
    with the same items hash alike.
    """
    text = json.dumps(hashablize(thing), cls=_StraxJSONEncoder)
    digest = hashlib.sha1(text.encode("ascii")).digest()
    return base64.b32encode(digest)[:length].decode("ascii").lower()


def _canonical(value: Any) -> str:
    """The JSON text :func:`deterministic_hash` hashes: equal texts, equal hashes."""
    return json.dumps(hashablize(value), cls=_StraxJSONEncoder)


# --------------------------------------------------------------------------------------------
# JSON-able values
# --------------------------------------------------------------------------------------------

def to_jsonable(value: Any, where: str = "value") -> Any:
    """``value`` as plain JSON types, with the same :func:`deterministic_hash`.

    Tuples become lists, numpy scalars Python scalars (``np.bool_`` becomes ``bool``), numpy
    arrays nested lists, Mappings dicts.  The result survives ``json.loads(json.dumps(...))``
    unchanged, so a lineage hashes alike before and after it is stored as JSON metadata.
    Refused with a ``TypeError`` naming ``where``: dicts with non-string keys (JSON would make
    the keys strings and change the hash), sets (strax hashes them in iteration order, which
    is not stable between processes), bytes, object arrays and other objects.
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return None if value is None else bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: dict key {key!r} is not a string; JSON would store it "
                                "as a string and the lineage hash would change (use string keys)")
            result[str(key)] = to_jsonable(item, f"{where}[{key!r}]")
        return result
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufU":
            raise TypeError(f"{where}: numpy arrays of dtype {value.dtype} can't be part of a "
                            "lineage (use numbers, strings or booleans)")
        return to_jsonable(value.tolist(), where)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        raise TypeError(f"{where}: sets can't be part of a lineage (their order, hence the hash, "
                        "changes between processes); use a sorted list")
    raise TypeError(f"{where}: a value of type {type(value).__name__} can't be part of a "
                    "lineage (use None, booleans, numbers, strings, lists and string-keyed dicts)")


# --------------------------------------------------------------------------------------------
# Option resolution
# --------------------------------------------------------------------------------------------

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
    raise ValueError(f"{what} numeric run ids, but run id {run_id!r} is not a non-negative "
                     "integer (only the digits 0-9)")


def _first_run(entry_run: Any, option_name: str) -> int:
    if isinstance(entry_run, (bool, np.bool_)):
        raise ValueError(f"Option {option_name!r}: default_per_run first run {entry_run!r} "
                         "is not a run number")
    if isinstance(entry_run, (int, np.integer)) and entry_run >= 0:
        return int(entry_run)
    if isinstance(entry_run, str) and _DIGITS.fullmatch(entry_run):
        return int(entry_run)
    raise ValueError(f"Option {option_name!r}: default_per_run first run {entry_run!r} is not "
                     "a run number (a non-negative integer or a string of digits)")


def _checked_spec(spec: Any, option_name: str) -> list[tuple[int, Any]]:
    """``[(first_run as int, value), ...]`` of a per-run specification, validated."""
    if not isinstance(spec, (list, tuple)):
        raise ValueError(f"Option {option_name!r}: default_per_run must be a list of "
                         f"[first_run, value] pairs, not {spec!r}")
    entries = []
    for entry in spec:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise ValueError(f"Option {option_name!r}: default_per_run entry {entry!r} is not a "
                             "[first_run, value] pair")
        entries.append((_first_run(entry[0], option_name), entry[1]))
    if not entries:
        raise ValueError(f"Option {option_name!r}: default_per_run is empty")
    for (run_a, _), (run_b, _) in zip(entries, entries[1:]):
        if run_b <= run_a:
            raise ValueError(f"Option {option_name!r}: default_per_run entries must be sorted by "
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
                raise ValueError(f"Option {option.name!r}: a per-run override has only the key "
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
        raise ValueError(f"Option {option.name!r} has per-run defaults (default_per_run), so it "
                         "needs a run id to be resolved")
    entries = _checked_spec(spec, option.name)
    number = run_number(run_id, option.name)
    index = bisect_right([first for first, _ in entries], number) - 1
    if index < 0:
        raise ValueError(f"Option {option.name!r} has no per-run default for run {run_id!r}: its "
                         f"default_per_run starts at run {entries[0][0]}")
    return copy.deepcopy(entries[index][1])


def _plugin_options(registry: Registry, data_type: str) -> tuple[Option, ...]:
    plugin = registry[data_type]
    names = [option.name for option in plugin.options]
    doubled = sorted({name for name in names if names.count(name) > 1})
    if doubled:
        raise ValueError(f"Plugin {plugin.name} ({data_type!r}) declares option(s) "
                         f"{', '.join(map(repr, doubled))} more than once")
    return tuple(plugin.options)


def resolve_options(registry: Registry, data_type: str, run_id: str | int | None,
                    overrides: Mapping | None = None) -> dict[str, Any]:
    """``{option: value}`` for every option (tracked or not) of the plugin of ``data_type``."""
    return {option.name: resolve_option(option, run_id, overrides)
            for option in _plugin_options(registry, data_type)}


def per_run_options(registry: Registry, data_type: str, overrides: Mapping | None = None) -> set[str]:
    """Names of the per-run-default options (tracked or not) of ``data_type`` and its dependencies."""
    return {option.name
            for dt in registry.dependencies(data_type)
            for option in _plugin_options(registry, dt)
            if per_run_spec(option, overrides) is not None}


def unknown_options(registry: Registry, overrides: Mapping | None) -> list[str]:
    """Names in ``overrides`` that no plugin of the registry declares (sorted)."""
    known = {option.name for dt in registry for option in registry[dt].options}
    return sorted(name for name in (overrides or {}) if name not in known)


# --------------------------------------------------------------------------------------------
# Lineages
# --------------------------------------------------------------------------------------------

def subrun_dependent_value(spec: Any) -> str:
    """``"<SUBRUN-DEPENDENT:{deterministic_hash(spec)}>"``: a per-run option in a superrun.

    ``spec`` is the ``[[first_run, value], ...]`` list as given (tuples or lists alike; numpy
    scalars as their Python values).  strax's vector: ``[(0, 0), (1, 1)]`` -> ``tjb4ewtbrb``.
    """
    return f"<SUBRUN-DEPENDENT:{deterministic_hash(to_jsonable(spec, 'default_per_run'))}>"


def _build_lineage(registry: Registry, data_type: str, value_of) -> dict:
    result = {}
    for dt in sorted(registry.dependencies(data_type)):
        plugin = registry[dt]
        options = {option.name: to_jsonable(value_of(option), f"{dt}: option {option.name!r}")
                   for option in _plugin_options(registry, dt) if option.track}
        result[dt] = [plugin.name, to_jsonable(plugin.version, f"{dt}: version"), options]
    return result


def lineage(registry: Registry, data_type: str, run_id: str | int | None,
            overrides: Mapping | None = None) -> dict:
    """strax's lineage of ``data_type`` for run ``run_id``, as plain JSON types.

    ``{dt: [plugin.name, plugin.version, {option: value for tracked options}]}`` for
    ``data_type`` and everything it depends on (recursively), per-run defaults resolved for
    ``run_id`` (None is fine when no per-run option is involved).
    """
    overrides = overrides or {}
    return _build_lineage(registry, data_type,
                          lambda option: resolve_option(option, run_id, overrides))


def superrun_lineage(registry: Registry, data_type: str, overrides: Mapping | None = None) -> dict:
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
        raise ValueError(f"Malformed lineage entry for {data_type!r}: expected "
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
        if _canonical(name_a) != _canonical(name_b):
            differences.append(LineageDifference(dt, "plugin", None, name_a, name_b))
        if _canonical(version_a) != _canonical(version_b):
            differences.append(LineageDifference(dt, "version", None, version_a, version_b))
        for opt in sorted(set(options_a) | set(options_b)):
            if opt in ignored:
                continue
            value_a = options_a.get(opt, ABSENT)
            value_b = options_b.get(opt, ABSENT)
            if value_a is ABSENT or value_b is ABSENT or _canonical(value_a) != _canonical(value_b):
                differences.append(LineageDifference(dt, "option", opt, value_a, value_b))
    return differences


def format_differences(diffs: Iterable[LineageDifference], a_name: str = "the first lineage",
                       b_name: str = "the second lineage") -> str:
    """One line per difference, e.g. ``peaks: option 'gain' differs: 1.0 vs 1.1``."""
    return "\n".join(diff.describe(a_name, b_name) for diff in diffs)
