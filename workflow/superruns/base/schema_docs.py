"""``config/README.md``, generated from the configuration's JSON schema: every key of
``config/config.yaml`` with its type, default and meaning (as the snakemake-workflows catalog
expects a ``config/README.md``). The schema is the one truth; this page is its reading.

    python -m superruns.base.schema_docs > config/README.md      # make config-docs
    python -m superruns.base.schema_docs --check config/README.md

``tests/unit/test_config_docs.py`` fails when the file and the schema differ.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterator

from .schemas import load_schema

__all__ = ["config_reference", "main"]

SCHEMA = "config.schema.json"
SOURCE = "workflow/superruns/base/schemas/config.schema.json"

INTRO = f"""\
# Configuration

<!-- Generated from {SOURCE} by `make config-docs`; edit the schema, not
this page (tests/unit/test_config_docs.py fails when they differ). -->

Every path is relative to Snakemake's working directory (where `snakemake` runs, or `-d`),
which holds `config/config.yaml`. The files here:

| file | holds | checked against |
|---|---|---|
| `config.yaml` | the keys below | `config.schema.json` |
| `runs.yaml` | the run registry: id, start, end, mode, source, tags (the `runs:` key) | `runs.schema.json` |
| `superruns.yaml`, `superruns.d/*.yaml` | superrun definitions (README.md, docs/datasets.md) | `superruns.schema.json` |
| `dq/{{version}}.yaml` | data-quality versions (docs/datasets.md) | by hand |
| `superruns.lock.yaml` | the runs each query or sample superrun resolved to (`superruns lock`) | by hand |

The schemas are in `{SOURCE.rsplit('/', 1)[0]}/`. A key not listed below is refused, naming
the file and the fix. `.test/config*/` hold the small configurations CI runs.

## `config.yaml`

| key | type | default | meaning |
|---|---|---|---|
"""


def _type(spec: dict) -> str:
    if "enum" in spec:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in spec["enum"])
    kind = spec.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(kinds)
    if "array" in kinds and isinstance(spec.get("items"), dict):
        text = text.replace("array", f"list of {_type(spec['items'])}")
    if spec.get("pattern", "").endswith(":[A-Za-z_][A-Za-z0-9_]*$"):
        text += " (`module:function`)"
    return text


def _default(spec: dict) -> str:
    return f"`{json.dumps(spec['default'])}`" if "default" in spec else "-"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _rows(properties: dict, prefix: str = "", required=()) -> Iterator[list[str]]:
    for name, spec in properties.items():
        key = f"{prefix}{name}"
        meaning = spec.get("description", "")
        if name in required:
            meaning = f"required. {meaning}"
        yield [f"`{key}`", _type(spec), _default(spec), _cell(meaning) or "-"]
        if isinstance(spec.get("properties"), dict):
            yield from _rows(spec["properties"], f"{key}.", spec.get("required", ()))
        entry = spec.get("additionalProperties")
        if isinstance(entry, dict) and isinstance(entry.get("properties"), dict):
            yield from _rows(entry["properties"], f"{key}.NAME.", entry.get("required", ()))


def config_reference(schema: dict[str, Any] | None = None) -> str:
    """The Markdown of ``config/README.md`` from the configuration's schema."""
    schema = schema if schema is not None else load_schema(SCHEMA)
    rows = ["| " + " | ".join(row) + " |" for row in _rows(schema["properties"])]
    return INTRO + "\n".join(rows) + "\n"


def main(argv=None) -> int:
    """Print the page, or with ``--check PATH`` say whether PATH holds it (exit status 1 if not)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    page = config_reference()
    if argv[:1] == ["--check"]:
        with open(argv[1], encoding="utf-8") as handle:
            same = handle.read() == page
        if not same:
            print(f"{argv[1]} differs from {SOURCE}: run `make config-docs`", file=sys.stderr)
        return 0 if same else 1
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
