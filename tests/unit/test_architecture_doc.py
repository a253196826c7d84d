"""docs/architecture.md lists exactly the package's modules: a module added, removed or
renamed without the page fails here, naming what to add or remove."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "workflow" / "superruns"
DOC = REPO / "docs" / "architecture.md"


def package_modules(package: Path) -> set[str]:
    """Dotted names of a package's modules and subpackages (``__main__`` aside)."""
    names = set()
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package).with_suffix("").parts)
        if parts[-1] == "__main__" or (parts == ["__init__"]):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join(parts))
    return names


def documented_modules(text: str) -> set[str]:
    """The modules named in the first column of the page's module table."""
    return set(re.findall(r"^\| `([a-z_][a-z0-9_.]*)` \|", text, flags=re.M))


def test_the_architecture_page_lists_exactly_the_modules():
    actual, documented = package_modules(PACKAGE), documented_modules(DOC.read_text())
    assert len(actual) > 30
    assert not actual - documented, f"add to {DOC.name}: {sorted(actual - documented)}"
    assert not documented - actual, f"remove from {DOC.name}: {sorted(documented - actual)}"


def test_the_check_sees_a_new_module(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for name in ("__init__.py", "a.py", "sub/__init__.py", "sub/b.py", "__main__.py"):
        (tmp_path / "pkg" / name).write_text("")
    assert package_modules(tmp_path / "pkg") == {"a", "sub", "sub.b"}
    assert documented_modules("| `a` | x |\n| `sub.b` | y |\n| module | holds |\n") == {"a", "sub.b"}


def documented_ranks(text: str) -> dict[str, int]:
    """``{folder: rank}`` from the page's layer table (``| 7 | `orchestration/` | ... |``;
    ``__init__.py``, the public API, is folder "")."""
    ranks = {}
    for rank, folders in re.findall(r"^\| (\d+) \| (`[^|]+`) \|", text, flags=re.M):
        for folder in re.findall(r"`([^`]+)`", folders):
            ranks["" if folder == "__init__.py" else folder.rstrip("/")] = int(rank)
    return ranks


def test_the_architecture_page_draws_the_layers_the_test_enforces():
    from test_architecture import RANKS

    assert documented_ranks(DOC.read_text()) == RANKS


def test_the_layer_table_is_read_as_written():
    text = "| 8 | `cli/`, `__init__.py` | x |\n| 0 | `base/` | y |\n| rank | folder | holds |\n"
    assert documented_ranks(text) == {"cli": 8, "": 8, "base": 0}
