"""Stored object versions: what the store keeps and the watch fan-out hands out.

An :class:`Entry` is one version of one object with its serialized form, computed once and
shared by every LIST response and every watcher. Kept apart from the store and the fan-out,
which both hold entries, so that neither has to import the other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

__all__ = ["Entry", "Key", "Now", "Obj", "Predicate", "dumps"]

Obj = dict[str, Any]
Key = tuple[str, str]
Now = Callable[[], datetime]
#: A filter over objects (label and field selectors compiled by the HTTP front).
Predicate = Callable[[Obj], bool]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Entry:
    """One stored object version with its serialized form, computed once and shared."""

    __slots__ = ("_raw", "obj", "rv")

    def __init__(self, obj: Obj, rv: int) -> None:
        self.obj = obj
        self.rv = rv
        self._raw: bytes | None = None

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = dumps(self.obj)
        return self._raw

    def copy(self) -> Obj:
        """A private deep copy (JSON round trip is faster than ``copy.deepcopy``)."""
        result: Obj = json.loads(self.raw())
        return result

    @property
    def namespace(self) -> str:
        return str(self.obj["metadata"].get("namespace", ""))

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])
