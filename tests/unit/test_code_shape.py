"""The package stays small in its parts: no module over 500 lines, no function over 60.

Counted with ``ast`` from a ``def`` to the last line of its body (docstring and comments
included), so what a reader has to hold at once is what is measured. A decorator's lines
do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "workflow" / "superruns"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def oversized(source: str, name: str) -> list[str]:
    """What in ``source`` (the module ``name``) is over the limits, one line each."""
    found = []
    lines = source.count("\n") + (not source.endswith("\n"))
    if lines > MAX_MODULE_LINES:
        found.append(f"{name}: {lines} lines (limit {MAX_MODULE_LINES}): split it by concern")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.lineno} {node.name}: {length} lines "
                             f"(limit {MAX_FUNCTION_LINES}): break it into named steps")
    return found


def test_no_module_or_function_of_the_package_is_oversized():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 30
    problems = [problem for path in modules
                for problem in oversized(path.read_text(), str(path.relative_to(PACKAGE)))]
    assert not problems, "\n".join(problems)


def test_the_check_flags_a_long_function_and_a_long_module():
    long_function = "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    assert oversized(long_function, "m.py") == [
        f"m.py:1 f: {MAX_FUNCTION_LINES + 1} lines (limit {MAX_FUNCTION_LINES}): break it into named steps"]
    short_methods = "class A:\n" + "".join(f"    def m{i}(self):\n        pass\n" for i in range(260))
    assert oversized(short_methods, "m.py") == [
        f"m.py: 521 lines (limit {MAX_MODULE_LINES}): split it by concern"]
    assert oversized("def f():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1), "m.py") == []
