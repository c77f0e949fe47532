"""The scale-down decision (CA's scale-down planner and ``RemovableAt``), as one pure function.

1. **Eligibility**, per node, first failing check wins: recently found unremovable
   (re-checked after ``--unremovable-node-recheck-timeout``), being deleted (a
   ``ToBeDeletedByClusterAutoscaler`` taint under 5 min old), the
   ``cluster-autoscaler.kubernetes.io/scale-down-disabled`` annotation, in no node group,
   utilization not computable, unready with ``--scale-down-unready-enabled=false``, utilization
   above the threshold (the group's, or the GPU one for GPU nodes; exactly at it is eligible).
2. **Removal simulation**, candidates that were already unneeded first, up to CA's
   ``unneededNodesLimit``: the drain rules (:mod:`podscaler.nodes.drain`) must not block, and
   every pod to move must fit somewhere else under every predicate — with the node replaced by
   an empty copy tainted ``ToBeDeletedByClusterAutoscaler`` and the moves of nodes already
   found removable in place, so two half-empty nodes are not both "removable" into each other.
   The first pod that fits nowhere is named.
3. **Unneeded timers**: a removable node keeps the time it first became unneeded
   (``AutoscalerState.unneeded_since``); a node that stops being removable loses it.
4. **Removal now** (empty nodes before drains): unneeded for longer than
   ``--scale-down-unneeded-time`` (``--scale-down-unready-time`` when unready; strictly), in a
   group that stays above its minimum counting deletions in flight, and above the cluster-wide
   minimum cores/memory; then within ``--max-scale-down-parallelism`` (minus deletions in
   flight; ``--max-empty-bulk-delete`` too when set) and ``--max-drain-parallelism`` for
   drains, drains whose pods' PDBs allow evicting them all at once first.
5. **Cooldown**: after a scale-up (``--scale-down-delay-after-add``), a deletion
   (``…-after-delete``) or a failure (``…-after-failure``), or when this loop's scale-up acted
   or waited for young pods, nothing is removed — but the timers keep counting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from podscaler.nodes.cluster import Cluster
from podscaler.nodes.drain import ControllerLookup, PdbTracker, pods_to_move
from podscaler.nodes.limits import Usage, violated_min
from podscaler.nodes.nodestate import NodeState, PodSpecError, Resources, Taint, pod_key
from podscaler.nodes.options import CONSTANTS, NodeAutoscalerOptions
from podscaler.nodes.plans import (
    NodeRemoval,
    NodeUnremovable,
    ScaleDownPlan,
    ScaleUpPlan,
    ScaleUpResult,
    UnneededNode,
    UnremovableReason,
    Utilization,
)
from podscaler.nodes.predicates import PodRequirements
from podscaler.nodes.simulation import ClusterSim
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState, is_ready
from podscaler.nodes.state import AutoscalerState, Unremovable
from podscaler.nodes.templates import TAINT_TO_BE_DELETED
from podscaler.nodes.utilization import UtilizationError, is_gpu_node, node_utilization

__all__ = [
    "SCALE_DOWN_DISABLED_ANNOTATION",
    "RemovalCandidate",
    "check_eligibility",
    "plan_scale_down",
    "removable_at",
    "unneeded_nodes_limit",
]

SCALE_DOWN_DISABLED_ANNOTATION: Final = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
_R = UnremovableReason


@dataclass
class RemovalCandidate:
    """A node on its way out: eligible, and (after the simulation) with the pods to move."""

    name: str
    group: NodeGroupState
    utilization: Utilization
    ready: bool
    pods: tuple[Mapping[str, Any], ...] = ()
    daemonset_pods: tuple[Mapping[str, Any], ...] = ()
    risky: bool = False
    disabled: bool = False
    usage: Usage = field(default_factory=lambda: Usage(1))


def unneeded_nodes_limit(unneeded: int, options: NodeAutoscalerOptions) -> int:
    """How many removable nodes one pass looks for (CA's ``unneededNodesLimit``)."""
    n = options.max_scale_down_parallelism
    loops = max(options.scale_down_unneeded_time_seconds, options.scan_interval_seconds)
    upper = n * int(loops // options.scan_interval_seconds) + n
    return min(unneeded + 2 * n, upper)


def being_deleted(node: Mapping[str, Any], now: float) -> bool:
    """CA's ``IsNodeBeingDeleted``: a ToBeDeleted taint whose timestamp is under 5 min old."""
    fresh = float(CONSTANTS["deletion_taint_fresh_seconds"])
    for taint in (node.get("spec") or {}).get("taints") or ():
        if isinstance(taint, Mapping) and taint.get("key") == TAINT_TO_BE_DELETED:
            value = str(taint.get("value") or "")
            try:
                return now - float(value) < fresh
            except ValueError:
                return False
    return False


def _has_annotation(node: Mapping[str, Any]) -> bool:
    annotations = (node.get("metadata") or {}).get("annotations") or {}
    return annotations.get(SCALE_DOWN_DISABLED_ANNOTATION) == "true"


def plan_scale_down(
    snapshot: ClusterSnapshot,
    groups: Sequence[NodeGroupState],
    state: AutoscalerState,
    options: NodeAutoscalerOptions,
    now: float,
    *,
    scale_up: ScaleUpPlan | None = None,
    controllers: ControllerLookup | None = None,
    indexed: bool = True,
) -> ScaleDownPlan:
    """Decide this loop's scale-down (see the module docstring). ``scale_up`` is this loop's
    scale-up plan; ``controllers`` looks up workload controllers for
    ``--min-replica-count`` (without it that rule is not applied, as CA without listers)."""
    cluster = Cluster.build(snapshot, groups, options)
    eligible, unremovable = _eligible(cluster, groups, state, options, now)

    def refuse(name: str, reason: UnremovableReason, detail: str = "", **extra: Any) -> None:
        unremovable[name] = NodeUnremovable(name, reason, detail=detail, **extra)

    # 2. removal simulation
    sim = cluster.sim(indexed=indexed)
    pdbs = PdbTracker.of(snapshot.pdbs)
    limit = unneeded_nodes_limit(len(state.unneeded_since), options)
    recheck_until = now + options.unremovable_node_recheck_timeout_seconds
    remembered: dict[str, Unremovable] = {
        n: u for n, u in state.unremovable.items() if u.until > now and n in cluster.nodes_by_name
    }
    removable: list[RemovalCandidate] = []
    for candidate in eligible:
        if len(removable) >= limit:
            refuse(candidate.name, _R.NOT_UNNEEDED_OTHER_REASON, "not simulated in this pass")
            continue
        verdict = _simulate_removal(candidate, cluster, sim, pdbs, options, now, controllers)
        if isinstance(verdict, NodeUnremovable):
            unremovable[candidate.name] = verdict
            remembered[candidate.name] = Unremovable(
                recheck_until, verdict.reason.value, verdict.detail
            )
            continue
        sim = verdict
        removable.append(candidate)

    # 3. unneeded timers
    since = {c.name: state.unneeded_since.get(c.name, now) for c in removable}
    next_state = state.with_unneeded(since, remembered)
    unneeded = tuple(
        UnneededNode(c.name, c.group.id, since[c.name], c.utilization, not c.pods)
        for c in removable
    )

    # 5. cooldown
    cooldown = _cooldown(state, options, now, scale_up)
    if cooldown is not None:
        return ScaleDownPlan(
            next_state, (), unneeded, tuple(unremovable.values()), cooldown=cooldown
        )

    # 4. what may go now
    usage = Usage.of_nodes(cluster.states.values())
    empty, drain, refused = removable_at(removable, since, groups, usage, options, now)
    unremovable.update(refused)
    removals = _within_budgets(empty, drain, groups, options)
    return ScaleDownPlan(next_state, removals, unneeded, tuple(unremovable.values()))


def check_eligibility(
    snapshot: ClusterSnapshot,
    groups: Sequence[NodeGroupState],
    options: NodeAutoscalerOptions,
    now: float,
    *,
    state: AutoscalerState | None = None,
) -> tuple[list[str], dict[str, NodeUnremovable]]:
    """Step 1 alone (CA's ``FilterOutUnremovable``): the eligible nodes, and why the others
    are not."""
    cluster = Cluster.build(snapshot, groups, options)
    state = state if state is not None else AutoscalerState.initial(options)
    eligible, unremovable = _eligible(cluster, groups, state, options, now)
    return [c.name for c in eligible], unremovable


def _eligible(
    cluster: Cluster,
    groups: Sequence[NodeGroupState],
    state: AutoscalerState,
    options: NodeAutoscalerOptions,
    now: float,
) -> tuple[list[RemovalCandidate], dict[str, NodeUnremovable]]:
    by_id = {g.id: g for g in groups}
    unremovable: dict[str, NodeUnremovable] = {}

    def refuse(name: str, reason: UnremovableReason, detail: str = "", **extra: Any) -> None:
        unremovable[name] = NodeUnremovable(name, reason, detail=detail, **extra)

    # candidates that were unneeded before go first, so their timers keep running
    order = sorted(cluster.nodes_by_name, key=lambda n: n not in state.unneeded_since)
    eligible: list[RemovalCandidate] = []
    for name in order:
        node = cluster.nodes_by_name[name]
        previous = state.unremovable.get(name)
        if previous is not None and previous.until > now:
            refuse(
                name,
                _R.RECENTLY_UNREMOVABLE,
                f"found unremovable less than {options.unremovable_node_recheck_timeout_seconds:g}s"
                f" ago: {previous.reason}" + (f" ({previous.detail})" if previous.detail else ""),
            )
            continue
        candidate = _eligibility(name, node, cluster, by_id, options, now, refuse)
        if candidate is not None:
            eligible.append(candidate)
    return eligible, unremovable


def _eligibility(
    name: str,
    node: Mapping[str, Any],
    cluster: Cluster,
    groups: Mapping[str, NodeGroupState],
    options: NodeAutoscalerOptions,
    now: float,
    refuse: Any,
) -> RemovalCandidate | None:
    if name in cluster.broken_nodes:
        refuse(name, _R.UNEXPECTED_ERROR, cluster.broken_nodes[name])
        return None
    if being_deleted(node, now):
        refuse(name, _R.CURRENTLY_BEING_DELETED, "the node is being deleted")
        return None
    if _has_annotation(node):
        refuse(
            name, _R.SCALE_DOWN_DISABLED_ANNOTATION, f"annotated {SCALE_DOWN_DISABLED_ANNOTATION}"
        )
        return None
    group_id = cluster.group_of.get(name)
    if group_id is None:
        refuse(name, _R.NOT_AUTOSCALED, "the node belongs to no node group")
        return None
    group = groups[group_id]
    resolved = group.options.resolve(options)
    bound = _bound_pods(cluster, name)
    try:
        utilization = node_utilization(
            node,
            bound,
            now,
            skip_daemonsets=resolved.ignore_daemonsets_utilization,
            skip_mirror=options.ignore_mirror_pods_utilization,
            requests_of=lambda pod: _requests(cluster.snapshot, pod),
        )
    except UtilizationError as exc:
        refuse(name, _R.UNEXPECTED_ERROR, f"utilization cannot be computed: {exc}")
        return None
    ready = is_ready(node)
    if not ready and not options.scale_down_unready_enabled:
        refuse(
            name, _R.SCALE_DOWN_UNREADY_DISABLED, "unready, and scale-down of unready nodes is off"
        )
        return None
    threshold = (
        resolved.scale_down_gpu_utilization_threshold
        if is_gpu_node(node)
        else resolved.scale_down_utilization_threshold
    )
    if utilization.value > threshold:
        refuse(
            name,
            _R.NOT_UNDERUTILIZED,
            f"{utilization.resource} utilization {utilization.value:.3f} is above the "
            f"threshold {threshold:g}",
        )
        return None
    usage = Usage.of_node(cluster.states[name])
    return RemovalCandidate(name, group, utilization, ready, usage=usage)


def _requests(snapshot: ClusterSnapshot, pod: Mapping[str, Any]) -> Resources:
    try:
        return snapshot.requirements(pod).requests
    except PodSpecError:
        return Resources()


def _bound_pods(cluster: Cluster, name: str) -> list[Mapping[str, Any]]:
    """The pods really bound to the node (not those only nominated to it)."""
    return [p for p in cluster.pods_by_node[name] if (p.get("spec") or {}).get("nodeName") == name]


def _simulate_removal(
    candidate: RemovalCandidate,
    cluster: Cluster,
    sim: ClusterSim,
    pdbs: PdbTracker,
    options: NodeAutoscalerOptions,
    now: float,
    controllers: ControllerLookup | None,
) -> ClusterSim | NodeUnremovable:
    """The simulation with ``candidate`` removed and its pods moved, or why not."""
    name = candidate.name
    moves = pods_to_move(_bound_pods(cluster, name), now, options, pdbs, controllers=controllers)
    if moves.blocking is not None:
        return NodeUnremovable(
            name,
            _R.BLOCKED_BY_POD,
            blocking_pod=moves.blocking.pod,
            blocking_rule=moves.blocking.reason,
            detail=moves.blocking.message,
        )
    if moves.on_completion_pods:
        waiting = pod_key(moves.on_completion_pods[0])
        return NodeUnremovable(
            name,
            _R.BLOCKED_BY_ON_COMPLETION_POD,
            blocking_pod=waiting,
            detail=f"{waiting} is annotated safe-to-evict: on-completion and still running",
        )
    fork = sim.fork()
    fork.replace_node(_drained_copy(fork.state(name)))
    fork.close_node(name)
    reqs: list[PodRequirements] = []
    for pod in moves.pods:
        try:
            reqs.append(cluster.snapshot.requirements(pod).unbound())
        except PodSpecError as exc:
            return NodeUnremovable(
                name, _R.UNEXPECTED_ERROR, blocking_pod=pod_key(pod), detail=str(exc)
            )
    for req, index in fork.place_all(reqs, stop_at_first_failure=True):
        if index is None:
            return NodeUnremovable(
                name,
                _R.NO_PLACE_TO_MOVE_PODS,
                blocking_pod=req.key,
                detail=f"no other node can take {req.key}",
            )
    candidate.pods = moves.pods
    candidate.daemonset_pods = moves.daemonset_pods
    candidate.risky = not pdbs.can_remove_all(moves.pods)
    pdbs.remove(moves.pods)
    return fork


def _drained_copy(state: NodeState) -> NodeState:
    """The node with its pods gone and tainted ToBeDeleted: it keeps its topology domain but
    takes no pod (CA simulates removal this way)."""
    return NodeState(
        node=state.node,
        name=state.name,
        labels=state.labels,
        unschedulable=state.unschedulable,
        taints=(*state.taints, Taint(TAINT_TO_BE_DELETED, "", "NoSchedule")),
        allocatable=state.allocatable,
        allowed_pods=state.allowed_pods,
        requested=Resources(),
        nonzero_requested=Resources(),
        pods=(),
    )


def _cooldown(
    state: AutoscalerState,
    options: NodeAutoscalerOptions,
    now: float,
    scale_up: ScaleUpPlan | None,
) -> str | None:
    if not options.scale_down_enabled:
        return "scale-down is disabled (--scale-down-enabled=false)"
    if scale_up is not None and scale_up.result is ScaleUpResult.SUCCESSFUL:
        return "a scale-up was planned in this loop"
    if scale_up is not None and scale_up.scale_down_blocked:
        return "pending pods are too new: waiting a loop for more"
    holds = (
        (state.last_scale_up, options.scale_down_delay_after_add_seconds, "scale-up"),
        (state.last_scale_down_delete, options.scale_down_delay_after_delete_seconds, "deletion"),
        (
            state.last_scale_down_failure,
            options.scale_down_delay_after_failure_seconds,
            "failed scale-down",
        ),
    )
    for stamp, delay, what in holds:
        if stamp is not None and stamp + delay > now:
            return f"in cooldown for {stamp + delay - now:.0f}s after the last {what}"
    return None


def removable_at(
    candidates: Sequence[RemovalCandidate],
    since: Mapping[str, float],
    groups: Sequence[NodeGroupState],
    usage: Usage,
    options: NodeAutoscalerOptions,
    now: float,
    *,
    min_nodes: int = 0,
) -> tuple[list[RemovalCandidate], list[RemovalCandidate], dict[str, NodeUnremovable]]:
    """CA's ``RemovableAt``: (empty nodes, nodes to drain) that may go now, and why the others
    wait. Empty candidates are checked first; each accepted node lowers its group's size and
    the cluster's usage for the next. ``min_nodes`` is a cluster-wide node minimum (CA's
    capacity quotas)."""
    sizes = {g.id: g.target_size for g in groups}
    refused: dict[str, NodeUnremovable] = {}
    empty: list[RemovalCandidate] = []
    drain: list[RemovalCandidate] = []

    def refuse(candidate: RemovalCandidate, reason: UnremovableReason, detail: str) -> None:
        refused[candidate.name] = NodeUnremovable(candidate.name, reason, detail=detail)

    ordered = [c for c in candidates if not c.pods] + [c for c in candidates if c.pods]
    for candidate in ordered:
        group = candidate.group
        if group.options.error is not None:
            refuse(candidate, _R.UNEXPECTED_ERROR, group.options.error)
            continue
        if candidate.disabled:
            refuse(candidate, _R.SCALE_DOWN_DISABLED_ANNOTATION, "annotated scale-down-disabled")
            continue
        resolved = group.options.resolve(options)
        threshold = (
            resolved.scale_down_unneeded_time_seconds
            if candidate.ready
            else resolved.scale_down_unready_time_seconds
        )
        if threshold > 0 and not since[candidate.name] + threshold < now:
            reason = _R.NOT_UNNEEDED_LONG_ENOUGH if candidate.ready else _R.NOT_UNREADY_LONG_ENOUGH
            refuse(
                candidate,
                reason,
                f"unneeded for {now - since[candidate.name]:.0f}s of {threshold:g}s",
            )
            continue
        if group.id not in sizes:
            refuse(candidate, _R.NOT_AUTOSCALED, "the node belongs to no node group")
            continue
        if sizes[group.id] - group.deleting <= group.min_size:
            refuse(
                candidate,
                _R.NODE_GROUP_MIN_SIZE_REACHED,
                f"node group {group.id} is at its minimum size {group.min_size}",
            )
            continue
        violated = violated_min(usage, candidate.usage, options, min_nodes=min_nodes)
        if violated:
            refuse(
                candidate,
                _R.MINIMAL_RESOURCE_LIMIT_EXCEEDED,
                f"the cluster would go below its minimum {', '.join(violated)}",
            )
            continue
        usage = Usage(
            usage.nodes - candidate.usage.nodes,
            usage.cores - candidate.usage.cores,
            usage.memory_bytes - candidate.usage.memory_bytes,
        )
        sizes[group.id] -= 1
        (drain if candidate.pods else empty).append(candidate)
    return empty, drain, refused


def _within_budgets(
    empty: Sequence[RemovalCandidate],
    drain: Sequence[RemovalCandidate],
    groups: Sequence[NodeGroupState],
    options: NodeAutoscalerOptions,
) -> tuple[NodeRemoval, ...]:
    """Empty nodes in bulk up to the parallelism left, then drains (PDB-safe ones first) up
    to ``--max-drain-parallelism``."""
    in_flight = sum(g.deleting for g in groups)
    budget = max(0, options.max_scale_down_parallelism - in_flight)
    empty_budget = budget
    if options.max_empty_bulk_delete is not None:
        empty_budget = min(empty_budget, options.max_empty_bulk_delete)
    chosen_empty = list(empty[:empty_budget])
    drain_budget = max(0, min(options.max_drain_parallelism, budget - len(chosen_empty)))
    chosen_drain = sorted(drain, key=lambda c: c.risky)[:drain_budget]
    return tuple(
        NodeRemoval(
            c.name,
            c.group.id,
            "unready" if not c.ready else ("empty" if not c.pods else "underutilized"),
            c.utilization,
            tuple(pod_key(p) for p in c.pods),
            tuple(pod_key(p) for p in c.daemonset_pods),
        )
        for c in [*chosen_empty, *chosen_drain]
    )
