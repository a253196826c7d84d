"""config/README.md is the configuration's schema in words, generated from it: it says every
key, and it is in sync (``make config-docs`` writes it)."""

from __future__ import annotations

import copy

from superruns.base.schema_docs import SCHEMA, config_reference, main
from superruns.base.schemas import load_schema

from support.workflows import REPO

PAGE = REPO / "config" / "README.md"


def test_config_readme_is_in_sync_with_the_schema():
    assert PAGE.read_text() == config_reference(), "run `make config-docs`: config/README.md differs from the schema"
    assert main(["--check", str(PAGE)]) == 0


def test_every_key_of_the_schema_has_a_row_with_its_meaning():
    page = config_reference()
    rows = [line for line in page.splitlines() if line.startswith("| `")]
    keys = [row.split("|")[1].strip().strip("`") for row in rows]
    schema = load_schema(SCHEMA)
    assert set(schema["properties"]) <= set(keys)
    assert {"storage.chunk_target_size_mb", "selections.NAME.cuts", "strax.in_place"} <= set(keys)
    assert all(not row.endswith("| - |") for row in rows), [r for r in rows if r.endswith("| - |")]


def test_a_schema_change_shows_on_the_page(tmp_path, capsys):
    schema = copy.deepcopy(load_schema(SCHEMA))
    schema["properties"]["new_key"] = {"type": "integer", "default": 3, "description": "a new | knob"}
    assert "| `new_key` | integer | `3` | a new \\| knob |" in config_reference(schema)
    stale = tmp_path / "README.md"
    stale.write_text(config_reference().replace("the run registry", "the runs"))
    assert main(["--check", str(stale)]) == 1 and "make config-docs" in capsys.readouterr().err
