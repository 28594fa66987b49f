"""No two modules of one app import each other, directly or through a ring, even from inside a
function: a cycle is where a split-up app quietly grows back together (issue 14)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ["access", "audit", "consent", "dsar", "ops", "profiles"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _app_modules(app: str) -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and "management" not in path.parts
    }


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Modules of the same app that `module` imports anywhere in its file (top level or in a
    function): `import a.b`, `from a.b import c` (a submodule `a.b.c` when there is one) and
    relative imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {name for name in found if name in known and name != module}


def _graph(app: str) -> dict[str, set[str]]:
    modules = _app_modules(app)
    known = set(modules)
    graph = {name: _imports(path, name, known) for name, path in modules.items()}
    # A package's __init__ importing its own submodules is how a package re-exports: not a
    # cycle by itself (the submodules never import the package back; that would be caught).
    for name in graph:
        graph[name] = {dep for dep in graph[name] if not dep.startswith(name + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for dep in sorted(graph[node]):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in on_stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_sees_a_ring_through_a_function_level_import():
    graph = {"a.services": {"a.tasks"}, "a.tasks": {"a.webhooks"}, "a.webhooks": {"a.services"}}
    assert _cycles(graph) == [["a.services", "a.tasks", "a.webhooks"]]
    assert _cycles({"a.tasks": {"a.services"}, "a.services": set()}) == []


def test_the_graph_counts_imports_inside_functions():
    graph = _graph("consent")
    assert "consent.models" in graph["consent.services"]
    assert graph["consent.tasks"] >= {"consent.services", "consent.webhooks"}


def test_no_two_modules_of_an_app_import_each_other():
    cycles = {app: _cycles(_graph(app)) for app in APPS}
    assert {app: found for app, found in cycles.items() if found} == {}


def test_no_module_imports_another_modules_private_helpers():
    """A helper two modules share is public (`request_audit`, not `_audit`): importing a
    leading-underscore name from another module hides a dependency the split should show."""
    private = []
    for app in APPS:
        for name, path in _app_modules(app).items():
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in APPS:
                    private += [
                        f"{name}: from {node.module} import {alias.name}"
                        for alias in node.names
                        if alias.name.startswith("_")
                    ]
    assert private == []
