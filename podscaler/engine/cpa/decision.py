"""One decision for either mode: the replicas, the counts used, and what decided, in words.

:func:`decide` is what a controller, the simulator and ``podscaler explain`` call; the
mode-specific records (:class:`~podscaler.engine.cpa.linear.LinearDecision`,
:class:`~podscaler.engine.cpa.ladder.LadderDecision`) stay reachable through ``detail`` for
anyone who wants the terms.
"""

from __future__ import annotations

from dataclasses import dataclass

from podscaler.engine.cpa.cluster import ClusterStatus
from podscaler.engine.cpa.ladder import LadderDecision, decide_ladder
from podscaler.engine.cpa.linear import LinearDecision, decide_linear
from podscaler.engine.cpa.params import LinearParams, Mode, Params

__all__ = ["Decision", "decide"]


@dataclass(frozen=True, slots=True)
class Decision:
    """The replica count for a cluster status, and why."""

    status: ClusterStatus
    detail: LinearDecision | LadderDecision

    @property
    def mode(self) -> Mode:
        return self.detail.params.mode

    @property
    def replicas(self) -> int:
        return self.detail.replicas

    @property
    def nodes(self) -> int:
        """The node count the mode used (schedulable, or all with
        ``includeUnschedulableNodes``)."""
        return self.detail.nodes

    @property
    def cores(self) -> int:
        return self.detail.cores

    @property
    def counts_unschedulable(self) -> bool:
        return self.detail.params.include_unschedulable_nodes

    @property
    def rule(self) -> str:
        """What decided, shortly: ``nodesPerReplica``, ``max``, ``preventSinglePointFailure``,
        ``nodesToReplicas step [5 5]`` …"""
        return self.detail.rule

    def summary(self) -> str:
        """One sentence a person can read."""
        which = "all" if self.counts_unschedulable else "schedulable"
        return (
            f"{self.mode}: {self.nodes} {which} nodes and {self.cores} {which} cores give "
            f"{self.replicas} replicas ({self.rule})"
        )

    def lines(self) -> list[str]:
        """The formula or steps, one term per line."""
        return self.detail.lines()


def decide(params: Params, status: ClusterStatus) -> Decision:
    """The expected replicas for *status* under *params* (either mode)."""
    if isinstance(params, LinearParams):
        return Decision(status, decide_linear(params, status))
    return Decision(status, decide_ladder(params, status))
