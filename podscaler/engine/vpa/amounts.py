"""Resource amounts as the VPA recommender counts them: whole millicores and whole bytes.

Upstream's ``ResourceAmount`` is an int64 in millicores for CPU and bytes for memory. Every
conversion from a float truncates toward zero and clamps to ``[0, 1e14]``, and those truncations
are part of the answer (a 15 % margin on 511m is 76m, not 76.65m). :class:`Resources` carries
one amount per resource; a resource that is not recommended (not in ``controlledResources``) is
``None`` rather than zero, because "no recommendation" and "recommend nothing" differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "CPU",
    "MAX_RESOURCE_AMOUNT",
    "MEMORY",
    "RESOURCE_NAMES",
    "ResourceName",
    "Resources",
    "amount_from_float",
    "cpu_cores_from_millicores",
    "cpu_millicores_from_cores",
    "scale_amount",
]

ResourceName = Literal["cpu", "memory"]
CPU: Final = "cpu"
MEMORY: Final = "memory"
#: The resources the recommender knows, in the order it reports them.
RESOURCE_NAMES: Final[tuple[ResourceName, ...]] = (CPU, MEMORY)

#: Upstream's ``MaxResourceAmount``: larger estimates (an infinite upper bound) clamp here.
MAX_RESOURCE_AMOUNT: Final = 10**14


def amount_from_float(value: float) -> int:
    """``resourceAmountFromFloat``: negative → 0, above 1e14 → 1e14, else truncated.

    NaN (which only arises from 0/0 in a degenerate multiplier) counts as 0.
    """
    if value != value or value < 0:
        return 0
    if value > MAX_RESOURCE_AMOUNT:
        return MAX_RESOURCE_AMOUNT
    return int(value)


def scale_amount(amount: int, factor: float) -> int:
    """``ScaleResource``: ``amount * factor`` back to a whole amount."""
    if math.isinf(factor):
        return MAX_RESOURCE_AMOUNT if amount > 0 and factor > 0 else 0
    return amount_from_float(float(amount) * factor)


def cpu_millicores_from_cores(cores: float) -> int:
    return amount_from_float(cores * 1000.0)


def cpu_cores_from_millicores(millicores: int) -> float:
    return millicores / 1000.0


@dataclass(frozen=True, slots=True)
class Resources:
    """One amount per resource: ``cpu_millicores`` and ``memory_bytes``; ``None`` = absent."""

    cpu_millicores: int | None = None
    memory_bytes: int | None = None

    def get(self, resource: ResourceName) -> int | None:
        return self.cpu_millicores if resource == CPU else self.memory_bytes

    def with_amount(self, resource: ResourceName, amount: int | None) -> Resources:
        if resource == CPU:
            return Resources(amount, self.memory_bytes)
        return Resources(self.cpu_millicores, amount)

    def only(self, resources: frozenset[ResourceName] | tuple[ResourceName, ...]) -> Resources:
        """These amounts, keeping only *resources* (``FilterControlledResources``)."""
        return Resources(
            self.cpu_millicores if CPU in resources else None,
            self.memory_bytes if MEMORY in resources else None,
        )

    def names(self) -> tuple[ResourceName, ...]:
        """The resources present, cpu first."""
        return tuple(name for name in RESOURCE_NAMES if self.get(name) is not None)

    def items(self) -> tuple[tuple[ResourceName, int], ...]:
        found: list[tuple[ResourceName, int]] = []
        for name in RESOURCE_NAMES:
            amount = self.get(name)
            if amount is not None:
                found.append((name, amount))
        return tuple(found)
