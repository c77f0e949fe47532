"""How many nodes of a group the pending pods need: Cluster Autoscaler's binpacking estimator
(``estimator/binpacking_estimator.go``), first-fit decreasing over equivalence groups.

1. **Order** the groups by ``cpu/allocatable cpu + memory/allocatable memory`` of one pod,
   largest first, against the template (ties keep their order; CA's sort is unstable).
2. For each group:

   a. place its pods one by one on nodes *added by this estimate*, first fit; stop the group
      at the first pod that fits none (its equals will not fit either);
   b. for the rest: try the last added node; if a hostname topology-spread constraint
      rejects it, try any other node (existing ones included); otherwise — unless the last
      added node is still empty, which means the pod fits no fresh node and the group
      stops — ask the **limiter** for one more node (a refusal ends binpacking for every
      remaining group), add a copy of the template and place the pod on it; if even that
      fails (a zonal spread, say) the group stops and the empty node stays.

3. The answer is the number of nodes that received a pod in steps a and b (CA's count, which
   includes an existing node taking a pod after a hostname-spread refusal), and the pods
   placed.

Runs inside a forked :class:`~podscaler.nodes.simulation.ClusterSim` so placements see the
existing cluster (anti-affinity against running pods, spread counts), and pods of one shape
with no inter-pod rules fill each node in one step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from podscaler.nodes.nodestate import NodeState
from podscaler.nodes.pending import PodGroup
from podscaler.nodes.predicates import PodRequirements, TopologyIndex, node_failure
from podscaler.nodes.simulation import ClusterSim, count_fitting
from podscaler.nodes.templates import renamed

__all__ = ["Estimate", "NodeLimiter", "estimate", "order_groups"]

HOSTNAME: Final = "kubernetes.io/hostname"


@dataclass
class NodeLimiter:
    """CA's threshold-based limiter: the smallest positive limit wins; a negative one (a
    group or cluster already at its maximum) allows no node at all; None is unlimited."""

    limit: int | None

    @classmethod
    def of(cls, *limits: int | None) -> NodeLimiter:
        if any(limit is not None and limit < 0 for limit in limits):
            return cls(0)
        positive = [limit for limit in limits if limit is not None and limit > 0]
        return cls(min(positive) if positive else None)

    def permit(self, added: int) -> bool:
        return self.limit is None or added < self.limit


@dataclass(frozen=True)
class Estimate:
    #: nodes that received at least one pod (see the module docstring for CA's count)
    node_count: int
    #: pods placed per group, aligned with the groups as given (the first n of each group)
    placed: tuple[int, ...]
    #: the limiter refused a node
    limited: bool
    #: names of the nodes counted in ``node_count``
    nodes: tuple[str, ...] = ()

    @property
    def pod_count(self) -> int:
        return sum(self.placed)

    @property
    def scheduled_groups(self) -> tuple[int, ...]:
        return tuple(i for i, n in enumerate(self.placed) if n)

    def scheduled_pods(self, groups: Sequence[PodGroup]) -> list[Mapping[str, Any]]:
        return [pod for group, n in zip(groups, self.placed, strict=True) for pod in group.pods[:n]]


def group_score(group: PodGroup, template: NodeState) -> float:
    requests = group.exemplar.requests
    score = 0.0
    if template.allocatable.cpu_millicores > 0:
        score += requests.cpu_millicores / template.allocatable.cpu_millicores
    if template.allocatable.memory_bytes > 0:
        score += requests.memory_bytes / template.allocatable.memory_bytes
    return score


def order_groups(groups: Sequence[PodGroup], template: NodeState) -> list[int]:
    """Indices of ``groups``, largest pods first (stable among equals)."""
    return sorted(range(len(groups)), key=lambda i: -group_score(groups[i], template))


def _uses_hostname_spread(req: PodRequirements) -> bool:
    return any(c.topology_key == HOSTNAME for c in req.spread)


def estimate(
    groups: Sequence[PodGroup],
    template: NodeState,
    sim: ClusterSim,
    limiter: NodeLimiter,
    *,
    name_prefix: str = "e",
) -> Estimate:
    """Run the estimator in ``sim`` (the caller forks it; nodes and pods are added to it)."""
    added: list[int] = []
    with_pods: dict[int, None] = {}
    placed = [0] * len(groups)
    new_nodes_available = True
    limited = False
    for group_index in order_groups(groups, template):
        req = groups[group_index].exemplar
        remaining = len(groups[group_index])
        # a. nodes this estimate already added
        if added:
            for index, copies in sim.place_copies(req, remaining, among=added):
                with_pods[index] = None
                placed[group_index] += copies
                remaining -= copies
        # b. new nodes
        if new_nodes_available and remaining:
            count, outcome = _onto_new_nodes(
                req, remaining, template, sim, limiter, added, with_pods, name_prefix
            )
            placed[group_index] += count
            if outcome == "limited":
                new_nodes_available = False
                limited = True
    # CA counts every node that received a pod in step b, so an existing node taking a pod
    # after a hostname-spread refusal counts as one more node (vector ca-bp-008); kept.
    names = tuple(sim.at(i).name for i in with_pods)
    return Estimate(len(names), tuple(placed), limited, names)


def _onto_new_nodes(
    req: PodRequirements,
    remaining: int,
    template: NodeState,
    sim: ClusterSim,
    limiter: NodeLimiter,
    added: list[int],
    with_pods: dict[int, None],
    name_prefix: str,
) -> tuple[int, str]:
    """Step b for one group: (pods placed, ``done``/``stopped``/``limited``)."""
    topo = sim.topology(req)
    simple = sim.indexed and not req.has_topology_rules and not topo.existing_anti_affinity
    placed = 0
    while placed < remaining:
        last = added[-1] if added else None
        if not sim.indexed:
            topo = sim.topology(req)
        if last is not None:
            if simple:
                room = _bulk_room(req, sim, last, topo)
                if room > 0:
                    count = min(room, remaining - placed)
                    sim.place(req, last, count)
                    with_pods[last] = None
                    placed += count
                    continue
            elif sim.fits(req, last, topo):
                topo = _place(sim, req, last, topo, with_pods)
                placed += 1
                continue
            elif _uses_hostname_spread(req):
                failure = node_failure(req, sim.at(last), topo)
                if failure is not None and failure.plugin == "PodTopologySpread":
                    others = [i for i in sim.indices() if i != last]
                    other = sim.first_fit(req, topo, among=others)
                    if other is not None:
                        topo = _place(sim, req, other, topo, with_pods)
                        placed += 1
                        continue
            if last not in with_pods:
                return placed, "stopped"  # a fresh node cannot take this pod
        if not limiter.permit(len(added)):
            return placed, "limited"
        index = sim.add_node(renamed(template, f"{template.name}-{name_prefix}-{len(added)}"))
        added.append(index)
        topo = topo.after_adding_node(req, sim.at(index)) if sim.indexed else sim.topology(req)
        if not sim.fits(req, index, topo):
            return placed, "stopped"
        if not simple:
            topo = _place(sim, req, index, topo, with_pods)
            placed += 1
    return placed, "done"


def _bulk_room(req: PodRequirements, sim: ClusterSim, index: int, topo: TopologyIndex) -> int:
    """How many copies of a simple pod fit on node ``index`` now (0 when any rule fails)."""
    if not sim.fits(req, index, topo):
        return 0
    count = count_fitting(req, sim.at(index))
    if req.host_ports:
        count = min(count, 1)  # a pod's own host ports conflict with its copy
    return count


def _place(
    sim: ClusterSim,
    req: PodRequirements,
    index: int,
    topo: TopologyIndex,
    with_pods: dict[int, None],
) -> TopologyIndex:
    state = sim.place(req, index)
    with_pods[index] = None
    if not sim.indexed:
        return sim.topology(req)
    return topo.after_placing(req, req, state, sim.namespace_labels)
