"""Adapters from upstream conformance vectors to podscaler's own functions.

An adapter is registered for one (file, kind) pair, where *file* is the vector file's stem
(``hpa``, ``keda`` …) and *kind* is the vector's ``kind`` or, in keda.json, its ``category``.
It receives the whole vector and raises (normally via ``assert``) when podscaler disagrees with
the expected output. Adapter modules live beside this one and are named ``adapt_<file>*.py``;
they are imported by the collector, so registering is all a new adapter has to do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Vector = dict[str, Any]
Adapter = Callable[[Vector], None]

ADAPTERS: dict[tuple[str, str], Adapter] = {}

#: Relative tolerance for floating-point expectations (vectors/README.md).
REL_TOL = 1e-9


def adapter(file: str, *kinds: str) -> Callable[[Adapter], Adapter]:
    """Register the decorated function for every listed kind of *file*."""

    def register(fn: Adapter) -> Adapter:
        for kind in kinds:
            key = (file, kind)
            if key in ADAPTERS:
                raise RuntimeError(f"two adapters for {key}")
            ADAPTERS[key] = fn
        return fn

    return register


def kind_of(vector: Vector) -> str:
    """The vector's kind: ``kind`` where the file has it, else ``category``."""
    kind = vector.get("kind") or vector.get("category")
    if not isinstance(kind, str):
        raise ValueError(f"vector {vector.get('id')!r} has neither kind nor category")
    return kind
