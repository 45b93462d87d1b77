"""The import graph of the product's modules: no cycles, and imports that flow one way.

Every import counts, including those inside functions: a function-local import hides a cycle
from Python at load time, not from a reader (docs/architecture.md, "Data flow and imports").
"""

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("config", "core", "connections", "syncs", "webhooks", "dashboard")
DOMAIN = ("connections", "syncs", "webhooks", "dashboard")
# Where a request or a command enters: these may call any app's services.
ENTRY_POINTS = ("api", "admin", "demo", "management")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PRODUCT for path in (ROOT / package).rglob("*.py")}


def imported_names(tree: ast.AST, *, module: str, is_package: bool) -> Iterable[str]:
    """Every module name an import statement anywhere in the tree may refer to."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the product modules it imports (a name that is not a module resolves to its package)."""
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(ast.parse(path.read_text()), module=module, is_package=path.name == "__init__.py"):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(product_modules())


def offenders(graph, *, sources: Iterable[str], forbidden: Iterable[str], exempt=()) -> list[str]:
    def within(module, prefixes):
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    return sorted(f"{module} -> {target}" for module, targets in graph.items() for target in targets
                  if within(module, sources) and not within(module, exempt) and within(target, forbidden))


def test_it_finds_a_cycle_through_a_function_local_import(tmp_path):
    # The checker itself: a cycle that only a function-local import closes is still a cycle.
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py", "c": tmp_path / "c.py"}
    modules["a"].write_text("import b\n")
    modules["b"].write_text("def f():\n    from c import g\n")
    modules["c"].write_text("from a import x\n")
    assert cycles(import_graph(modules)) == [["a", "b", "c"]]


def test_it_resolves_relative_imports(tmp_path):
    (tmp_path / "pkg").mkdir()
    modules = {"pkg": tmp_path / "pkg" / "__init__.py", "pkg.one": tmp_path / "pkg" / "one.py",
               "pkg.two": tmp_path / "pkg" / "two.py"}
    modules["pkg"].write_text("from .one import thing\n")
    modules["pkg.one"].write_text("from . import two\n")
    modules["pkg.two"].write_text("")
    assert import_graph(modules) == {"pkg": {"pkg.one"}, "pkg.one": {"pkg", "pkg.two"}, "pkg.two": set()}


def test_it_has_no_import_cycles_between_product_modules(graph):
    assert len(graph) > 100  # the whole product was read, not an empty folder
    assert cycles(graph) == []


def test_it_keeps_core_free_of_domain_apps(graph):
    assert offenders(graph, sources=["core"], forbidden=[*DOMAIN, "config.api_v1", "config.urls"]) == []


def test_it_keeps_connectors_below_syncs_webhooks_and_dashboard(graph):
    assert offenders(graph, sources=["connections.connectors"], forbidden=["syncs", "webhooks", "dashboard"]) == []


def test_it_keeps_the_connections_app_from_reaching_up(graph):
    # Only entry points (API routes, admin, commands, the demo) may call the apps above.
    exempt = [f"connections.{name}" for name in ENTRY_POINTS]
    assert offenders(graph, sources=["connections"], forbidden=["syncs", "webhooks", "dashboard"],
                     exempt=exempt) == []


def test_it_keeps_webhooks_out_of_syncs_and_screens(graph):
    assert offenders(graph, sources=["webhooks"], forbidden=["syncs", "dashboard"]) == []


def test_it_keeps_the_engine_and_services_away_from_screens(graph):
    assert offenders(graph, sources=["core", "connections", "syncs", "webhooks"], forbidden=["dashboard"]) == []


def test_it_imports_no_benchmark_code_and_no_signals():
    # Raw names, not the graph: benchmarks/ is outside the product, so the graph never holds it.
    names = {name for module, path in product_modules().items()
             for name in imported_names(ast.parse(path.read_text()), module=module, is_package=False)}
    assert "django.conf" in names  # the names were read
    assert sorted(name for name in names if name.split(".")[0] == "benchmarks") == []
    assert sorted(name for name in names if name.startswith(("django.dispatch", "django.db.models.signals"))) == []
