"""The import graph of the package is one-way: no cycles, the strax bridge only above the core.

Every ``import`` of every module counts, function-level and relative ones included (a lazy
import is still a dependency). The bridge, ``superruns.straxio``, may import the core; no
module outside it imports it or strax, and ``rules/`` mention it only in ``strax.smk`` (the
Snakefile includes that file only when the config has a ``strax:`` section).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "workflow" / "superruns"
BRIDGE = "superruns.straxio"
FOREIGN = ("strax", "straxen")       # the libraries only the bridge may import


class Import(NamedTuple):
    module: str         # the importing module
    target: str         # the module imported (a package module, or a top-level library)
    line: int


def package_modules(package_dir: Path) -> dict[str, Path]:
    """``{dotted module name: file}`` of every module of the package rooted at ``package_dir``."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute module name of a (possibly relative) ``from ... import``."""
    if not level:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _import_module_call(node: ast.AST) -> str | None:
    """The constant module name of ``importlib.import_module("...")``, if ``node`` is one."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module" and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")):
        return node.args[0].value
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import in ``path``, at any depth. ``from X import name`` counts as an import of
    ``X.name`` when that is a module of the package, else of ``X``."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append(Import(module, submodule if submodule in modules else source, node.lineno))
        elif (target := _import_module_call(node)) is not None:
            found.append(Import(module, target, node.lineno))
    return found


def all_imports(package_dir: Path) -> list[Import]:
    modules = package_modules(package_dir)
    return [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """``{module: {package modules it imports}}``."""
    modules = package_modules(package_dir)
    graph = {name: set() for name in modules}
    for imp in all_imports(package_dir):
        if imp.target in modules and imp.target != imp.module:
            graph[imp.module].add(imp.target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}          # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def bridge_violations(package_dir: Path, bridge: str = BRIDGE) -> list[Import]:
    """Imports of the bridge, or of strax, by modules outside the bridge."""
    return [imp for imp in all_imports(package_dir)
            if not _within(imp.module, bridge)
            and (_within(imp.target, bridge) or imp.target.split(".")[0] in FOREIGN)]


# -- the package --------------------------------------------------------------------------------


def test_the_checker_sees_the_package():
    graph = import_graph(PACKAGE_DIR)
    assert "superruns.project" in graph and "superruns.straxio.producer" in graph
    assert "superruns.plugins" in graph["superruns.project"]          # a function-level import
    assert "superruns.project" in graph["superruns.straxio.frontend"]  # the bridge above the core


def test_no_import_cycle():
    cycle = find_cycle(import_graph(PACKAGE_DIR))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_only_the_bridge_imports_the_bridge_or_strax():
    found = bridge_violations(PACKAGE_DIR)
    assert not found, "\n".join(f"{i.module} (line {i.line}) imports {i.target}" for i in found)


def test_rules_other_than_strax_smk_do_not_mention_the_bridge():
    rules = [p for p in sorted((REPO / "rules").glob("*.smk")) if p.name != "strax.smk"]
    assert rules
    for path in rules + [REPO / "Snakefile"]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert "straxio" not in line and "import strax" not in line, f"{path.name}:{number}: {line}"


# -- the checker flags what it must ---------------------------------------------------------------


def _fake_package(root: Path, files: dict[str, str]) -> Path:
    package_dir = root / "superruns"
    for name, text in {"__init__.py": "", "straxio/__init__.py": "", **files}.items():
        (package_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (package_dir / name).write_text(text)
    return package_dir


def test_a_core_module_importing_the_bridge_is_flagged(tmp_path):
    package_dir = _fake_package(tmp_path, {
        "core.py": "def registry():\n    from .straxio.registry import StraxDataType\n",
        "other.py": "import numpy\n\ndef f():\n    import strax\n",
        "straxio/registry.py": "from ..core import registry\nimport strax\n",
    })
    found = {(i.module, i.target, i.line) for i in bridge_violations(package_dir)}
    assert found == {("superruns.core", "superruns.straxio.registry", 2),
                     ("superruns.other", "strax", 4)}


def test_a_cycle_through_a_lazy_import_is_flagged(tmp_path):
    package_dir = _fake_package(tmp_path, {
        "a.py": "from . import b\n",
        "b.py": "def f():\n    from superruns.c import g\n",
        "c.py": "def g():\n    from .a import x\n",
    })
    assert find_cycle(import_graph(package_dir)) == ["superruns.a", "superruns.b", "superruns.c", "superruns.a"]
    (package_dir / "c.py").write_text("def g():\n    pass\n")
    assert find_cycle(import_graph(package_dir)) is None
