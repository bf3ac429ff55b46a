"""docs/architecture.md's module table against the package's real imports.

The table's "depends on" column is checked, not trusted: every module of
``pssr_nb`` has a row, and the row names exactly the modules it imports (at
the top or inside a function), apart from the foundations every module may use.
The layers must also run one way: no module imports, however indirectly, one
that imports it.
"""

from __future__ import annotations

import ast
import functools
import graphlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pssr_nb"
#: Modules any module may import without naming them in the table.
FOUNDATIONS = {"errors", "files", "params", "__init__"}
ROW = re.compile(r"^\| `(\w+)` \| .* \| ([^|]*) \|$")


@functools.cache
def real_imports() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    found = {}
    for path in PACKAGE.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    names.add(node.module.split(".")[0])
                else:  # from . import x
                    names.update(a.name for a in node.names)
        found[path.stem] = {n if n in modules else "__init__" for n in names} - {path.stem}
    return found


@functools.cache
def table() -> dict[str, set[str]]:
    rows = {}
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            rows[match.group(1)] = set(re.findall(r"`?(\w+)`?", match.group(2))) - {"—"}
    return rows


def test_every_module_has_a_row_and_every_row_a_module():
    imports, rows = real_imports(), table()
    entry_points = {"__init__", "__main__"}
    assert sorted(set(imports) - set(rows) - entry_points) == []
    assert sorted(set(rows) - set(imports)) == []


@pytest.mark.parametrize("module", sorted(table()))
def test_the_row_names_what_the_module_imports(module):
    real = real_imports()[module] - FOUNDATIONS
    assert table()[module] == real, (
        f"docs/architecture.md, row {module}: write '{', '.join(sorted(real)) or '—'}'"
    )


def test_the_imports_have_no_cycle():
    graph = {m: deps & set(real_imports()) for m, deps in real_imports().items()}
    graph["__init__"] = set()  # the package face imports lazily, by name
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle
