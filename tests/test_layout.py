"""The layers of docs/architecture.md hold in the code: read from the sources' import
statements (``ast``, so an import made only for type checking counts too), no module
imports one of a higher layer, no two modules or packages import each other, and no
module is over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parent.parent
#: The lower layers, bottom up (docs/architecture.md, "Layers"); everything else of
#: fileproto (load generator, plugin, results, reports, checker, command line) is above.
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "fileproto.trace",
        "fileproto.wire",
        "fileproto.units",
        "fileproto.errors",
        "fileproto.timing",
        "fileproto.ratelimit",
        "fileproto.procinfo",
        "fileproto.tcpinfo",
        "fileproto.argtypes",
        "fileproto.addresses",
    ),
    ("fileproto.store",),
    ("fileproto.session",),
    ("fileproto.server", "fileproto.client", "servers"),
)
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("fileproto", "servers"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The project's modules ``name`` imports, wherever the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                # ``from package import module`` imports the module, not the package.
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
    known = set()
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            known.add(target)
    return known


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> int:
    for number, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return number
    return len(LAYERS)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_a_higher_layer() -> None:
    upward = sorted(
        (name, target)
        for name, targets in GRAPH.items()
        for target in targets
        if _layer(name) < len(LAYERS) and _layer(target) > _layer(name)
    )
    assert upward == []


def test_no_modules_import_each_other() -> None:
    assert _cycle(GRAPH) is None


def test_no_packages_import_each_other() -> None:
    def package(name: str) -> str:
        return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]

    packages: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        for target in targets:
            mine, theirs = package(name), package(target)
            # A package importing its own subpackage (or the other way) is no circle.
            if not (theirs + ".").startswith(mine + ".") and not mine.startswith(theirs + "."):
                packages.setdefault(mine, set()).add(theirs)
    assert _cycle(packages) is None


def test_no_module_is_over_400_lines() -> None:
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert {n: lines for n, lines in long.items() if lines > MAX_LINES} == {}
