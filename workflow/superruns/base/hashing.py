"""strax's ``deterministic_hash`` and the JSON-able values it is computed from.

:func:`deterministic_hash` is bit-identical to strax 2.2.3's, so a file made here and the same
file made by strax carry the same lineage hash; :func:`to_jsonable` turns a value into plain
JSON types with the same hash, so a lineage hashes alike before and after it is stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import SuperrunsError

__all__ = ["LineageValueError", "canonical_json", "deterministic_hash", "file_digest", "hashablize", "to_jsonable"]


class LineageValueError(SuperrunsError, TypeError):
    """A value cannot be part of a lineage; the message names where it is and what to use.

    (:func:`hashablize` and :func:`deterministic_hash` raise a plain TypeError, exactly as strax.)"""


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
    if type(obj) is list and _int_pairs(obj):
        return tuple(map(tuple, obj))   # what the general path makes of it, ~30x faster
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


def _int_pairs(items: list) -> bool:
    """Whether ``items`` is a list of ``[int, int]`` lists (time ranges), Python ints only."""
    return all(type(x) is list and len(x) == 2 and type(x[0]) is int and type(x[1]) is int for x in items)


# strax's order: numpy integers, floats, then (0-d) arrays.
_NUMPY_TO_JSON = ((np.integer, int), (np.floating, float), (np.ndarray, np.ndarray.tolist))


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
    for numpy_type, convert in _NUMPY_TO_JSON:
        if isinstance(obj, numpy_type):
            return convert(obj)
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


def canonical_json(value: Any) -> str:
    """The JSON text :func:`deterministic_hash` hashes: equal texts, equal hashes."""
    return json.dumps(hashablize(value), cls=_StraxJSONEncoder)


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
                raise LineageValueError(f"{where}: dict key {key!r} is not a string; JSON would store it "
                                "as a string and the lineage hash would change (use string keys)")
            result[str(key)] = to_jsonable(item, f"{where}[{key!r}]")
        return result
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufU":
            raise LineageValueError(f"{where}: numpy arrays of dtype {value.dtype} can't be part of a "
                            "lineage (use numbers, strings or booleans)")
        return to_jsonable(value.tolist(), where)
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        raise LineageValueError(f"{where}: sets can't be part of a lineage (their order, hence the hash, "
                        "changes between processes); use a sorted list")
    raise LineageValueError(f"{where}: a value of type {type(value).__name__} can't be part of a "
                    "lineage (use None, booleans, numbers, strings, lists and string-keyed dicts)")


def file_digest(path) -> str:
    """sha256 of a file's bytes (hex, 16 characters): whether a configuration file changed."""
    from .files import read_regular

    return hashlib.sha256(read_regular(path, "a configuration file")).hexdigest()[:16]
