"""The import graph of the four packages, read from the source with `ast` (nothing imported):
no cycle anywhere, and the boundaries of the layout hold.

Every import counts, including those under `TYPE_CHECKING` and inside functions: a cycle of
types is still a cycle of ideas. `from pkg import name` is an edge to `pkg.name` when that is a
module, else to `pkg` (its `__init__`).
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("simulations", "loadtests", "reference_app", "surge")
# Import edges that close a cycle today, each its package owner's to break; the test fails when
# one is gone (prune it) and on any other cycle.
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()  # edges of a cycle accepted, with the reason
FORBIDDEN = {  # package -> top-level names it must never import
    "simulations": ("locust", "reference_app", "loadtests", "surge"),
    "reference_app": ("loadtests", "simulations", "surge", "locust"),
}
# The one shared exception: `surge.errors`, the dependency-free base of every user-input error
# (SurgeError -> one line, exit 2), so the CLI tells bad input from bugs.
ALLOWED = {"surge.errors"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported_names(name: str, path: Path) -> list[str]:
    """Dotted names `path` imports (absolute, relative ones resolved)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    return found


def import_graph() -> dict[str, set[str]]:
    """Each module of the four packages -> the modules of the four packages it imports."""
    known = modules()
    return {
        name: {t for t in imported_names(name, path) if t in known and t != name}
        for name, path in known.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle (`[a, b, ..., a]`), or [] when the graph has none."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        return list(reversed(exc.args[1]))  # graphlib lists it against the import direction
    return []


def test_the_graph_sees_the_packages_and_their_imports():
    graph = import_graph()
    assert "simulations.national.records" in graph["simulations.national.opening_day"]
    assert "loadtests.verdicts.slo" in graph["loadtests.reports.summary"]
    assert len(graph) > 100


def test_a_cycle_is_found_and_named_in_import_order():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) in (
        ["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"]
    )  # fmt: skip
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_four_packages():
    graph = import_graph()
    stale = sorted(edge for edge in KNOWN_CYCLE_EDGES if edge[1] not in graph.get(edge[0], ()))
    assert not stale, f"no longer imported, drop from KNOWN_CYCLE_EDGES: {stale}"
    for source, target in KNOWN_CYCLE_EDGES:
        graph[source] = graph[source] - {target}
    cycle = find_cycle(graph)
    assert not cycle, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_boundaries(package):
    broken = sorted(
        f"{name} imports {target}"
        for name, path in modules().items()
        if name.split(".")[0] == package
        for target in imported_names(name, path)
        if target.split(".")[0] in FORBIDDEN[package]
        and not any(target == a or target.startswith(a + ".") for a in ALLOWED)
    )
    assert not broken, broken
