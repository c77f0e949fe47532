"""Node autoscaling, Cluster Autoscaler's job: pending pods → node groups, and safe scale-down.

This package is the *planning* half: pure functions of (cluster snapshot, node groups, options,
remembered state, ``now``) → plans with reasons. No I/O, no asyncio, no clock: ``now`` is Unix
seconds (the epoch of the objects' timestamps) passed in by the caller. The acting half — the
``NodeGroup`` providers (``providers/``: AWS Auto Scaling on aiobotocore, the simulated cloud)
and the loop (``controllers/nodes``) — reads the inputs, calls these functions and applies the
plans.

The public API (everything else is internal and may change):

Inputs
    ``ClusterSnapshot.build(nodes, pods, *, pdbs=(), daemonsets=(), namespace_labels=None,
    previous=None)`` — API dicts as informers hold them; ``previous`` reuses parsed pods.
    ``NodeGroupState(id, min_size, max_size, target_size, node_names=(), template=None,
    price_per_hour=None, deleting=0, options=GroupOptions())`` — one group as its provider
    reports it (``template`` is the provider's Node for scale-from-zero).

Options
    ``NodeAutoscalerOptions`` — every CA flag with CA's default; ``OPTIONS`` is the
    declaration (flag, field, kind, help) the CLI builds its flags from;
    ``parse_options(mapping)`` reads flag spellings, camelCase (scenario files) or
    snake_case, ``parse_flags(argv)`` a command line; ``GroupOptions`` holds per-group
    overrides (``asgtags.options_from_tags`` reads them from ASG tags). Bad input:
    ``OptionsError`` naming the option.

State
    ``AutoscalerState.initial(options)`` — remembered between loops (scale-up requests,
    backoff, unneeded timers, recently-unremovable nodes, cooldown stamps). Transitions return
    a new state: ``observe(groups, now) -> (state, timeouts)`` (requests that completed or
    timed out: revert those and emit ``ScaleUpTimedOut``), ``scaled_up(group, delta, now,
    options)``, ``scale_up_failed(group, error_code, message, now, failed_nodes=None)``,
    ``scaled_down(nodes, now)``, ``scale_down_failed(now)``; ``upcoming(group, now)``.

Planning
    ``plan_scale_up(snapshot, groups, options, now, *, state=None, priorities=None, seed=0)
    -> ScaleUpPlan`` — ``priorities`` is the priority expander's configuration
    (``priority.priorities_from_configmap(cm)`` gives a ``PriorityConfig`` or a
    ``PriorityConfigError`` value: keep the last good one and record the error as an Event).
    ``plan_scale_down(snapshot, groups, state, options, now, *, scale_up=None,
    controllers=None) -> ScaleDownPlan`` — pass this loop's scale-up plan (scale-down holds
    when it acted or waited for young pods); ``controllers(namespace, kind, name)`` returns a
    controller's replicas (KeyError when missing) for ``--min-replica-count``.

Plans
    ``ScaleUpPlan``: ``result``, ``scale_ups`` (``GroupScaleUp``: group, current, new, max —
    the sizes to set), ``triggered`` pods (``TriggeredScaleUp`` with ``triggered_message()``),
    ``remaining`` pods with per-group reasons (``PodOutcome``; ``NotTriggerScaleUp`` with
    ``not_triggered_message(outcome)`` when ``emits_not_triggered``), ``awaiting`` pods,
    ``groups`` (``GroupOutcome``: skip reason in CA's words, estimate, chosen, dropped by which
    expander), ``events`` (``MaxNodesTotalReached``, priority ConfigMap warnings),
    ``filtered`` (pods not considered, by why), ``warnings``.
    ``ScaleDownPlan``: ``removals`` (``NodeRemoval``: node, group, reason label
    empty/underutilized/unready, pods to evict), ``unneeded`` (since when, utilization),
    ``unremovable`` (``NodeUnremovable``: CA's reason, the blocking pod and its drain rule, a
    sentence), ``cooldown``, ``state``.

Templates (for the AWS provider)
    ``templates.asg_template_node(instance_type, asg_name, zones, tags, reserved=None)`` — the
    scale-from-zero Node, as CA builds it; ``templates.asg_instance_type(asg, ...)``;
    ``instancetypes.INSTANCE_TYPES`` / ``merged(described)``; ``asgtags``:
    ``parse_auto_discovery_spec``, ``labels_from_tags``, ``taints_from_tags``,
    ``resources_from_tags``, ``options_from_tags``.
"""

from podscaler.nodes.flags import parse_flags, parse_options
from podscaler.nodes.options import (
    OPTIONS,
    GroupOptions,
    NodeAutoscalerOptions,
    OptionsError,
)
from podscaler.nodes.plans import (
    BlockingReason,
    ClusterEvent,
    GroupOutcome,
    GroupScaleUp,
    NodeRemoval,
    NodeUnremovable,
    PodOutcome,
    ScaleDownPlan,
    ScaleUpPlan,
    ScaleUpResult,
    UnneededNode,
    UnremovableReason,
    Utilization,
)
from podscaler.nodes.scaledown import plan_scale_down
from podscaler.nodes.scaleup import plan_scale_up
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState
from podscaler.nodes.state import AutoscalerState, ScaleUpRequest, ScaleUpTimeout

__all__ = [
    "OPTIONS",
    "AutoscalerState",
    "BlockingReason",
    "ClusterEvent",
    "ClusterSnapshot",
    "GroupOptions",
    "GroupOutcome",
    "GroupScaleUp",
    "NodeAutoscalerOptions",
    "NodeGroupState",
    "NodeRemoval",
    "NodeUnremovable",
    "OptionsError",
    "PodOutcome",
    "ScaleDownPlan",
    "ScaleUpPlan",
    "ScaleUpRequest",
    "ScaleUpResult",
    "ScaleUpTimeout",
    "UnneededNode",
    "UnremovableReason",
    "Utilization",
    "parse_flags",
    "parse_options",
    "plan_scale_down",
    "plan_scale_up",
]
