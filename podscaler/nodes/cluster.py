"""The cluster as both planners see it: nodes with the pods that hold room on them, which
group each node belongs to, and each group's template — computed once per pass.

Which pods hold room follows CA's cluster snapshot: pods bound to a node (terminal ones
excluded), plus pods the scheduler has nominated to a node for after a preemption; pods
below ``--expendable-pods-priority-cutoff`` do not count (they would be preempted for a
real pod), so their room is free.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podscaler.nodes.nodestate import (
    HostPort,
    NodeState,
    PodSpecError,
    Resources,
    is_terminal,
    node_name,
)
from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.pending import is_expendable
from podscaler.nodes.simulation import ClusterSim
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState, is_ready
from podscaler.nodes.templates import GroupTemplate, group_template

__all__ = ["Cluster"]


@dataclass
class Cluster:
    snapshot: ClusterSnapshot
    groups: Sequence[NodeGroupState]
    nodes_by_name: dict[str, Mapping[str, Any]]
    #: node name → pods that hold room on it (bound or nominated, not expendable)
    pods_by_node: dict[str, list[Mapping[str, Any]]]
    states: dict[str, NodeState]
    group_of: dict[str, str]
    #: nodes whose dict could not be read, with the error
    broken_nodes: dict[str, str] = field(default_factory=dict)
    _templates: dict[str, GroupTemplate | None] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        snapshot: ClusterSnapshot,
        groups: Sequence[NodeGroupState],
        options: NodeAutoscalerOptions,
    ) -> Cluster:
        nodes_by_name = {node_name(n): n for n in snapshot.nodes}
        pods_by_node: dict[str, list[Mapping[str, Any]]] = {name: [] for name in nodes_by_name}
        cutoff = options.expendable_pods_priority_cutoff
        for pod in snapshot.pods:
            spec = pod.get("spec") or {}
            target = spec.get("nodeName") or (pod.get("status") or {}).get("nominatedNodeName")
            if not target or target not in pods_by_node or is_terminal(pod):
                continue
            if is_expendable(pod, cutoff):
                continue
            pods_by_node[target].append(pod)
        states: dict[str, NodeState] = {}
        broken: dict[str, str] = {}
        for name, node in nodes_by_name.items():
            try:
                on_node = pods_by_node[name]
                states[name] = snapshot.node_memo(
                    node, on_node, functools.partial(_node_state, snapshot, node, on_node)
                )
            except PodSpecError as exc:
                broken[name] = str(exc)
        group_of = {n: g.id for g in groups for n in g.node_names}
        return cls(snapshot, groups, nodes_by_name, pods_by_node, states, group_of, broken)

    def sim(self, *, indexed: bool = True) -> ClusterSim:
        """A fresh working copy of every readable node, in the snapshot's order."""
        return ClusterSim(
            self.states.values(),
            namespace_labels=self.snapshot.namespace_labels,
            indexed=indexed,
        )

    def template(self, group: NodeGroupState) -> GroupTemplate | None:
        if group.id not in self._templates:
            self._templates[group.id] = group_template(
                group,
                self.snapshot,
                nodes_by_name=self.nodes_by_name,
                pods_by_node=self.pods_by_node,
            )
        return self._templates[group.id]

    def ready_nodes(self) -> int:
        return sum(1 for n in self.nodes_by_name.values() if is_ready(n))


def _node_state(
    snapshot: ClusterSnapshot, node: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]
) -> NodeState:
    """The node with its pods, reusing each pod's cached parse. A pod that cannot be read
    still sits on the node: it is counted by what can be read of it (nothing, at worst)."""
    items: list[tuple[Mapping[str, Any], Resources, Resources, tuple[HostPort, ...]]] = []
    for pod in pods:
        try:
            req = snapshot.requirements(pod)
        except PodSpecError:
            items.append((pod, Resources(), Resources(), ()))
            continue
        items.append((pod, req.requests, req.nonzero_requests, req.host_ports))
    return NodeState.build(node).with_parsed_pods(items)
