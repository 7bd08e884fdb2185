"""No import cycles in ``bot``: every module can be read (and imported) after what it imports.

The graph is grimp's, with the imports inside functions and under ``TYPE_CHECKING`` counted too: an
import moved into a function to dodge a cycle leaves the cycle in place. A strongly connected component
of more than one module is a cycle; the test names its modules. The Alembic migrations are left out
(Alembic loads them by path, and each imports the package it migrates).
"""

from __future__ import annotations

import grimp

_LEFT_OUT = "bot.store.migrations"


def _module_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph("bot")
    modules = {m for m in graph.modules if not (m == _LEFT_OUT or m.startswith(_LEFT_OUT + "."))}
    return {
        module: {
            imported for imported in graph.find_modules_directly_imported_by(module) if imported in modules
        }
        for module in modules
    }


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def _a_cycle_in(component: list[str], edges: dict[str, set[str]]) -> list[str]:
    """One closed path through ``component``, to show how its modules import each other."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        following = sorted(edges[path[-1]] & members)
        back = [m for m in following if m in seen]
        fresh = [m for m in following if m not in seen]
        if start in back or not fresh:
            target = start if start in back else back[0]
            return [*path[path.index(target) :], target]
        path.append(fresh[0])
        seen.add(fresh[0])


def test_cycles_are_found() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _a_cycle_in(["a", "b", "c"], edges) == ["a", "b", "c", "a"]


def test_bot_has_no_import_cycle() -> None:
    edges = _module_graph()
    cycles = _cycles(edges)
    report = "\n".join(
        f"{len(component)} modules import each other: {', '.join(component)}\n"
        f"  e.g. {' -> '.join(_a_cycle_in(component, edges))}"
        for component in cycles
    )
    assert not cycles, f"import cycles in bot:\n{report}"


def test_the_config_imports_only_the_domain_and_the_errors() -> None:
    # bot.config reads the file; the checks that need the scheduler, the templates, the certificate
    # or the database are bot.config_checks' and bot.outreach.preflight's (STYLE, pyHanko's config).
    graph = grimp.build_graph("bot")
    config = {"bot.config", *graph.find_descendants("bot.config")}
    reaching_out = {
        module: sorted(
            imported
            for imported in graph.find_modules_directly_imported_by(module)
            if imported.startswith("bot.")
            and imported not in config
            and imported != "bot.errors"
            and not imported.startswith("bot.domain.")
        )
        for module in sorted(config)
    }
    assert {module: found for module, found in reaching_out.items() if found} == {}
