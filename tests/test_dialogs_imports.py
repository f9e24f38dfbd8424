"""dialogs/ imports in one direction: no module, and no package, imports one that imports it back.

A cycle (the local picture in dialogs/stats.py and the report renderers in dialogs/reports/ used to
import each other) makes import order matter and hides which module owns what. The graph is read
from the source, lazy imports inside functions included.
"""

from __future__ import annotations

import ast
from pathlib import Path

DIALOGS = Path(__file__).resolve().parent.parent / "dialogs"


def module_name(path: Path) -> str:
    parts = path.relative_to(DIALOGS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(DIALOGS.rglob("*.py")):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dialogs":
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.split(".")[0] == "dialogs"}
        graph[module_name(path)] = deps - {module_name(path)}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as a path (first node repeated at the end), or [] when there is none."""
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], node, nxt] if nxt in path else [node, nxt]
            if not state.get(nxt):
                found = visit(nxt, [*path, node])
                if found:
                    return found
        state[node] = 2
        return []

    for start in sorted(graph):
        if not state.get(start):
            found = visit(start, [])
            if found:
                return found
    return []


def package_of(module: str) -> str:
    """dialogs.reports.chart -> dialogs.reports; top-level modules stay themselves."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 else module


def test_no_module_of_dialogs_imports_itself_back() -> None:
    graph = import_graph()
    assert "dialogs.stats" in graph and "dialogs.reports.service" in graph
    assert cycle(graph) == []


def test_no_subpackage_of_dialogs_imports_itself_back() -> None:
    packages: dict[str, set[str]] = {}
    for module, deps in import_graph().items():
        packages.setdefault(package_of(module), set()).update(package_of(d) for d in deps)
    packages = {p: deps - {p} for p, deps in packages.items()}
    assert cycle(packages) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []
