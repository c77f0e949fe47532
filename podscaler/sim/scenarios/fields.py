"""Reading the fields of a scenario document: one set of checks, each error naming its path.

The scenario format and its ``nodeGroups`` section raise their own error types (callers tell a
bad node group from a bad workload), so the readers are bound to an error class rather than
written once per section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podscaler.sim.world.load import LoadError, parse_duration_seconds

__all__ = ["Fields"]


class Fields:
    """Field readers that raise ``error(f"{where}: {message}")`` on a value of the wrong shape."""

    def __init__(self, error: type[ValueError]) -> None:
        self.error = error

    def fail(self, where: str, message: str) -> ValueError:
        return self.error(f"{where}: {message}")

    def mapping(self, raw: Any, where: str) -> Mapping[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            raise self.fail(where, "must be a mapping")
        return raw

    def list(self, raw: Any, where: str) -> list[Any]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise self.fail(where, "must be a list")
        return raw

    def known(self, raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(str(k) for k in raw if k not in allowed)
        if unknown:
            raise self.fail(where, f"unknown field(s) {', '.join(unknown)}")

    def seconds(self, raw: Any, where: str, default: float) -> float:
        if raw is None:
            return default
        try:
            return parse_duration_seconds(raw, where)
        except LoadError as exc:
            raise self.error(str(exc)) from exc

    def int(self, raw: Any, where: str, default: int) -> int:
        if raw is None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise self.fail(where, f"must be an integer, not {raw!r}")
        return raw

    def float(self, raw: Any, where: str) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise self.fail(where, f"must be a number, not {raw!r}")
        return float(raw)

    def strings(self, raw: Any, where: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.mapping(raw, where).items()}
