"""Preemption: a pending pod of higher priority takes the place of lower-priority pods.

kube-scheduler's ``DefaultPreemption`` plugin, reduced to what a cluster shows: when a pod
fits no node, each node where it *would* fit without some of its lower-priority pods is a
candidate; the victims on a candidate are the fewest lower-priority pods whose removal makes
room (all lower-priority pods are taken off, then given back highest priority first while the
pod still fits — upstream's "reprieve"). The node chosen is the one whose highest-priority
victim is lowest, then with the fewest victims, then by name. The victims are deleted
(gracefully: they stay Terminating for their grace period) with a ``Preempted`` Event, and the
pod is nominated to the node (``status.nominatedNodeName``) until the room is free.

This is what overprovisioning relies on (story 8): placeholder pods at priority -1 keep room
warm; real pods preempt them, and the placeholders, pending again, make the node autoscaler
add a node.

Not modelled: PodDisruptionBudgets as a preference between candidates, pod affinity between
the preemptor and victims, and preemption across several nodes at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podscaler.nodes.nodestate import NodeState
from podscaler.nodes.predicates import PodRequirements, TopologyIndex, node_failure

__all__ = ["Preemption", "find_preemption", "may_preempt", "priority_of", "waiting_for_victims"]


def priority_of(pod: Mapping[str, Any]) -> int:
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _terminating(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


@dataclass(frozen=True)
class Preemption:
    node: str
    victims: tuple[Mapping[str, Any], ...]


def may_preempt(pod: Mapping[str, Any]) -> bool:
    return (pod.get("spec") or {}).get("preemptionPolicy") != "Never"


def waiting_for_victims(pod: Mapping[str, Any], states: Mapping[str, NodeState]) -> bool:
    """The pod was nominated to a node where lower-priority pods are still terminating: it
    waits for them rather than preempting again (upstream's ``PodEligibleToPreemptOthers``)."""
    nominated = (pod.get("status") or {}).get("nominatedNodeName")
    state = states.get(str(nominated)) if nominated else None
    if state is None:
        return False
    priority = priority_of(pod)
    return any(_terminating(p) and priority_of(p) < priority for p in state.pods)


def find_preemption(pod: PodRequirements, states: Sequence[NodeState]) -> Preemption | None:
    """Where ``pod`` fits by evicting lower-priority pods, and which; None when nowhere."""
    priority = priority_of(pod.pod)
    empty = TopologyIndex()
    best: tuple[tuple[int, int, str], Preemption] | None = None
    for state in states:
        lower = [p for p in state.pods if priority_of(p) < priority and not _terminating(p)]
        if not lower:
            continue
        kept = [p for p in state.pods if not (priority_of(p) < priority and not _terminating(p))]
        if node_failure(pod, NodeState.build(state.node, kept), empty) is not None:
            continue
        victims: list[Mapping[str, Any]] = []
        for candidate in sorted(lower, key=priority_of, reverse=True):
            trial = NodeState.build(state.node, [*kept, candidate])
            if node_failure(pod, trial, empty) is None:
                kept.append(candidate)
            else:
                victims.append(candidate)
        if not victims:
            continue
        rank = (max(priority_of(v) for v in victims), len(victims), state.name)
        if best is None or rank < best[0]:
            best = (rank, Preemption(state.name, tuple(victims)))
    return best[1] if best else None
