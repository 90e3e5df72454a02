"""The house rules, read from the source: imports run one way, private names stay in their module.

The import graph of ``ipvalue`` and ``data_sources`` is built from the AST of every module: module-level and
function-level imports alike (an import deferred into a function is still a dependency), except those under
``if TYPE_CHECKING:``, which never run. A test fails naming the cycle or the import.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ipvalue", "data_sources")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            out[module_name(path)] = path
    return out


MODULES = all_modules()


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run (those under ``if TYPE_CHECKING:`` are left out)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and is_type_checking(child):
                stack.extend(child.orelse)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child
            stack.append(child)


def resolve_from(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def edges() -> dict[str, set[str]]:
    """``module -> modules of ipvalue / data_sources it imports`` (a name that is a submodule counts as it)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        for node in runtime_imports(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = resolve_from(mod, node, is_package)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
            for t in targets:
                while t and t not in MODULES:
                    t = t.rpartition(".")[0]
                if t and t != mod:
                    graph[mod].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def package_parents(mod: str) -> set[str]:
    parts = mod.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_the_import_graph_has_no_cycle() -> None:
    graph = edges()
    # a package's __init__ re-exporting its own modules is not a cycle of responsibility: leave out the edges from a
    # module to the packages that contain it (``from ipvalue.valuation import x`` inside ipvalue.valuation.*)
    pruned = {m: {t for t in ts if t not in package_parents(m)} for m, ts in graph.items()}
    found = cycles(pruned)
    assert not found, "import cycles: " + " | ".join(" <-> ".join(c) for c in found)


def test_no_private_name_is_imported_from_another_module() -> None:
    bad = []
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        for node in runtime_imports(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = resolve_from(mod, node, is_package)
            if not base.startswith(PACKAGES):
                continue
            for alias in node.names:
                name = alias.name
                if not name.startswith("_") or name.startswith("__"):
                    continue
                if f"{base}.{name}" in MODULES:  # a private module is fine, a private name is not
                    continue
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {base} import {name}")
    assert not bad, "private names imported from another module:\n" + "\n".join(bad)


def test_runtime_imports_nothing_from_the_domain() -> None:
    graph = edges()
    runtime = "ipvalue.runtime"
    if runtime not in graph:
        pytest.fail("ipvalue/runtime.py (the generic serial / process / Dask backends) is missing")
    domain = {
        t
        for t in graph[runtime]
        # the allocator's setting is process infrastructure like the backends (it imports nothing of ipvalue)
        if t.startswith("ipvalue.") and t not in {"ipvalue.errors", "ipvalue._version", "ipvalue._allocator"}
    }
    assert not domain, f"ipvalue.runtime imports {sorted(domain)}"


def test_data_sources_depends_on_facts_and_errors_only() -> None:
    graph = edges()
    allowed = ("ipvalue.facts", "ipvalue.errors", "ipvalue._version")
    # the fetch command (an entry point) may hand the bundled demo frame to the offline source
    entry_points = {("data_sources.cli", "ipvalue.demo")}
    bad = sorted(
        f"{m} -> {t}"
        for m, ts in graph.items()
        if m.startswith("data_sources")
        for t in ts
        if t.startswith("ipvalue")
        and t != "ipvalue"
        and not t.startswith(allowed)
        and (m, t) not in entry_points
    )
    assert not bad, "data_sources reaches into ipvalue beyond facts and errors: " + ", ".join(bad)


def test_the_checker_sees_a_cycle_and_a_private_import() -> None:
    # the rules above are only worth something if they can fail: a two-module cycle is found
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    tree = ast.parse("from ipvalue.valuation.portfolio import _ids\n")
    node = next(runtime_imports(tree))
    assert isinstance(node, ast.ImportFrom) and node.names[0].name.startswith("_")


def test_nothing_in_the_wheel_imports_the_tests() -> None:
    graph_sources = {
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in MODULES.values()
        for node in runtime_imports(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tests")
        or (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "tests" for a in node.names))
    }
    assert not graph_sources, f"modules shipped in the wheel that import the tests: {sorted(graph_sources)}"
    assert importlib.util.find_spec("data_sources.testing") is None, (
        "data_sources.testing still ships a fake server"
    )
