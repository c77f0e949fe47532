"""No module of ours is named like a standard-library module.

``python bench/x.py`` puts ``bench/`` first on ``sys.path``, so a ``bench/operator.py`` was
imported by the standard library itself (``collections`` imports ``operator``) and every
benchmark failed with "cannot import name 'eq' from partially initialized module 'operator'".
Inside the package a stdlib name only bites when its directory lands on ``sys.path`` (a script
run from there, a tool's path guessing), but it always misleads a reader (``import types``
next to ``from . import types``) — so the rule holds for ``podscaler`` too.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Modules that break the rule today, each renamed by the work that owns it (issue 10 moves
#: and merges these files in parallel); the list may only shrink — the second test fails once a
#: file here is gone, so it is taken off the list.
KNOWN: frozenset[str] = frozenset(
    {
        "podscaler/api/selectors.py",
        "podscaler/engine/hpa/types.py",  # one model per concept: the types merge into api
        "podscaler/engine/keda/types.py",
        "podscaler/observability/logging.py",
    }
)


def _modules() -> list[Path]:
    return sorted(
        [*(ROOT / "bench").glob("*.py"), *(ROOT / "podscaler").rglob("*.py")],
        key=lambda p: str(p),
    )


def _name(path: Path) -> str:
    return path.parent.name if path.stem == "__init__" else path.stem


def test_no_module_is_named_like_the_standard_library() -> None:
    clashes = sorted(
        str(path.relative_to(ROOT)) for path in _modules() if _name(path) in sys.stdlib_module_names
    )
    assert [c for c in clashes if c not in KNOWN] == [], (
        "named like a standard-library module; rename it"
    )


def test_the_known_exceptions_still_exist() -> None:
    gone = sorted(name for name in KNOWN if not (ROOT / name).exists())
    assert gone == [], "renamed: take these off KNOWN"


def test_bench_has_no_exceptions() -> None:
    """Benchmarks run as scripts from bench/: a clash there breaks them all."""
    assert not [name for name in KNOWN if name.startswith("bench/")]
    assert "operator" in sys.stdlib_module_names  # the check itself sees the clash it is for
