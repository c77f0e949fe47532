"""Linear mode: replicas proportional to cores and to nodes (reference/algorithms.md C.3).

Each resource gives ``ceil(amount / perReplica)`` clamped to ``[min, max]`` (``max`` 0: no
maximum); a per-replica value of 0 means the resource is not used and contributes **1**, not
``min``. With ``preventSinglePointFailure`` and more than one node, the nodes term is raised to
2 *after* the clamp, so it can exceed ``max``. The larger term wins (the nodes term on a tie).

Arithmetic is upstream's: a float64 division and ``math.Ceil``, then Go's conversion to int.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from podscaler.engine.cpa.cluster import ClusterStatus
from podscaler.engine.cpa.params import LinearParams

__all__ = ["INT32_MAX", "LinearDecision", "LinearTerm", "decide_linear", "replicas_from_param"]

#: The most a replica count (an int32 in the API) can hold; a result beyond it is held here
#: (upstream's conversion would wrap around).
INT32_MAX: Final = 2**31 - 1

Bound = Literal["ratio", "unused", "min", "max"]


def replicas_from_param(resources: int, per_replica: float, minimum: int, maximum: int) -> int:
    """Upstream's ``getExpectedReplicasFromParam``: one resource's term."""
    return _term(resources, per_replica, minimum, maximum)[0]


def _term(resources: int, per_replica: float, minimum: int, maximum: int) -> tuple[int, Bound]:
    if per_replica == 0:
        return 1, "unused"
    ratio = float(resources) / per_replica
    result = float(math.ceil(ratio)) if math.isfinite(ratio) else ratio
    bound: Bound = "ratio"
    if maximum != 0 and float(maximum) < result:
        result, bound = float(maximum), "max"
    if float(minimum) > result:
        result, bound = float(minimum), "min"
    if not math.isfinite(result) or result > INT32_MAX:
        return INT32_MAX, bound
    return int(result), bound


@dataclass(frozen=True, slots=True)
class LinearTerm:
    """One resource's contribution and what bound it."""

    resource: Literal["cores", "nodes"]
    amount: int
    per_replica: float
    replicas: int
    bound: Bound

    def describe(self, minimum: int, maximum: int) -> str:
        name = f"{self.resource}PerReplica"
        if self.bound == "unused":
            return f"{name} unset: 1"
        text = f"ceil({self.amount} {self.resource} / {self.per_replica:g}) "
        ratio = float(self.amount) / self.per_replica
        raw = f"{math.ceil(ratio)}" if math.isfinite(ratio) else "inf"
        if self.bound == "ratio":
            return text + f"= {self.replicas}"
        limit = f"min {minimum}" if self.bound == "min" else f"max {maximum}"
        return text + f"= {raw}, held at {limit}: {self.replicas}"


@dataclass(frozen=True, slots=True)
class LinearDecision:
    params: LinearParams
    nodes: int
    cores: int
    from_cores: LinearTerm
    from_nodes: LinearTerm
    #: preventSinglePointFailure raised the nodes term to 2
    single_point_failure_raised: bool
    replicas: int

    @property
    def winner(self) -> LinearTerm:
        return (
            self.from_cores
            if self.from_cores.replicas > self.from_nodes.replicas
            else (self.from_nodes)
        )

    @property
    def rule(self) -> str:
        """What decided: ``coresPerReplica``, ``nodesPerReplica``, ``min``, ``max``,
        ``preventSinglePointFailure`` (or ``unused`` when neither resource is used)."""
        if self.single_point_failure_raised and self.winner is self.from_nodes:
            return "preventSinglePointFailure"
        winner = self.winner
        if winner.bound == "ratio":
            return f"{winner.resource}PerReplica"
        return winner.bound

    def lines(self) -> list[str]:
        p = self.params
        nodes_line = "from nodes: " + self.from_nodes.describe(p.min, p.max)
        if self.single_point_failure_raised:
            nodes_line += ", raised to 2 by preventSinglePointFailure (more than one node)"
        return [
            "from cores: " + self.from_cores.describe(p.min, p.max),
            nodes_line,
            f"replicas = max({self.from_cores.replicas}, {self.from_nodes.replicas}) = "
            f"{self.replicas} ({self.rule})",
        ]


def decide_linear(params: LinearParams, status: ClusterStatus) -> LinearDecision:
    """Upstream's ``LinearController.GetExpectedReplicas``, with its reasons."""
    nodes, cores = status.counted(params.include_unschedulable_nodes)
    cores_replicas, cores_bound = _term(cores, params.cores_per_replica, params.min, params.max)
    nodes_replicas, nodes_bound = _term(nodes, params.nodes_per_replica, params.min, params.max)
    raised = params.prevent_single_point_failure and nodes > 1 and nodes_replicas < 2
    if raised:
        nodes_replicas = 2
    replicas = cores_replicas if cores_replicas > nodes_replicas else nodes_replicas
    return LinearDecision(
        params=params,
        nodes=nodes,
        cores=cores,
        from_cores=LinearTerm(
            "cores", cores, params.cores_per_replica, cores_replicas, cores_bound
        ),
        from_nodes=LinearTerm(
            "nodes", nodes, params.nodes_per_replica, nodes_replicas, nodes_bound
        ),
        single_point_failure_raised=raised,
        replicas=replicas,
    )
