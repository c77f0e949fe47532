"""The scale-up decision (CA's ``ScaleUpOrchestrator``), as one pure function.

1. **Pods that count** (:mod:`podscaler.nodes.pending`): unschedulable, not expendable, not
   DaemonSet pods; grouped into equivalence groups.
2. **Filter out schedulable**: in priority order, pods that fit on free room of existing nodes
   or on nodes already on their way (upcoming: target size - registered, for groups with an
   active scale-up request and no backoff, as copies of the group template) are dropped —
   they need no new node, and counting them again would provision twice.
3. **Young pods** wait (``--new-pod-scale-up-delay``, per-pod annotation). If the oldest pod
   left is younger than 2 s (30 s when a pod wants a GPU) CA waits a loop for more pods and
   skips scale-down: so does this (``NOT_TRIED``, ``scale_down_blocked``).
4. **Groups**: skipped when backed off, at max size, without template, or when one more node
   would cross ``--cores-total``/``--memory-total`` (CA's reasons, word for word).
5. **Options**: per valid group, the pod groups that pass the predicates on its template, and
   the binpacking estimate for them, bounded by ``--max-nodes-per-scaleup``, the group's (and
   its similar groups') room and ``--max-nodes-total``.
6. **Expander** chain picks one; its node count is capped by ``--max-nodes-total`` (event
   ``MaxNodesTotalReached``) and the core/memory maxima, then **balanced** over similar groups.
7. **Reasons**: pods the chosen option places trigger the scale-up; pods no group can take
   carry per-group reasons (``NotTriggerScaleUp``); pods another group could take but the
   chosen one cannot await the next loop.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from podscaler.nodes.balancing import AWS_IGNORED_LABELS, GroupSize, balance_scale_up, similar
from podscaler.nodes.binpacking import NodeLimiter, estimate
from podscaler.nodes.cluster import Cluster
from podscaler.nodes.expanders import Choice, ExpansionOption, choose
from podscaler.nodes.instancetypes import INSTANCE_TYPES
from podscaler.nodes.limits import Usage, allowed_new_nodes, exceeded_max, quota_message
from podscaler.nodes.nodestate import node_capacity, pod_key
from podscaler.nodes.options import CONSTANTS, NodeAutoscalerOptions
from podscaler.nodes.pending import (
    PodGroup,
    build_pod_groups,
    is_expendable,
    is_unschedulable,
    pod_priority,
    young_pod_filter,
)
from podscaler.nodes.plans import (
    ClusterEvent,
    GroupOutcome,
    GroupScaleUp,
    PodOutcome,
    ScaleUpPlan,
    ScaleUpResult,
)
from podscaler.nodes.predicates import node_failure
from podscaler.nodes.priority import PriorityConfig, PriorityConfigError
from podscaler.nodes.simulation import ClusterSim
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState
from podscaler.nodes.state import AutoscalerState
from podscaler.nodes.templates import GPU_RESOURCE, GroupTemplate, is_daemonset_pod, renamed

__all__ = ["ExpanderStrategy", "plan_scale_up"]

BACKOFF_REASON: Final = "in backoff after failed scale-up"
MAX_SIZE_REASON: Final = "max node group size reached"
NOT_READY_REASON: Final = "not ready for scale-up"
GPU_LABEL: Final = "k8s.amazonaws.com/accelerator"

#: A replacement for the expander chain (tests, what-if explanations): options → the winner.
ExpanderStrategy = Callable[[Sequence[ExpansionOption]], ExpansionOption | None]


@dataclass
class _GroupWork:
    group: NodeGroupState
    template: GroupTemplate
    #: pod group index → the group's template accepts it
    schedulable: list[int]
    option: ExpansionOption | None = None
    placed: tuple[int, ...] = ()


def plan_scale_up(
    snapshot: ClusterSnapshot,
    groups: Sequence[NodeGroupState],
    options: NodeAutoscalerOptions,
    now: float,
    *,
    state: AutoscalerState | None = None,
    priorities: PriorityConfig | PriorityConfigError | None = None,
    seed: int = 0,
    expander: ExpanderStrategy | None = None,
    indexed: bool = True,
    assume_unschedulable: bool = False,
    unbounded_estimates: bool = False,
) -> ScaleUpPlan:
    """Decide this loop's scale-up. ``priorities`` is the priority expander's configuration
    (the last good one); ``seed`` makes the random expander replayable; ``expander``
    replaces the chain; ``indexed=False`` runs the predicates without their index (the
    benchmark's baseline); ``assume_unschedulable`` skips the filter-out-schedulable step —
    the caller vouches no existing node can take the pods, as CA's orchestrator tests call
    its ``ScaleUp`` directly; ``unbounded_estimates`` drops the estimator's node limits
    (max-nodes-per-scaleup, group and cluster room), as those tests' estimator has none — the
    chosen count is still capped afterwards."""
    state = state if state is not None else AutoscalerState.initial(options)
    cluster = Cluster.build(snapshot, groups, options)
    filtered: dict[str, list[str]] = {}
    warnings: list[str] = []

    def drop(reason: str, pods: Sequence[Mapping[str, Any]]) -> None:
        if pods:
            filtered.setdefault(reason, []).extend(pod_key(p) for p in pods)

    # 1. which pods count
    candidates: list[Mapping[str, Any]] = []
    for pod in snapshot.pods:
        if not is_unschedulable(pod):
            continue
        if is_expendable(pod, options.expendable_pods_priority_cutoff):
            drop("expendable", [pod])
        elif is_daemonset_pod(pod):
            drop("daemonset", [pod])
        else:
            candidates.append(pod)
    candidates.sort(key=lambda p: -(pod_priority(p) or 0))
    pod_groups, unreadable = build_pod_groups(candidates, snapshot)
    for key, error in unreadable.items():
        filtered.setdefault("unreadable", []).append(key)
        warnings.append(f"pod {key} cannot be read: {error}")

    # 2. filter out what fits on existing room or on nodes on their way
    sim = cluster.sim(indexed=indexed)
    upcoming_names = _add_upcoming(sim, cluster, groups, state, now)
    remaining_groups: list[PodGroup] = []
    for pod_group in pod_groups:
        if assume_unschedulable:
            remaining_groups.append(pod_group)
            continue
        placed = sim.place_copies(pod_group.exemplar, len(pod_group))
        count = sum(copies for _, copies in placed)
        on_upcoming = sum(c for i, c in placed if sim.at(i).name in upcoming_names)
        drop("fits on nodes on their way", pod_group.pods[count - on_upcoming : count])
        drop("fits on existing free room", pod_group.pods[: count - on_upcoming])
        if count < len(pod_group):
            remaining_groups.append(PodGroup(pod_group.exemplar, pod_group.pods[count:]))

    # 3. young pods
    old_pods, young, young_warnings = young_pod_filter(
        [p for g in remaining_groups for p in g.pods], now, options.new_pod_scale_up_delay_seconds
    )
    warnings.extend(young_warnings)
    drop("younger than new-pod-scale-up-delay", young)
    young_keys = {id(p) for p in young}
    pod_groups = []
    for pod_group in remaining_groups:
        kept = tuple(p for p in pod_group.pods if id(p) not in young_keys)
        if kept:
            pod_groups.append(PodGroup(pod_group.exemplar, kept))

    def finish(result: ScaleUpResult, **fields: Any) -> ScaleUpPlan:
        return ScaleUpPlan(result, filtered=_freeze(filtered), warnings=tuple(warnings), **fields)

    if not pod_groups:
        return finish(ScaleUpResult.NOT_NEEDED)
    registered = len(cluster.nodes_by_name)
    if options.max_nodes_total and cluster.ready_nodes() >= options.max_nodes_total:
        remaining = tuple(PodOutcome(k) for g in pod_groups for k in g.keys)
        event = _max_nodes_event(options)
        return finish(
            ScaleUpResult.LIMITED_BY_MAX_NODES_TOTAL, remaining=remaining, events=(event,)
        )
    if _too_new(old_pods, pod_groups, now):
        return finish(ScaleUpResult.NOT_TRIED, scale_down_blocked=True)

    # 4. which groups may grow
    usage = Usage.of_nodes(cluster.states.values()) + _upcoming_usage(cluster, groups, state, now)
    skipped: dict[str, tuple[str, ...]] = {}
    work: list[_GroupWork] = []
    for node_group in groups:
        template = cluster.template(node_group)
        reason = _skip_reason(node_group, template, state, now, usage, options)
        if reason is not None:
            skipped[node_group.id] = (reason,)
            continue
        assert template is not None
        work.append(_GroupWork(node_group, template, []))

    # 5. what each group's template accepts, and the estimates
    rejected: dict[int, dict[str, tuple[str, ...]]] = {i: {} for i in range(len(pod_groups))}
    for item in work:
        probe = sim.fork()
        index = probe.add_node(renamed(item.template.state, f"{item.template.state.name}-probe"))
        for gi, group in enumerate(pod_groups):
            failure = node_failure(group.exemplar, probe.at(index), probe.topology(group.exemplar))
            if failure is None:
                item.schedulable.append(gi)
            else:
                rejected[gi][item.group.id] = failure.reasons
    events: list[ClusterEvent] = []
    candidates_by_id = {item.group.id: item for item in work}
    for item in work:
        if not item.schedulable:
            continue
        similar_ids = (
            _similar_groups(item, work, options) if options.balance_similar_node_groups else []
        )
        room = sum(
            candidates_by_id[g].group.max_size - candidates_by_id[g].group.target_size
            for g in [item.group.id, *similar_ids]
        )
        limiter = (
            NodeLimiter(None)
            if unbounded_estimates
            else NodeLimiter.of(
                options.max_nodes_per_scaleup or None,
                room if room > 0 else -1,
                _cluster_room(options, registered + _upcoming_total(groups, state, now)),
            )
        )
        chosen_groups = [pod_groups[i] for i in item.schedulable]
        result = estimate(chosen_groups, item.template.state, sim.fork(), limiter)
        if result.node_count == 0 or result.pod_count == 0:
            continue
        item.placed = result.placed
        item.option = _option(item, chosen_groups, result.placed, result.node_count)

    options_list = [item.option for item in work if item.option is not None]
    outcomes = {
        g.id: GroupOutcome(g.id, skipped=skipped[g.id][0]) for g in groups if g.id in skipped
    }
    for item in work:
        option = item.option
        outcomes[item.group.id] = GroupOutcome(
            item.group.id,
            node_count=option.node_count if option else 0,
            pod_count=option.pod_count if option else 0,
        )
    remaining_outcomes = tuple(
        PodOutcome(key, rejected=dict(rejected[gi]), skipped=dict(skipped))
        for gi, group in enumerate(pod_groups)
        if not any(gi in item.schedulable for item in work)
        for key in group.keys
    )
    ordered = tuple(outcomes[g.id] for g in groups if g.id in outcomes)
    if not options_list:
        return finish(ScaleUpResult.NO_OPTIONS, remaining=remaining_outcomes, groups=ordered)

    # 6. choose, cap, balance
    if expander is not None:
        best = expander(options_list)
        choice = Choice(best, {o.group: "expander" for o in options_list if o is not best})
    else:
        choice = choose(
            options_list,
            options.expander,
            rng=random.Random(seed),
            cluster_size=registered,
            priorities=priorities,
            events=events,
        )
    if choice.best is None:
        return finish(
            ScaleUpResult.NO_OPTIONS,
            remaining=remaining_outcomes,
            groups=ordered,
            events=tuple(events),
        )
    best_item = candidates_by_id[choice.best.group]
    new_nodes = choice.best.node_count
    current_total = registered + _upcoming_total(groups, state, now)
    if options.max_nodes_total and new_nodes + current_total > options.max_nodes_total:
        new_nodes = options.max_nodes_total - current_total
        events.append(_max_nodes_event(options))
    node_usage = Usage.of_node(best_item.template.state)
    new_nodes = allowed_new_nodes(usage, node_usage, new_nodes, options)
    best_pod_groups = [pod_groups[i] for i in best_item.schedulable]
    triggered = tuple(
        key
        for group, count in zip(best_pod_groups, best_item.placed, strict=True)
        for key in group.keys[:count]
    )
    scale_ups: list[GroupScaleUp] = []
    if new_nodes >= 1:
        targets = [best_item]
        if options.balance_similar_node_groups:
            for gid in _similar_groups(best_item, work, options):
                other = candidates_by_id[gid]
                if not exceeded_max(usage, Usage.of_node(other.template.state), 1, options):
                    targets.append(other)
        scale_ups = balance_scale_up(
            [GroupSize(t.group.id, t.group.target_size, t.group.max_size) for t in targets],
            new_nodes,
        )
        scale_ups = _cap_by_quota(scale_ups, candidates_by_id, usage, options)
    for item in work:
        if item.option is None:
            continue
        outcomes[item.group.id] = GroupOutcome(
            item.group.id,
            node_count=item.option.node_count,
            pod_count=item.option.pod_count,
            chosen=item is best_item,
            dropped_by=choice.dropped_by.get(item.group.id),
        )
    awaiting = tuple(
        key
        for gi, group in enumerate(pod_groups)
        if gi not in best_item.schedulable
        and best_item.group.id in rejected[gi]
        and any(gi in item.schedulable for item in work)
        for key in group.keys
    )
    result_kind = ScaleUpResult.SUCCESSFUL if scale_ups else ScaleUpResult.NO_OPTIONS
    return finish(
        result_kind,
        scale_ups=tuple(scale_ups),
        triggered=triggered,
        remaining=remaining_outcomes,
        awaiting=awaiting,
        groups=tuple(outcomes[g.id] for g in groups if g.id in outcomes),
        events=tuple(events),
    )


def _freeze(filtered: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in filtered.items()}


def _max_nodes_event(options: NodeAutoscalerOptions) -> ClusterEvent:
    return ClusterEvent(
        "Warning",
        "MaxNodesTotalReached",
        f"Max total nodes in cluster reached: {options.max_nodes_total}",
    )


def _too_new(
    old_pods: Sequence[Mapping[str, Any]], pod_groups: Sequence[PodGroup], now: float
) -> bool:
    """CA waits a loop while the oldest pending pod is under 2 s old (30 s with a GPU)."""
    from podscaler.api.timestamps import parse_seconds as unix_seconds

    wants_gpu = any(g.exemplar.requests.extended_amount(GPU_RESOURCE) for g in pod_groups)
    buffer = CONSTANTS[
        "unschedulable_pod_with_gpu_time_buffer_seconds"
        if wants_gpu
        else "unschedulable_pod_time_buffer_seconds"
    ]
    created = [unix_seconds((p.get("metadata") or {}).get("creationTimestamp")) for p in old_pods]
    known = [c for c in created if c is not None]
    return bool(known) and now - min(known) < buffer


def _add_upcoming(
    sim: ClusterSim,
    cluster: Cluster,
    groups: Sequence[NodeGroupState],
    state: AutoscalerState,
    now: float,
) -> set[str]:
    names: set[str] = set()
    for group in groups:
        count = state.upcoming(group, now)
        template = cluster.template(group) if count else None
        if template is None:
            continue
        for i in range(count):
            name = f"{template.state.name}-upcoming-{i}"
            sim.add_node(renamed(template.state, name))
            names.add(name)
    return names


def _upcoming_total(groups: Sequence[NodeGroupState], state: AutoscalerState, now: float) -> int:
    return sum(state.upcoming(g, now) for g in groups)


def _upcoming_usage(
    cluster: Cluster, groups: Sequence[NodeGroupState], state: AutoscalerState, now: float
) -> Usage:
    total = Usage()
    for group in groups:
        count = state.upcoming(group, now)
        template = cluster.template(group) if count else None
        if template is not None:
            total = total + Usage.of_node(template.state).times(count)
    return total


def _cluster_room(options: NodeAutoscalerOptions, current: int) -> int | None:
    if not options.max_nodes_total:
        return None
    room = options.max_nodes_total - current
    return room if room > 0 else -1


def _skip_reason(
    group: NodeGroupState,
    template: GroupTemplate | None,
    state: AutoscalerState,
    now: float,
    usage: Usage,
    options: NodeAutoscalerOptions,
) -> str | None:
    if state.backoff.status(group.id, now).backed_off:
        return BACKOFF_REASON
    if group.target_size >= group.max_size:
        return MAX_SIZE_REASON
    if template is None:
        return NOT_READY_REASON
    if group.target_size == 0 and not options.scale_up_from_zero:
        return NOT_READY_REASON
    exceeded = exceeded_max(usage, Usage.of_node(template.state), 1, options)
    if exceeded:
        return quota_message(exceeded)
    return None


def _option(
    item: _GroupWork, pod_groups: Sequence[PodGroup], placed: Sequence[int], node_count: int
) -> ExpansionOption:
    cpu = memory = 0
    for group, count in zip(pod_groups, placed, strict=True):
        cpu += group.exemplar.requests.cpu_millicores * count
        memory += group.exemplar.requests.memory_bytes * count
    template = item.template.state
    capacity = node_capacity(template.node)
    return ExpansionOption(
        group=item.group.id,
        node_count=node_count,
        pod_count=sum(placed),
        requested_cpu_millicores=cpu,
        requested_memory_bytes=memory,
        capacity_cpu_millicores=capacity.get("cpu", template.allocatable.cpu_millicores),
        capacity_memory_bytes=capacity.get("memory", template.allocatable.memory_bytes),
        price_per_hour=_price(item),
        has_gpu=bool(capacity.get(GPU_RESOURCE)) or GPU_LABEL in template.labels,
    )


def _price(item: _GroupWork) -> float | None:
    """The group's price, or the instance-type table's for its template's type."""
    if item.group.price_per_hour is not None:
        return item.group.price_per_hour
    kind = item.template.state.labels.get("node.kubernetes.io/instance-type")
    known = INSTANCE_TYPES.get(kind) if kind else None
    return known.price_per_hour if known else None


def _similar_groups(
    item: _GroupWork, work: Sequence[_GroupWork], options: NodeAutoscalerOptions
) -> list[str]:
    """Groups similar to ``item`` that can take the same pod groups (CA's rule)."""
    found = []
    for other in work:
        if other is item or other.schedulable != item.schedulable:
            continue
        if similar(
            item.template.state, other.template.state, options, extra_ignored=AWS_IGNORED_LABELS
        ):
            found.append(other.group.id)
    return found


def _cap_by_quota(
    scale_ups: Sequence[GroupScaleUp],
    work: Mapping[str, _GroupWork],
    usage: Usage,
    options: NodeAutoscalerOptions,
) -> list[GroupScaleUp]:
    """Trim each group's increase to what the core/memory maxima still allow, in order."""
    capped: list[GroupScaleUp] = []
    for scale_up in scale_ups:
        node = Usage.of_node(work[scale_up.group].template.state)
        allowed = allowed_new_nodes(usage, node, scale_up.delta, options)
        if allowed <= 0:
            continue
        usage = usage + node.times(allowed)
        capped.append(
            GroupScaleUp(
                scale_up.group,
                scale_up.current_size,
                scale_up.current_size + allowed,
                scale_up.max_size,
            )
        )
    return capped
