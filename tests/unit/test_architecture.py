"""The package is layered by folder, and imports go only downward.

Each folder of ``workflow/superruns/`` is a layer with a rank (:data:`RANKS`, the table of
docs/architecture.md); a module may import modules of its own folder and of folders of a
lower rank, never of an equal or higher one. Inside a folder there is no cycle. Every
``import`` of every module counts, function-level and relative ones included (a lazy import
is still a dependency). The bridge, ``superruns.straxio``, is on top; no module outside it
imports it or strax, and ``rules/`` mention it only in ``strax.smk`` (the Snakefile includes
that file only when the config has a ``strax:`` section). The detector is a plugin module like
any other: the core never imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "workflow" / "superruns"
BRIDGE = "superruns.straxio"
FOREIGN = ("strax", "straxen")       # the libraries only the bridge may import
DETECTOR = "superruns.detector"
#: The layers, bottom up: a folder's rank, and the public API (the package's own
#: ``__init__``, folder "") beside the command line.
RANKS = {
    "base": 0,            # leaf helpers, one of each
    "model": 1,           # runs, plugins, options, lineages
    "definitions": 2,     # what a superrun holds
    "storage": 3,         # the file format, where files live, what they say they are
    "build": 4,           # making files: processing, concatenation, metadata
    "project": 5,         # one configuration tying the layers below together
    "stored": 6,          # reading and managing what is stored
    "orchestration": 7,   # what Snakemake runs and plans
    "cli": 8,             # the superruns command
    "": 8,                # the public API, superruns/__init__.py
    "detector": 9,        # the shipped simulated detector: a plugin module
    "straxio": 10,        # the strax bridge, on top
}


class Import(NamedTuple):
    module: str         # the importing module
    target: str         # the module imported (a package module, or a top-level library)
    line: int
    typing_only: bool = False   # under ``if TYPE_CHECKING:``: never executed


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


def _typing_only_lines(tree: ast.AST) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks (imports there name types for annotations)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import in ``path``, at any depth. ``from X import name`` counts as an import of
    ``X.name`` when that is a module of the package, else of ``X``."""
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    typing_only = _typing_only_lines(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append(Import(module, submodule if submodule in modules else source, node.lineno))
        elif (target := _import_module_call(node)) is not None:
            found.append(Import(module, target, node.lineno))
    return [imp._replace(typing_only=imp.line in typing_only) for imp in found]


def all_imports(package_dir: Path) -> list[Import]:
    modules = package_modules(package_dir)
    return [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """``{module: {package modules it imports when it runs}}``: imports under ``if
    TYPE_CHECKING:`` never run, so they make no cycle (they still count for the ranks)."""
    modules = package_modules(package_dir)
    graph = {name: set() for name in modules}
    for imp in all_imports(package_dir):
        if imp.target in modules and imp.target != imp.module and not imp.typing_only:
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


def layer_of(module: str) -> str:
    """The folder (layer) of a package module: ``superruns.build.cutting`` -> ``build``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in RANKS) else ""


def upward_imports(package_dir: Path, ranks: dict[str, int] = RANKS) -> list[Import]:
    """Imports of a package module of another layer whose rank is not lower."""
    modules = package_modules(package_dir)
    found = []
    for imp in all_imports(package_dir):
        if imp.target not in modules:
            continue
        own, other = layer_of(imp.module), layer_of(imp.target)
        if own != other and ranks[other] >= ranks[own]:
            found.append(imp)
    return found


def unranked_layers(package_dir: Path, ranks: dict[str, int] = RANKS) -> set[str]:
    return {layer_of(name) for name in package_modules(package_dir)} - set(ranks)


def bridge_violations(package_dir: Path, bridge: str = BRIDGE) -> list[Import]:
    """Imports of the bridge, or of strax, by modules outside the bridge."""
    return [imp for imp in all_imports(package_dir)
            if not _within(imp.module, bridge)
            and (_within(imp.target, bridge) or imp.target.split(".")[0] in FOREIGN)]


# -- the package --------------------------------------------------------------------------------


def test_the_checker_sees_the_package():
    graph = import_graph(PACKAGE_DIR)
    assert "superruns.project.project" in graph and "superruns.straxio.producer" in graph
    assert "superruns.model.plugins" in graph["superruns.project.project"]   # a function-level import
    assert "superruns.project" in graph["superruns.straxio.frontend"]        # the bridge above the core
    assert layer_of("superruns.build.cutting") == "build" and layer_of("superruns") == ""


def test_every_folder_is_a_ranked_layer_and_the_top_holds_only_the_api():
    assert not unranked_layers(PACKAGE_DIR), "give each new folder a rank in RANKS (and the doc)"
    top = sorted(p.name for p in PACKAGE_DIR.glob("*.py"))
    assert top == ["__init__.py"], f"modules belong in a layer's folder: {top}"


def test_imports_go_only_downward():
    found = upward_imports(PACKAGE_DIR)
    assert not found, "\n".join(f"{i.module} (line {i.line}) imports {i.target}: rank "
                                f"{RANKS[layer_of(i.module)]} -> {RANKS[layer_of(i.target)]}" for i in found)


def test_the_core_never_imports_the_detector():
    found = [i for i in all_imports(PACKAGE_DIR)
             if _within(i.target, DETECTOR) and not _within(i.module, DETECTOR)]
    assert not found, "\n".join(f"{i.module} (line {i.line}) imports {i.target}" for i in found)


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


def test_an_upward_import_is_flagged_even_inside_a_function(tmp_path):
    package_dir = _fake_package(tmp_path, {
        "base/__init__.py": "",
        "base/times.py": "def f():\n    from ..build.cutting import g\n",
        "build/__init__.py": "",
        "build/cutting.py": "from ..base.times import f\n\ndef g():\n    pass\n",
        "model/__init__.py": "",
        "model/runs.py": "from ..base import times\nfrom ..model import lineage\n",
        "model/lineage.py": "",
    })
    found = {(i.module, i.target, i.line) for i in upward_imports(package_dir)}
    assert found == {("superruns.base.times", "superruns.build.cutting", 2)}
    (package_dir / "base" / "times.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..model.runs import Run\n")
    found = {(i.module, i.target, i.line, i.typing_only) for i in upward_imports(package_dir)}
    assert found == {("superruns.base.times", "superruns.model.runs", 3, True)}   # types count too
    assert unranked_layers(package_dir, {**RANKS, "build": 4}) == set()
    assert unranked_layers(package_dir, {k: v for k, v in RANKS.items() if k != "build"}) == {"build"}


def test_a_cycle_through_a_lazy_import_is_flagged(tmp_path):
    package_dir = _fake_package(tmp_path, {
        "a.py": "from . import b\n",
        "b.py": "def f():\n    from superruns.c import g\n",
        "c.py": "def g():\n    from .a import x\n",
    })
    assert find_cycle(import_graph(package_dir)) == ["superruns.a", "superruns.b", "superruns.c", "superruns.a"]
    (package_dir / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import x\n")
    assert find_cycle(import_graph(package_dir)) is None      # a type-only import never runs


# -- the seam: what layers below the project are handed ----------------------------------------


def test_the_project_and_its_definitions_are_what_the_lower_layers_expect(project):
    """``Project`` satisfies :class:`superruns.model.seam.ProjectView`, the Protocol the model,
    definitions, storage and build layers type it with (they cannot import it), and its
    definitions satisfy ``DefinitionsView``: a member renamed on one side fails here."""
    import typing

    from superruns.model.seam import DefinitionsView, ProjectView

    assert isinstance(project, ProjectView) and isinstance(project.definitions, DefinitionsView)
    members = typing._get_protocol_attrs(ProjectView)      # what isinstance compares
    assert {"registry", "definitions", "lineage_hash", "run_metadata", "data_dir"} <= members

    class Partial:
        config = base_dir = data_dir = source = None

    assert not isinstance(Partial(), ProjectView)
