"""Cluster-wide limits: ``--max-nodes-total``, ``--cores-total`` and ``--memory-total``.

CA counts every node (autoscaled or not) by its **capacity**: cores as whole cores (a node of
2500m counts 3), memory in bytes. The maxima bound scale-ups — a group whose single node would
cross one is skipped with ``exceeded quota: "cluster-wide", resources: cpu``, and the winning
option is trimmed to what fits — and the minima stop scale-down
(``MinimalResourceLimitExceeded``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from podscaler.nodes.nodestate import NodeState, node_capacity
from podscaler.nodes.options import NodeAutoscalerOptions

__all__ = ["QUOTA_ID", "Usage", "allowed_new_nodes", "exceeded_max", "violated_min"]

QUOTA_ID: Final = "cluster-wide"


@dataclass(frozen=True)
class Usage:
    nodes: int = 0
    cores: int = 0
    memory_bytes: int = 0

    @classmethod
    def of_node(cls, state: NodeState) -> Usage:
        capacity = node_capacity(state.node)
        millicores = capacity.get("cpu", state.allocatable.cpu_millicores)
        return cls(
            1,
            -(-millicores // 1000),
            capacity.get("memory", state.allocatable.memory_bytes),
        )

    @classmethod
    def of_nodes(cls, states: Iterable[NodeState]) -> Usage:
        total = cls()
        for state in states:
            total = total + cls.of_node(state)
        return total

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.nodes + other.nodes,
            self.cores + other.cores,
            self.memory_bytes + other.memory_bytes,
        )

    def times(self, count: int) -> Usage:
        return Usage(self.nodes * count, self.cores * count, self.memory_bytes * count)


def _maxima(options: NodeAutoscalerOptions) -> tuple[int, int]:
    return options.cores_total[1], options.memory_total_bytes[1]


def exceeded_max(
    usage: Usage, node: Usage, count: int, options: NodeAutoscalerOptions
) -> list[str]:
    """Resources (``cpu``, ``memory``) whose maximum ``count`` more such nodes would cross."""
    max_cores, max_memory = _maxima(options)
    after = usage + node.times(count)
    found = []
    if after.cores > max_cores:
        found.append("cpu")
    if after.memory_bytes > max_memory:
        found.append("memory")
    return found


def quota_message(resources: Iterable[str]) -> str:
    return f'exceeded quota: "{QUOTA_ID}", resources: {", ".join(resources)}'


def allowed_new_nodes(
    usage: Usage, node: Usage, wanted: int, options: NodeAutoscalerOptions
) -> int:
    """How many of ``wanted`` nodes fit under the core and memory maxima."""
    max_cores, max_memory = _maxima(options)
    allowed = wanted
    if node.cores > 0:
        allowed = min(allowed, max(0, (max_cores - usage.cores) // node.cores))
    if node.memory_bytes > 0:
        allowed = min(allowed, max(0, (max_memory - usage.memory_bytes) // node.memory_bytes))
    return allowed


def violated_min(
    usage: Usage, removing: Usage, options: NodeAutoscalerOptions, *, min_nodes: int = 0
) -> list[str]:
    """Minimum limits (``cpu``, ``memory``, ``nodes``) removing ``removing`` would break."""
    after = Usage(
        usage.nodes - removing.nodes,
        usage.cores - removing.cores,
        usage.memory_bytes - removing.memory_bytes,
    )
    found = []
    if after.cores < options.cores_total[0]:
        found.append("cpu")
    if after.memory_bytes < options.memory_total_bytes[0]:
        found.append("memory")
    if after.nodes < min_nodes:
        found.append("nodes")
    return found
