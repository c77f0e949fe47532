"""Every third-party module the shipped packages import is a declared dependency.

A module that only the ``test`` extra (or the machine) provides makes CI green and a new user's
first command crash (``podscaler demo`` -> ``No module named 'cryptography'``). Imports of an
optional extra's distributions are allowed only where they cannot run at import time: inside a
function or a ``try`` block that handles ``ImportError``.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("podscaler", "scalers")


def _norm(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _project() -> dict[str, object]:
    data: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return data


def _guarded_lines(tree: ast.Module) -> set[int]:
    """Lines of imports inside a function body or a ``try`` that catches ImportError."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        guarded = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or (
            isinstance(node, ast.Try)
            and any(
                isinstance(h.type, ast.Name) and h.type.id in {"ImportError", "ModuleNotFoundError"}
                for h in node.handlers
            )
        )
        if guarded:
            body = node.body
            for child in body:
                for inner in ast.walk(child):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        lines.add(inner.lineno)
    return lines


def _imports() -> list[tuple[Path, int, str]]:
    found = []
    for package in SHIPPED:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            guarded = _guarded_lines(tree)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in SHIPPED or top == "__future__":
                        continue
                    marker = "guarded" if node.lineno in guarded else "top"
                    found.append((path.relative_to(ROOT), node.lineno, f"{top}:{marker}"))
    return found


def test_every_import_of_the_shipped_packages_is_a_declared_dependency() -> None:
    project = _project()
    declared = {_norm(r) for r in project["dependencies"]}  # type: ignore[attr-defined]
    extras = {
        _norm(r)
        for requirements in project["optional-dependencies"].values()  # type: ignore[attr-defined]
        for r in requirements
    }
    owners = packages_distributions()
    problems = []
    for path, line, entry in _imports():
        top, marker = entry.split(":")
        dists = {_norm(d) for d in owners.get(top, [top])}
        if dists & declared:
            continue
        if dists & extras and marker == "guarded":
            continue
        why = "an optional extra's, imported unguarded" if dists & extras else "undeclared"
        problems.append(f"{path}:{line}: {top} ({', '.join(sorted(dists))}) is {why}")
    assert not problems, "\n".join(problems)
