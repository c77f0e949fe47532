"""Choosing one node among the feasible ones: least-allocated, soft taints, ties by name.

kube-scheduler's default profile sums several scores (resources, balanced allocation, taint
and node-affinity preferences, image locality, topology spread) and breaks ties at random.
The embedded cluster keeps only the part that shapes what autoscaling sees — the
``NodeResourcesFit`` ``LeastAllocated`` score, cpu and memory weighted equally, which spreads
pods to the emptiest nodes, and the ``TaintToleration`` score (weight 3, as in the default
profile): a node with more ``PreferNoSchedule`` taints the pod does not tolerate scores lower
— which is how the node autoscaler's soft taint ``DeletionCandidateOfClusterAutoscaler`` lets
an unneeded node drain by itself. Ties break by node name so that a simulation replays the
same way every time. Preferred (soft) affinity and balanced allocation are ignored, as Cluster
Autoscaler itself ignores soft constraints.

Scores use the *non-zero* requests (an unset cpu request counts as 100m, memory as 200 MiB)
and integer arithmetic on a 0..100 scale, as upstream does, so a node with room for the pod
scores the same here as in kube-scheduler's resource score.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from podscaler.nodes.nodestate import NodeState, tolerates
from podscaler.nodes.predicates import FitResult, PodRequirements

__all__ = [
    "MAX_NODE_SCORE",
    "least_allocated_score",
    "rank_nodes",
    "select_node",
    "untolerated_soft_taints",
]

#: The top of the scheduler's per-plugin score scale.
MAX_NODE_SCORE: Final = 100
#: kube-scheduler's default weight of the TaintToleration score (NodeResourcesFit: 1).
TAINT_TOLERATION_WEIGHT: Final = 3


def _free_fraction_score(allocatable: int, requested: int) -> int:
    if allocatable <= 0 or requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def least_allocated_score(pod: PodRequirements, state: NodeState) -> int:
    """0..100: how much of the node's cpu and memory would stay free with the pod on it."""
    cpu = _free_fraction_score(
        state.allocatable.cpu_millicores,
        state.nonzero_requested.cpu_millicores + pod.nonzero_requests.cpu_millicores,
    )
    memory = _free_fraction_score(
        state.allocatable.memory_bytes,
        state.nonzero_requested.memory_bytes + pod.nonzero_requests.memory_bytes,
    )
    return (cpu + memory) // 2


def untolerated_soft_taints(pod: PodRequirements, state: NodeState) -> int:
    """How many of the node's ``PreferNoSchedule`` taints the pod does not tolerate."""
    return sum(
        1
        for taint in state.taints
        if taint.effect == "PreferNoSchedule" and not tolerates(pod.tolerations, taint)
    )


def rank_nodes(pod: PodRequirements, states: Iterable[NodeState]) -> list[tuple[int, str]]:
    """``(score, node name)`` best first: highest score, then the smallest name. The score
    is least-allocated plus three times TaintToleration's, which upstream normalizes to
    0..100 reversed against the most soft taints any feasible node has."""
    candidates = list(states)
    counts = [untolerated_soft_taints(pod, state) for state in candidates]
    most = max(counts, default=0)
    scored = []
    for state, count in zip(candidates, counts, strict=True):
        taint_score = MAX_NODE_SCORE if most == 0 else (most - count) * MAX_NODE_SCORE // most
        score = least_allocated_score(pod, state) + TAINT_TOLERATION_WEIGHT * taint_score
        scored.append((score, state.name))
    scored.sort(key=lambda item: (-item[0], item[1]))
    return scored


def select_node(result: FitResult) -> str | None:
    """The node the embedded scheduler binds the pod to, or None when nothing fits."""
    ranked = rank_nodes(result.pod, result.feasible)
    return ranked[0][1] if ranked else None
