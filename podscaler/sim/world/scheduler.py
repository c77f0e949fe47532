"""The scheduler: bind Pending pods to nodes, or say why they cannot be placed.

Placement is :mod:`podscaler.nodes.predicates` (kube-scheduler's filters, the same functions
the node autoscaler's binpacking uses, so the two never disagree) and
:mod:`podscaler.nodes.scoring` (least-allocated, ties by name). A pod that fits is bound with
``pods/binding`` semantics and gets a ``Scheduled`` Event; one that does not gets
``PodScheduled=False`` with reason ``Unschedulable`` and kube-scheduler's message
("0/3 nodes are available: 3 Insufficient cpu. preemption: ...") and a ``FailedScheduling``
Event — which is what the node autoscaler looks for.

One pass places pods oldest first, updating each node's state as pods land, so a burst of
pods spreads as a real scheduler's would. Unschedulable pods are retried only when something
that could make them fit changes (a node added or Ready, a pod gone), as kube-scheduler moves
pods back from its unschedulable queue on cluster events.

Pods are tried highest priority first (then oldest), as kube-scheduler's active queue orders
them. A pod that fits nowhere may preempt lower-priority pods (:mod:`.preemption`): the
victims are deleted gracefully and the pod is nominated to their node until they are gone.

Simplifications: no scheduling gates, no permit/bind plugins; a pod naming another
``schedulerName`` is left alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from podscaler.nodes.nodestate import NodeState, PodSpecError
from podscaler.nodes.predicates import (
    FitResult,
    NodeFailure,
    PodRequirements,
    TopologyIndex,
    filter_states,
    node_failure,
    unschedulable_message,
)
from podscaler.nodes.scoring import select_node
from podscaler.sim.apiserver.errors import ApiError
from podscaler.sim.apiserver.store import Obj, rfc3339
from podscaler.sim.world.context import WorldContext
from podscaler.sim.world.preemption import (
    find_preemption,
    may_preempt,
    priority_of,
    waiting_for_victims,
)
from podscaler.sim.world.state import Key

__all__ = ["Scheduler"]

COMPONENT = "default-scheduler"


class Scheduler:
    def __init__(self, ctx: WorldContext) -> None:
        self.ctx = ctx
        #: pods found unschedulable since the last cluster change (not retried until then)
        self._parked: set[Key] = set()
        #: scheduling attempts (a figure for benchmarks)
        self.attempts = 0
        #: node → (its version when built, its predicate state)
        self._states: dict[str, tuple[int, NodeState]] = {}

    def has_work(self) -> bool:
        state = self.ctx.state
        if state.unbound and state.capacity_changed:
            return True
        return any(key not in self._parked for key in state.unbound)

    def schedule(self) -> None:
        state = self.ctx.state
        if state.capacity_changed:
            self._parked.clear()
            state.capacity_changed = False
        candidates = [k for k in state.unbound if k not in self._parked]
        if not candidates:
            return
        candidates.sort(
            key=lambda k: (
                -priority_of(state.pods[k]),
                state.births.get(str(state.pods[k]["metadata"]["uid"]), 0),
            )
        )
        states: dict[str, NodeState] | None = None
        placed_anti_affinity = False
        #: pending pods an earlier preemption nominated to a node (few: one per preemptor)
        nominated_pods = [
            k for k in state.unbound if (state.pods[k].get("status") or {}).get("nominatedNodeName")
        ]
        for key in candidates:
            pod = state.pods.get(key)
            if pod is None or key not in state.unbound:
                continue
            if (pod.get("spec") or {}).get("schedulerName", COMPONENT) != COMPONENT:
                self._parked.add(key)
                continue
            if states is None:
                states = self._node_states()
                placed_anti_affinity = any(
                    _has_required_anti_affinity(p) for st in states.values() for p in st.pods
                )
            self.attempts += 1
            try:
                facts = PodRequirements.from_pod(pod)
            except PodSpecError as exc:
                self._unschedulable(pod, f"the pod cannot be read: {exc}")
                self._parked.add(key)
                continue
            seen = _with_nominated(states, pod, nominated_pods, state.unbound, state.pods)
            if facts.has_topology_rules or placed_anti_affinity:
                result = filter_states(facts, list(seen.values()))
            else:
                result = _filter_without_topology(facts, seen)
            chosen = select_node(result)
            if chosen is None:
                nominated = self._preempt(pod, facts, result, states)
                self._unschedulable(
                    pod, unschedulable_message(result, preemption=True), nominated=nominated
                )
                if nominated is None:
                    # A preemptor is not parked: it is tried again next pass, when its victims
                    # may be gone (at once with a grace period of 0), before lower priorities.
                    self._parked.add(key)
                continue
            try:
                self.ctx.writer.bind(self.ctx.kinds.pods, pod, chosen)
            except ApiError:
                continue
            states[chosen] = states[chosen].with_pod(pod)
            # The bind bumped the node's version; the state built here already holds the pod.
            self._states[chosen] = (self.ctx.state.node_versions.get(chosen, 0), states[chosen])
            placed_anti_affinity = placed_anti_affinity or _has_required_anti_affinity(pod)
            meta = pod["metadata"]
            self.ctx.events.record(
                pod,
                "Normal",
                "Scheduled",
                f"Successfully assigned {meta['namespace']}/{meta['name']} to {chosen}",
                COMPONENT,
            )

    def _node_states(self) -> dict[str, NodeState]:
        """Each node's predicate state, rebuilt only for nodes whose pods changed (reading
        every pod's requests is what a pass would otherwise spend its time on)."""
        state = self.ctx.state
        states: dict[str, NodeState] = {}
        for name in sorted(state.nodes):
            version = state.node_versions.get(name, 0)
            cached = self._states.get(name)
            if cached is not None and cached[0] == version:
                states[name] = cached[1]
                continue
            pods = [state.pods[k] for k in state.pods_by_node.get(name, ()) if k in state.pods]
            built = NodeState.build(state.nodes[name], pods)
            self._states[name] = (version, built)
            states[name] = built
        for name in list(self._states):
            if name not in state.nodes:
                del self._states[name]
        return states

    def _preempt(
        self, pod: Obj, facts: PodRequirements, result: FitResult, states: dict[str, NodeState]
    ) -> str | None:
        """Delete the victims of preempting for ``pod``; the node it is nominated to."""
        if not may_preempt(pod) or waiting_for_victims(pod, states):
            return None
        if not any(f.resolvable for f in result.failures.values()):
            return None
        found = find_preemption(facts, list(states.values()))
        if found is None:
            return None
        meta = pod["metadata"]
        for victim in found.victims:
            vmeta = victim["metadata"]
            self.ctx.writer.delete(self.ctx.kinds.pods, str(vmeta["namespace"]), str(vmeta["name"]))
            self.ctx.events.record(
                dict(victim),
                "Normal",
                "Preempted",
                f"Preempted by pod {meta.get('uid')} on node {found.node}",
                COMPONENT,
            )
        state = self.ctx.state
        node = state.nodes.get(found.node)
        if node is not None:  # the victims are Terminating now: later pods see that
            pods = [
                state.pods[k] for k in state.pods_by_node.get(found.node, ()) if k in state.pods
            ]
            states[found.node] = NodeState.build(node, pods)
            state.node_versions[found.node] = state.node_versions.get(found.node, 0) + 1
            self._states[found.node] = (state.node_versions[found.node], states[found.node])
        return found.node

    def _unschedulable(self, pod: Obj, message: str, *, nominated: str | None = None) -> None:
        status: dict[str, Any] = dict(pod.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        previous = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None
        )
        if nominated is not None and status.get("nominatedNodeName") != nominated:
            status["nominatedNodeName"] = nominated
            previous = None
        if previous is None or previous.get("message") != message:
            conditions.append(
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": message,
                    "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(self.ctx.server.now()),
                }
            )
            status["conditions"] = conditions
            self.ctx.writer.replace_status(self.ctx.kinds.pods, pod, status)
        self.ctx.events.record(pod, "Warning", "FailedScheduling", message, COMPONENT)


def _has_required_anti_affinity(pod: Mapping[str, Any]) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    anti = affinity.get("podAntiAffinity") if isinstance(affinity, Mapping) else None
    return bool(anti and anti.get("requiredDuringSchedulingIgnoredDuringExecution"))


def _filter_without_topology(pod: PodRequirements, states: dict[str, NodeState]) -> FitResult:
    """``filter_states`` for the common case — no inter-pod rules anywhere — without its
    scan of every placed pod for anti-affinity terms (which makes placing n pods O(n²))."""
    empty = TopologyIndex()
    feasible: list[NodeState] = []
    failures: dict[str, NodeFailure] = {}
    for state in states.values():
        failure = node_failure(pod, state, empty)
        if failure is None:
            feasible.append(state)
        else:
            failures[state.name] = failure
    return FitResult(pod, len(states), tuple(feasible), failures)


def _with_nominated(
    states: dict[str, NodeState],
    pod: Obj,
    nominated: list[Key],
    unbound: Collection[Key],
    pods: Mapping[Key, Obj],
) -> dict[str, NodeState]:
    """The node states *pod* is filtered against: with the pods nominated to a node (by an
    earlier preemption) that are at least as important as *pod* counted as placed there, so
    a lower-priority pod cannot take the room a preemptor freed (upstream's
    ``addNominatedPods``; without it, placeholders recreated after being preempted took the
    room back at once, and were preempted again, forever)."""
    priority = priority_of(pod)
    uid = pod["metadata"].get("uid")
    seen = states
    for key in nominated:
        other = pods.get(key)
        if other is None or key not in unbound or other["metadata"].get("uid") == uid:
            continue
        node = (other.get("status") or {}).get("nominatedNodeName")
        if not node or node not in states or priority_of(other) < priority:
            continue
        if seen is states:
            seen = dict(states)
        seen[node] = seen[node].with_pod(other)
    return seen
