"""The layers of DESIGN.md stay visible in the imports.

Dependencies flow one way, down: ``cli → commands → operator → controllers, metricsapi, sim →
engine, nodes, scalers, kube, serving → api, clock``. ``api`` and ``clock`` import nothing of
ours; every layer may take its time from ``clock`` except the pure core (``engine`` and the
planning half of ``nodes``), which imports nothing that does I/O or reads a clock. No module but
``podscaler.clock`` reads the wall itself. Nothing imports a command but ``podscaler.cli``. No
controller imports another controller: what two of them share lives beside them
(``controllers.loop``, ``controllers.triggers``, ``controllers.transitions``). This test reads
every module's imports (statically, with ``ast``) so a layer reaching up fails CI with the
offending line, and so does any import cycle between modules of ``podscaler``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: For each layer, the podscaler layers it may import (itself always allowed).
ALLOWED: dict[str, set[str]] = {
    "podscaler.api": set(),
    # Where time comes from (the Clock protocol, the loop clock): the bottom, beside api.
    "podscaler.clock": set(),
    # X.509 mechanics (no I/O, no podscaler imports), shared by every TLS speaker.
    "podscaler.pki": set(),
    # Returning the process's freed heap to the OS (no podscaler imports).
    "podscaler.heap": {"podscaler.clock"},
    "podscaler.observability": {"podscaler.api"},
    "podscaler.engine": {"podscaler.api"},
    "podscaler.nodes": {"podscaler.api", "podscaler.engine", "podscaler.observability"},
    "scalers": {"podscaler.api", "podscaler.observability"},
    "podscaler.kube": {"podscaler.api", "podscaler.observability", "podscaler.pki"},
    # TLS with rotation, authentication and authorization for every server behind
    # kube-apiserver (the metrics API, the admission webhook).
    "podscaler.serving": {
        "podscaler.api",
        "podscaler.pki",
        "podscaler.kube",
        "podscaler.observability",
    },
    "podscaler.controllers": {
        "podscaler.api",
        "podscaler.engine",
        "podscaler.nodes",
        "scalers",
        "podscaler.kube",
        # the admission webhook's listener
        "podscaler.serving",
        "podscaler.observability",
    },
    "podscaler.metricsapi": {
        "podscaler.api",
        "podscaler.pki",
        "podscaler.engine",
        "scalers",
        "podscaler.kube",
        "podscaler.serving",
        "podscaler.observability",
    },
    "podscaler.sim": {
        "podscaler.api",
        "podscaler.pki",
        "podscaler.engine",
        "podscaler.nodes",
        "scalers",
        "podscaler.kube",
        # the embedded API server's TLS listener is built as every podscaler server's
        "podscaler.serving",
        "podscaler.observability",
    },
    # The operator process wired from its controllers and servers (podscaler run, and in
    # process for demo and simulate through the run seam).
    "podscaler.manager": {
        "podscaler.api",
        "podscaler.pki",
        "podscaler.heap",
        "podscaler.engine",
        "podscaler.nodes",
        "scalers",
        "podscaler.kube",
        "podscaler.serving",
        "podscaler.observability",
        "podscaler.controllers",
        "podscaler.metricsapi",
    },
    # One module per CLI command; only podscaler.cli imports them (test below).
    "podscaler.commands": {
        "podscaler.api",
        "podscaler.pki",
        "podscaler.heap",
        "podscaler.engine",
        "podscaler.nodes",
        "scalers",
        "podscaler.kube",
        "podscaler.serving",
        "podscaler.observability",
        "podscaler.controllers",
        "podscaler.metricsapi",
        "podscaler.sim",
        "podscaler.manager",
    },
}

#: Imports that reach up today and are owned by a pending change, each with why.
KNOWN: dict[tuple[str, str], str] = {}

#: Modules the pure core must never import: they do I/O, run an event loop or read the clock.
IMPURE = {
    "asyncio",
    "aiohttp",
    "aiobotocore",
    "aiokafka",
    "kubernetes_asyncio",
    "prometheus_client",
    "socket",
    "subprocess",
    "time",
    "requests",
}

PURE_LAYERS = ("podscaler.engine", "podscaler.nodes")
#: Inside a pure layer, the part that acts (the node-group providers talk to clouds).
IMPURE_PARTS = ("podscaler.nodes.providers",)


def _is_pure(module: str) -> bool:
    if any(module == part or module.startswith(part + ".") for part in IMPURE_PARTS):
        return False
    return _layer_of(module) in PURE_LAYERS


#: What every controller may share (the per-object poll loop, triggers, log lines of
#: transitions); any other package or module under ``podscaler.controllers`` is a controller.
CONTROLLERS_SHARED = frozenset({"informed", "loop", "triggers", "transitions"})

#: Layers that may read time from ``podscaler.clock``: all but the pure core.
CLOCK_USERS = {
    layer for layer in ALLOWED if layer not in PURE_LAYERS and layer != "podscaler.clock"
}
for _layer in CLOCK_USERS:
    ALLOWED[_layer].add("podscaler.clock")

#: Reading the wall (or rolling one's own ``now()``): only ``podscaler.clock`` does.
WALL_READS = ("time.time(", "time.monotonic(", "datetime.now(", "datetime.utcnow(", "time.time_ns(")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer_of(module: str) -> str | None:
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    if module.startswith("podscaler.") or module == "podscaler":
        return module  # cli, demo, __main__ and friends: the top, may import anything
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                found.append((node.lineno, ".".join([*base, node.module or ""]).rstrip(".")))
            elif node.module:
                found.extend((node.lineno, name) for name in _targets(node.module, node.names))
    return found


def _targets(module: str, names: list[ast.alias]) -> list[str]:
    """What ``from module import names`` imports: ``from podscaler import clock`` imports the
    module ``podscaler.clock`` (named so that its layer is checked), not the package."""
    base = ROOT.joinpath(*module.split("."))
    submodules = [
        f"{module}.{alias.name}"
        for alias in names
        if base.joinpath(alias.name + ".py").is_file() or base.joinpath(alias.name).is_dir()
    ]
    return submodules if len(submodules) == len(names) else [module, *submodules]


def _sources() -> list[Path]:
    return sorted([*(ROOT / "podscaler").rglob("*.py"), *(ROOT / "scalers").rglob("*.py")])


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_down(path: Path) -> None:
    layer = _layer_of(_module_name(path))
    if layer not in ALLOWED:
        return
    allowed = ALLOWED[layer] | {layer}
    for lineno, imported in _imports(path):
        target = _layer_of(imported)
        if target is None or target not in ALLOWED:
            if imported.split(".")[0] == "podscaler":
                pytest.fail(f"{path.name}:{lineno}: {layer} imports {imported} (a higher layer)")
            continue
        if (layer, imported) in KNOWN:
            continue
        assert target in allowed, f"{path.name}:{lineno}: {layer} may not import {imported}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_cli_imports_commands(path: Path) -> None:
    module = _module_name(path)
    if module == "podscaler.cli" or _layer_of(module) == "podscaler.commands":
        return
    for lineno, imported in _imports(path):
        assert _layer_of(imported) != "podscaler.commands", (
            f"{path.name}:{lineno}: {module} imports {imported}; commands are the top layer"
        )


def _controller_of(module: str) -> str | None:
    """The controller *module* belongs to (``scaledobject`` …), ``None`` for shared pieces and
    anything outside ``podscaler.controllers``."""
    parts = module.split(".")
    if parts[:2] != ["podscaler", "controllers"] or len(parts) < 3:
        return None
    return None if parts[2] in CONTROLLERS_SHARED else parts[2]


def _imported_names(path: Path) -> list[tuple[int, str]]:
    """:func:`_imports`, plus ``X.y`` for each ``from X import y`` (``y`` may be a module)."""
    found = _imports(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


@pytest.mark.parametrize(
    "path",
    [p for p in _sources() if _module_name(p).startswith("podscaler.controllers")],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_controller_imports_another_controller(path: Path) -> None:
    module = _module_name(path)
    own = _controller_of(module)
    for lineno, imported in _imported_names(path):
        other = _controller_of(imported)
        assert other is None or other == own, (
            f"{path.name}:{lineno}: {module} imports {imported}; what controllers share lives "
            f"in podscaler.controllers.{{{', '.join(sorted(CONTROLLERS_SHARED))}}}"
        )


def test_the_controller_rule_sees_what_it_must() -> None:
    assert _controller_of("podscaler.controllers.scaledobject.evaluation") == "scaledobject"
    assert _controller_of("podscaler.controllers.scaledjob") == "scaledjob"
    assert _controller_of("podscaler.controllers.triggers.building") is None
    assert _controller_of("podscaler.controllers.loop") is None
    assert _controller_of("podscaler.controllers") is None
    assert _controller_of("podscaler.engine.keda") is None


@pytest.mark.parametrize(
    "path",
    [p for p in _sources() if _is_pure(_module_name(p))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_pure_core_does_no_io(path: Path) -> None:
    for lineno, imported in _imports(path):
        assert imported.split(".")[0] not in IMPURE, f"{path.name}:{lineno}: imports {imported}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_clock_module_reads_the_wall(path: Path) -> None:
    """Every ``now`` comes from :mod:`podscaler.clock` (the running loop's clock, or the wall
    clock for real-world waits): a module reading the wall itself would leak real time into a
    simulation."""
    if _module_name(path) == "podscaler.clock":
        return
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for call in WALL_READS:
            assert call not in line, (
                f"{path.name}:{lineno}: reads the wall ({call}); use podscaler.clock"
            )


# ------------------------------------------------------------------------------ import cycles

#: Import cycles that exist today and are being broken by a pending change, each as the sorted
#: tuple of its modules. Empty: a cycle here would be a new one, and fails the test below.
KNOWN_CYCLES: frozenset[tuple[str, ...]] = frozenset()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(node: ast.ImportFrom | ast.Import, package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = package.split(".")
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, node.module or ""]).rstrip(".")
    else:
        target = node.module or ""
    return _targets(target, node.names)


def _every_import(source: str, package: str) -> set[str]:
    """Every module *source* imports anywhere: at module level, under ``if TYPE_CHECKING:`` and
    inside functions. An import moved into a function still joins the two modules' ideas; it
    only hides the circle from the interpreter, not from a reader."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.update(_resolve(node, package))
    return found


def _module_level_imports(source: str, package: str, *, type_checking: bool = False) -> set[str]:
    """The modules that importing *source* (a module of *package*) imports: statements at module
    level (also inside a module-level ``if``/``try``/``with``), not those under ``if
    TYPE_CHECKING:`` (never run; counted with *type_checking*, for the circles a reader walks)
    nor those inside functions (run later, once every module is initialised)."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                if type_checking or not _is_type_checking(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody):
                    visit(block)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.With):
                visit(node.body)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                found.update(_resolve(node, package))

    visit(ast.parse(source).body)
    return found


def _cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            if successors:
                nxt = successors.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.add(tuple(sorted(component)))
    return found


def _import_graph(*, type_checking: bool = False, everywhere: bool = False) -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in (ROOT / "podscaler").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        source = path.read_text(encoding="utf-8")
        imported = (
            _every_import(source, package)
            if everywhere
            else _module_level_imports(source, package, type_checking=type_checking)
        )
        graph[name] = {m for m in imported if m in modules and m != name}
    return graph


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert _cycles(graph) == {("a", "b", "c"), ("d", "e")}
    assert _cycles({"a": {"b"}, "b": set()}) == set()


def test_type_checking_and_function_imports_do_not_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import podscaler.api\n"
        "from . import clock\n"
        "if TYPE_CHECKING:\n"
        "    import podscaler.sim\n"
        "else:\n"
        "    import podscaler.engine\n"
        "def later() -> None:\n"
        "    import podscaler.kube\n"
    )
    found = _module_level_imports(source, "podscaler")
    assert {"podscaler.api", "podscaler.clock", "podscaler.engine"} <= found
    assert "podscaler.sim" not in found
    assert "podscaler.kube" not in found
    typed = _module_level_imports(source, "podscaler", type_checking=True)
    assert typed == found | {"podscaler.sim"}


def test_no_import_cycles() -> None:
    """No two modules of podscaler import each other, directly or around a circle: a cycle
    means the two halves are one idea split in two, or a shared type sits too high."""
    cycles = _cycles(_import_graph())
    new = cycles - KNOWN_CYCLES
    assert not new, "import cycles (module-level imports): " + "; ".join(
        " -> ".join(cycle) for cycle in sorted(new)
    )
    gone = KNOWN_CYCLES - cycles
    assert not gone, f"cycles broken, remove them from KNOWN_CYCLES: {sorted(gone)}"


def test_no_import_cycles_through_type_checking_imports() -> None:
    """Nor around a circle closed by an ``if TYPE_CHECKING:`` import: it does not fail at run
    time, but the two modules still need each other to be read (``controllers/scaledobject``'s
    status ↔ gathering and ``nodes/providers``' aws ↔ aws_group were such circles; the shared
    piece moved down, or the one side declares the protocol it needs)."""
    cycles = _cycles(_import_graph(type_checking=True))
    assert not cycles, "import cycles (with TYPE_CHECKING imports): " + "; ".join(
        " -> ".join(cycle) for cycle in sorted(cycles)
    )


def test_every_import_sees_function_level_imports() -> None:
    source = "import podscaler.api\ndef later() -> None:\n    from . import kube\n"
    assert _every_import(source, "podscaler") == {"podscaler.api", "podscaler.kube"}


def test_no_import_cycles_through_function_level_imports() -> None:
    """Nor around a circle closed by an import inside a function. Such an import runs late, so
    Python never complains, but the modules are still one idea in two files (the vertical
    recommender and its Prometheus bootstrap were such a pair: each imported the other, one of
    them inside a function, until the bootstrap took plain values instead of the recommender)."""
    cycles = _cycles(_import_graph(everywhere=True))
    assert not cycles, "import cycles (with function-level imports): " + "; ".join(
        " -> ".join(cycle) for cycle in sorted(cycles)
    )
