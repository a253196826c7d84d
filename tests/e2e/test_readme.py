"""The README's Python block (``import superruns`` ...) works right after ``make demo``: every
line runs, in order, in one Python process in a demo built by snakemake in a temporary copy of
the repository. A line whose comment says it "needs" a package is skipped, with that reason,
only where the package is not installed (the ``test`` extra has pandas: there it runs)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from support.workflows import REPO, copy_demo

pytestmark = pytest.mark.e2e

README = REPO / "README.md"

# Runs the lines given as JSON in one namespace; prints, per line, {"outcome": "ran" | "skip" |
# "failed", "detail": ...} and, for an expression, a few facts of its value.
HARNESS = r'''
import importlib.util, json, re, sys, traceback

def facts(value):
    out = {"type": type(value).__name__}
    if hasattr(value, "dtype") and getattr(value.dtype, "names", None):
        out.update(n=len(value), fields=list(value.dtype.names))
    elif hasattr(value, "columns"):
        out.update(n=len(value), fields=[str(c) for c in value.columns])
    elif isinstance(value, (bool, int, str)):
        out["value"] = value
    return out

namespace, results = {}, []
for line in json.loads(sys.argv[1]):
    code, _, comment = line.partition("  #")
    needs = re.search(r"needs (\w+)", comment)
    if needs and importlib.util.find_spec(needs[1]) is None:
        results.append({"outcome": "skip", "detail": f"needs {needs[1]}, not installed here"})
        continue
    try:
        try:
            value = eval(compile(code, "README", "eval"), namespace)
        except SyntaxError:
            exec(compile(code, "README", "exec"), namespace)
            name = code.split("=", 1)[0].strip()
            value = namespace.get(name) if "=" in code and name.isidentifier() else None
        results.append({"outcome": "ran", "detail": facts(value)})
    except Exception:
        results.append({"outcome": "failed", "detail": traceback.format_exc()[-3000:]})
print(json.dumps(results))
'''


def block() -> list[str]:
    """The lines of the README's Python block that starts with ``import superruns``."""
    match = re.search(r"^```python\n(import superruns\n.*?)^```", README.read_text(), re.S | re.M)
    assert match, "README.md has no python block starting with 'import superruns'"
    return match[1].splitlines()


def line_id(line: str) -> str:
    name = re.match(r"\s*(?:(\w+) = )?(?:superruns\.)?(\w+)", line)
    return (name[1] or name[2]) if name else line[:20]


@pytest.fixture(scope="module")
def outcomes(built_demo, tmp_path_factory) -> list[dict]:
    demo = copy_demo(built_demo, tmp_path_factory.mktemp("demo"))
    result = subprocess.run([sys.executable, "-c", HARNESS, json.dumps(block())], cwd=demo,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("i", range(len(block())), ids=[f"{i}-{line_id(line)}" for i, line in enumerate(block())])
def test_every_line_of_the_readme_block_runs_after_make_demo(outcomes, i):
    outcome = outcomes[i]
    if outcome["outcome"] == "skip":
        pytest.skip(outcome["detail"])
    assert outcome["outcome"] == "ran", f"README line {block()[i]!r} failed:\n{outcome['detail']}"


def test_the_lines_give_what_their_comments_say(outcomes):
    by_name = {line_id(line): outcome["detail"] for line, outcome in zip(block(), outcomes)
               if outcome["outcome"] == "ran"}
    events = by_name["events"]
    assert events["type"] == "ndarray" and events["n"] > 0 and events["fields"][:2] == ["time", "endtime"]
    both = by_name["both"]        # event_basics and event_positions merged: the fields of both
    assert {"s1_area", "x"} <= set(both["fields"]) and both["fields"].count("time") == 1
    assert by_name["runs"]["fields"][0] == "run_id"
    assert by_name["any_version"] == events
    assert by_name["is_stored"] == {"type": "bool", "value": True}
    if "df" in by_name:
        assert by_name["df"]["type"] == "DataFrame" and by_name["df"]["n"] == events["n"]
