"""Imports run one way: from the command down through the gateway to settings and the leaf packages.

Every module of ``gateway`` is read with ``ast`` (nothing is imported) and
each ``import gateway...`` is checked against ``LAYERS``: a part may import
its own modules, parts of its own layer and parts of the layers below it,
never a part above. Parts of one layer may not import each other in a
circle, and no module imports ``gateway`` inside a function, where an import
would hide a cycle or an upward dependency from the reader.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import REPOSITORY

PACKAGE = REPOSITORY / "gateway"

# Top to bottom. A part is a package or a module directly under gateway/; "gateway" is the package's
# own __init__ (the public API), which may import anything.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("gateway", "cli"),
    ("serving",),  # uvicorn's protocol and the worker processes that run an app
    ("proxy", "demo", "scan"),  # the two applications the command serves, and the crawler it runs
    ("app",),  # builds every component from the settings
    ("middleware",),
    ("pages", "api", "admin", "collect", "fonts"),
    ("banner",),  # used by pages and api alike
    ("discovery", "statistics"),  # the third parties seen and the page figures, tallied for the store
    ("consent", "store"),
    ("settings",),
    ("trackers", "net", "metrics", "http", "assets", "languages", "templating"),
)

# Imports that break a rule for a reason of their own, each with that reason. Keep this short.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("gateway.store", "gateway.store.postgres"): (
        "imported inside open_store: psycopg is an optional dependency (the postgres extra)"
    ),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (a module, not a name inside one)
    line: int
    in_function: bool
    type_checking: bool  # under ``if TYPE_CHECKING:``: no import at run time

    def __str__(self) -> str:
        return f"{self.module} (line {self.line}) imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def part_of(module: str) -> str:
    """``gateway.net.urls`` is part ``net``; ``gateway`` itself is part ``gateway``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else names[0]


def layer_of(part: str) -> int:
    for index, parts in enumerate(LAYERS):
        if part in parts:
            return index
    raise LookupError(part)


def imported_modules(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    assert node.level == 0 and node.module, f"line {node.lineno}: imports are absolute"
    for alias in node.names:
        submodule = f"{node.module}.{alias.name}"
        # ``from gateway.pages import csp`` imports a module; ``from gateway.store import open_store`` a name.
        is_module = submodule in MODULES or (PACKAGE.parent / (submodule.replace(".", "/") + ".c")).exists()
        yield submodule if is_module else node.module


class ImportFinder(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.imports: list[Import] = []
        self.functions = 0
        self.type_checking = False

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions += 1
        self.generic_visit(node)
        self.functions -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            self.type_checking = True
            for child in node.body:
                self.visit(child)
            self.type_checking = False
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for target in dict.fromkeys(imported_modules(node)):
            if target == "gateway" or target.startswith("gateway."):
                self.imports.append(Import(self.module, target, node.lineno, self.functions > 0, self.type_checking))

    visit_ImportFrom = visit_Import


def gateway_imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        finder = ImportFinder(module)
        finder.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        found.extend(finder.imports)
    return found


IMPORTS = gateway_imports()
CHECKED = [i for i in IMPORTS if (i.module, i.target) not in EXCEPTIONS]


def test_every_part_has_a_layer() -> None:
    unplaced = sorted({part_of(module) for module in MODULES} - {part for parts in LAYERS for part in parts})
    assert not unplaced, f"put these in LAYERS (tests/unit/test_layering.py): {unplaced}"


def upward(imports: list[Import]) -> list[str]:
    return [
        f"{i}: {part_of(i.module)} sits above {part_of(i.target)}"
        for i in imports
        if part_of(i.module) != part_of(i.target) and layer_of(part_of(i.target)) < layer_of(part_of(i.module))
    ]


def test_imports_run_down_the_layers() -> None:
    assert not (found := upward(CHECKED)), "imports against the layers:\n" + "\n".join(found)


def test_parts_do_not_import_each_other_in_a_circle() -> None:
    uses: dict[str, set[str]] = {}
    for i in CHECKED:
        if part_of(i.module) != part_of(i.target):
            uses.setdefault(part_of(i.module), set()).add(part_of(i.target))
    assert not (circle := find_circle(uses)), "parts in a circle: " + " -> ".join(circle)


def test_modules_do_not_import_each_other_in_a_circle() -> None:
    # Parents are left out: importing gateway.x.y runs gateway/x/__init__ first, which is no circle.
    uses: dict[str, set[str]] = {}
    for i in CHECKED:
        if not i.type_checking and not i.in_function and i.target != i.module:
            uses.setdefault(i.module, set()).add(i.target)
    assert not (circle := find_circle(uses)), "modules in a circle: " + " -> ".join(circle)


def inside_functions(imports: list[Import]) -> list[str]:
    return [str(i) for i in imports if i.in_function]


def test_nothing_imports_the_gateway_inside_a_function() -> None:
    assert not (found := inside_functions(CHECKED)), "import these at the top of the module:\n" + "\n".join(found)


def test_the_exceptions_are_still_needed() -> None:
    stale = set(EXCEPTIONS) - {(i.module, i.target) for i in IMPORTS}
    assert not stale, f"remove from EXCEPTIONS (tests/unit/test_layering.py): {sorted(stale)}"


def find_circle(uses: dict[str, set[str]]) -> list[str]:
    """One circle in the graph ``uses`` (first and last element alike), or ``[]``."""
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        for following in sorted(uses.get(node, ())):
            if circle := walk(following, [*path, node]):
                return circle
        done.add(node)
        return []

    for start in sorted(uses):
        if circle := walk(start, []):
            return circle
    return []


# ---- the checks catch what they are meant to -------------------------------------------------------


def imports_of(source: str, module: str = "gateway.trackers.example") -> list[Import]:
    finder = ImportFinder(module)
    finder.visit(ast.parse(source))
    return finder.imports


def test_an_upward_import_is_seen_wherever_it_hides() -> None:
    source = """
from typing import TYPE_CHECKING
from gateway.net.urls import resolve
from gateway.settings import Settings
from gateway.pages import csp
if TYPE_CHECKING:
    from gateway.middleware import ConsentMiddleware
def build():
    import gateway.admin.passwords
"""
    found = imports_of(source, "gateway.trackers.example")
    assert [(i.target, i.in_function, i.type_checking) for i in found] == [
        ("gateway.net.urls", False, False),
        ("gateway.settings", False, False),
        ("gateway.pages.csp", False, False),
        ("gateway.middleware", False, True),
        ("gateway.admin.passwords", True, False),
    ]
    assert [line.split(" imports ")[1].split(":")[0] for line in upward(found)] == [
        "gateway.settings",
        "gateway.pages.csp",
        "gateway.middleware",
        "gateway.admin.passwords",
    ]
    assert inside_functions(found) == ["gateway.trackers.example (line 9) imports gateway.admin.passwords"]


@pytest.mark.parametrize(
    ("uses", "circle"),
    [
        ({"a": {"b"}, "b": {"c"}}, []),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b", "c"}, "c": {"c2"}, "c2": {"c"}}, ["c", "c2", "c"]),
    ],
)
def test_a_circle_is_found(uses: dict[str, set[str]], circle: list[str]) -> None:
    assert find_circle(uses) == circle
