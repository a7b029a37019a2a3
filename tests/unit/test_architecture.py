"""The package's layout holds: no import cycle between its modules, no private name imported across them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_deploysmoke"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> Iterator[tuple[str, str]]:
    """(module, name) for every ``from pytest_deploysmoke... import name`` and ``import pytest_deploysmoke...``,
    at module level or inside a function (a lazy import is still a dependency)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pytest_deploysmoke":
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pytest_deploysmoke":
                    yield alias.name, ""


def dependencies(module: str) -> set[str]:
    found = set()
    for source, name in imports_of(MODULES[module]):
        target = f"{source}.{name}" if f"{source}.{name}" in MODULES else source
        if target in MODULES and target != module:
            found.add(target)
    return found


def test_the_package_is_found() -> None:
    """The walk sees the subpackages (an empty walk would pass every test below)."""
    assert {
        "pytest_deploysmoke.plugin",
        "pytest_deploysmoke.results.verdict",
        "pytest_deploysmoke.clients.http",
    } <= set(MODULES)


def test_no_import_cycle_between_modules() -> None:
    """Every module can be imported before the modules that import it, lazy imports included."""
    graph = {module: dependencies(module) for module in MODULES}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_name_imported_from_another_module(module: str) -> None:
    """A name one module keeps private (``_x``) is not reached into from another."""
    private = [
        f"{source}.{name}"
        for source, name in imports_of(MODULES[module])
        if name.startswith("_") and not name.startswith("__") and source != module
    ]
    assert private == []
