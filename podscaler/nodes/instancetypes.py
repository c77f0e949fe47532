"""EC2 instance shapes for node templates: a static fallback table.

Cluster Autoscaler describes every instance type at startup (``DescribeInstanceTypes``) and
fills gaps from a generated static list; it also falls back to the list when the call fails.
The AWS provider here does the same: it asks EC2 and merges the answer over this table
(:func:`merged`). The table covers the common general-purpose, compute, memory, burstable,
Graviton and GPU families. Prices are us-east-1 on-demand Linux list prices in USD per hour,
used only to rank options for the ``price`` expander and to report cost; a provider with
real prices passes them in :class:`~podscaler.nodes.snapshot.NodeGroupState`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["INSTANCE_TYPES", "InstanceType", "lookup", "merged"]


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpu: int
    memory_mib: int
    gpu: int = 0
    architecture: str = "amd64"
    price_per_hour: float | None = None


def _family(
    prefix: str,
    sizes: Iterable[tuple[str, int, int, float]],
    *,
    architecture: str = "amd64",
    gpu: int = 0,
) -> list[InstanceType]:
    return [
        InstanceType(f"{prefix}.{size}", vcpu, mib, gpu, architecture, price)
        for size, vcpu, mib, price in sizes
    ]


_GENERAL = (
    ("large", 2, 8192),
    ("xlarge", 4, 16384),
    ("2xlarge", 8, 32768),
    ("4xlarge", 16, 65536),
    ("8xlarge", 32, 131072),
)
_COMPUTE = (
    ("large", 2, 4096),
    ("xlarge", 4, 8192),
    ("2xlarge", 8, 16384),
    ("4xlarge", 16, 32768),
)
_MEMORY = (
    ("large", 2, 16384),
    ("xlarge", 4, 32768),
    ("2xlarge", 8, 65536),
    ("4xlarge", 16, 131072),
)


def _priced(
    shapes: Iterable[tuple[str, int, int]], large_price: float
) -> list[tuple[str, int, int, float]]:
    """Within a family, price scales with vCPUs (true of EC2's list prices)."""
    return [(size, vcpu, mib, round(large_price * vcpu / 2, 4)) for size, vcpu, mib in shapes]


_TABLE: list[InstanceType] = [
    *_family("m5", _priced(_GENERAL, 0.096)),
    *_family("m5a", _priced(_GENERAL, 0.086)),
    *_family("m6i", _priced(_GENERAL, 0.096)),
    *_family("m7i", _priced(_GENERAL, 0.1008)),
    *_family("c5", _priced(_COMPUTE, 0.085)),
    *_family("c6i", _priced(_COMPUTE, 0.085)),
    *_family("c7i", _priced(_COMPUTE, 0.08925)),
    *_family("r5", _priced(_MEMORY, 0.126)),
    *_family("r6i", _priced(_MEMORY, 0.126)),
    *_family("m6g", _priced(_GENERAL, 0.077), architecture="arm64"),
    *_family("m7g", _priced(_GENERAL, 0.0816), architecture="arm64"),
    *_family("c6g", _priced(_COMPUTE, 0.068), architecture="arm64"),
    *_family("r6g", _priced(_MEMORY, 0.1008), architecture="arm64"),
    *_family(
        "t3",
        (
            ("micro", 2, 1024, 0.0104),
            ("small", 2, 2048, 0.0208),
            ("medium", 2, 4096, 0.0416),
            ("large", 2, 8192, 0.0832),
            ("xlarge", 4, 16384, 0.1664),
            ("2xlarge", 8, 32768, 0.3328),
        ),
    ),
    *_family("g4dn", (("xlarge", 4, 16384, 0.526), ("2xlarge", 8, 32768, 0.752)), gpu=1),
    *_family("g5", (("xlarge", 4, 16384, 1.006), ("2xlarge", 8, 32768, 1.212)), gpu=1),
    InstanceType("p3.2xlarge", 8, 62464, 1, "amd64", 3.06),
    InstanceType("p3.8xlarge", 32, 249856, 4, "amd64", 12.24),
]

#: Instance type name → shape.
INSTANCE_TYPES: Final[Mapping[str, InstanceType]] = {t.name: t for t in _TABLE}


def lookup(name: str, table: Mapping[str, InstanceType] = INSTANCE_TYPES) -> InstanceType | None:
    return table.get(name)


def merged(described: Iterable[InstanceType]) -> dict[str, InstanceType]:
    """What ``DescribeInstanceTypes`` answered, with the static table filling the gaps (a
    described type without a price keeps the table's price)."""
    table = dict(INSTANCE_TYPES)
    for item in described:
        known = table.get(item.name)
        if item.price_per_hour is None and known is not None:
            item = InstanceType(
                item.name,
                item.vcpu,
                item.memory_mib,
                item.gpu,
                item.architecture,
                known.price_per_hour,
            )
        table[item.name] = item
    return table
