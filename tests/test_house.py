"""The house's rules, read from the code itself: no import cycle (between modules, nor between
the packages of bot/), no import hidden inside a function, rendering that imports no service
and no database, handlers without their own try/except UserError, and every table written by
one module."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("bot", "handlers")


def _modules() -> dict[str, Path]:
    found = {}
    for top in PROJECT:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _target(module: str, name: str | None) -> str | None:
    """The project module an import names: `from bot.x import y` is bot.x.y when y is a
    module, else bot.x."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module if module in MODULES else None


def _imports(path: Path, *, inside_functions: bool) -> list[tuple[str, int]]:
    """(module, line) of every project import, at top level or only inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    scopes: list[ast.AST] = []
    if inside_functions:
        scopes = [
            n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        ]
    else:
        scopes = [tree]
    found = []
    for scope in scopes:
        nodes = ast.walk(scope) if inside_functions else iter(tree.body)
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    target = _target(node.module, alias.name)
                    if target is not None:
                        found.append((target, node.lineno))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    target = _target(alias.name, None)
                    if target is not None:
                        found.append((target, node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for target, _ in _imports(path, inside_functions=False):
            if target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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


def _package(module: str) -> str:
    """The room a module lives in: bot.<package> for bot's packages, else the module."""
    parts = module.split(".")
    if parts[0] == "bot" and len(parts) > 2:
        return ".".join(parts[:2])
    if parts[0] == "handlers":
        return "handlers"
    return module


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules() -> None:
    graph = _graph()
    assert len(graph) > 50, "the scan finds too little: it is broken"
    assert _cycles(graph) == []


def test_no_import_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in _graph().items():
        for target in targets:
            if _package(target) != _package(module):
                packages[_package(module)].add(_package(target))
    reached = set(packages) | {p for targets in packages.values() for p in targets}
    assert {"bot.core", "bot.incidents", "bot.resources", "bot.render"} <= reached
    assert _cycles(packages) == []


def test_no_import_hidden_inside_a_function() -> None:
    hidden = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in MODULES.values()
        for target, line in _imports(path, inside_functions=True)
    ]
    assert hidden == []


def test_rendering_imports_no_service_and_no_database() -> None:
    allowed = re.compile(r"^bot\.(render\..+|core\.(models|vocabulary|i18n|html|text|errors))$")
    found = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        if module.startswith("bot.render.")
        for target in targets
        if not allowed.match(target)
    ]
    assert found == []


def test_services_do_not_talk_to_telegram() -> None:
    """Only the delivery layer, the composition root and the handlers import Telegram's
    library (rendering builds its keyboards with it)."""
    may = ("bot.delivery.", "bot.render.", "bot.simulator", "bot.app", "bot.demo", "bot.cli")
    found = []
    for module, path in MODULES.items():
        if module.startswith("handlers") or module.startswith(may):
            continue
        source = path.read_text(encoding="utf-8")
        if re.search(r"^\s*(from|import) telegram\b", source, re.MULTILINE):
            found.append(module)
    assert found == []


def test_no_handler_catches_user_errors_itself() -> None:
    found = []
    for module, path in MODULES.items():
        if not module.startswith("handlers"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names = {n.id for n in ast.walk(node.type) if isinstance(n, ast.Name)}
                names |= {n.attr for n in ast.walk(node.type) if isinstance(n, ast.Attribute)}
                if "UserError" in names:
                    found.append(module)
    # the one wrapper does it
    assert found == ["handlers.wrapper"]


_WRITE = re.compile(r"^\s*(?:INSERT INTO|UPDATE|DELETE FROM) ([a-z_]+)\b")


def test_every_table_has_one_writer() -> None:
    writers: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        if module.startswith("bot.simulator"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                match = _WRITE.match(node.value)
                if match:
                    writers[match.group(1)].add(module)
    shared = {table: sorted(found) for table, found in writers.items() if len(found) > 1}
    # the claim of an update is the unit of work's own row
    assert writers["processed_updates"] == {"bot.core.db.base"}
    assert "incidents" in writers and "units" in writers, "the scan finds nothing"
    assert shared == {}
