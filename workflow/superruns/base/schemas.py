"""The JSON schemas shipped in ``superruns/schemas/``: loading, validators, and fixes.

One validation layer: every file the package reads is checked against its schema here
first (cheaply: one witness per distinct shape of a long list), then by hand for what a
schema cannot say (times, ranges, references), in the module that owns the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["load_schema", "schema_validator", "schema_error_fix", "shape", "witness_list",
           "witness_map", "first_error"]


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    """A JSON schema shipped in ``superruns/schemas/``."""
    return json.loads(resources.files(__package__).joinpath("schemas", name).read_text())


@lru_cache(maxsize=None)
def schema_validator(name: str):
    """A ``jsonschema`` validator for a shipped schema (imported lazily: it is not cheap)."""
    import jsonschema

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_error_fix(error) -> str:
    """A short fix for a ``jsonschema`` error."""
    v = error.validator
    if v == "additionalProperties":
        allowed = sorted((error.schema.get("properties") or {}).keys())
        return f"remove it or fix the spelling; allowed keys: {', '.join(allowed)}"
    if v == "required":
        return f"add the missing key(s): {', '.join(error.validator_value)}"
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"give a value of type {want}"
    if v in ("anyOf", "oneOf") and error.schema.get("description"):
        return f"give {error.schema['description']}"
    if v == "enum":
        return "use one of " + ", ".join(repr(x) for x in error.validator_value)
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"give a value within the allowed range ({v} {error.validator_value})"
    if v in ("minItems", "maxItems"):
        return f"give the right number of items ({v} {error.validator_value})"
    return "see the JSON schema in superruns/schemas/ for the expected form"


def shape(value: Any) -> Any:
    """A hashable signature of a parsed value's structure: keys and types, not values.

    jsonschema costs ~80 µs per run entry (~1 s for 10,000 runs), so :func:`schema_witness`
    keeps one entry per distinct shape for the schema; the value rules (times, ranges, id
    patterns, uniqueness) are checked by hand for every entry anyway.
    """
    if isinstance(value, Mapping):
        return ("map", frozenset((k if isinstance(k, str) else ("key", type(k).__name__, repr(k)),
                                  shape(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("seq", frozenset(shape(v) for v in value))
    return type(value).__name__


def witness_list(items: list) -> list:
    """One item of ``items`` per distinct :func:`shape` (order kept)."""
    seen: dict = {}
    for item in items:
        seen.setdefault(shape(item), item)
    return list(seen.values())


def witness_map(mapping: Mapping) -> dict:
    """The entries of a mapping whose values have distinct :func:`shape`s (first of each)."""
    seen: dict = {}
    for key, value in mapping.items():
        seen.setdefault(shape(value), (key, value))
    return dict(seen.values())



def first_error(validator, document):
    """The first schema error of ``document`` in path order (a stable message), or None."""
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return errors[0] if errors else None
