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
    ``NodeAutoscalerOptions`` — every CA flag with CA's default; ``parse_options(mapping)``
    reads flag spellings, camelCase (scenario files) or snake_case; ``parse_flags(argv)``;
    ``OPTIONS`` is the declaration the CLI builds its flags from; ``GroupOptions`` holds
    per-group overrides (ASG ``autoscaling-options`` tags). Bad input: ``OptionsError``.

State
    ``AutoscalerState.initial(options)`` — remembered between loops (scale-up requests,
    backoff, unneeded timers, cooldown stamps). Transitions return a new state:
    ``observe(groups, now) -> (state, timeouts)``, ``scaled_up(group, delta, now, options)``,
    ``scale_up_failed(group, error_code, message, now, failed_nodes=None)``,
    ``scaled_down(nodes, now)``, ``scale_down_failed(now)``.

Planning
    ``plan_scale_up(snapshot, groups, options, now, *, state=None) -> ScaleUpPlan``
    ``plan_scale_down(snapshot, groups, state, options, now, *, scale_up=None)
    -> ScaleDownPlan`` (the plan carries the next ``state``)

Plans
    ``ScaleUpPlan``: ``scale_ups`` (``GroupScaleUp`` group/current/new/max), ``triggered``
    pods, ``remaining`` pods with per-group reasons (``PodOutcome``), ``awaiting`` pods,
    ``groups`` (``GroupOutcome``: skipped reason, estimate, chosen, dropped by which
    expander), ``events``, ``filtered``; ``triggered_message()`` and
    ``not_triggered_message(outcome)`` give CA's Event wording.
    ``ScaleDownPlan``: ``removals`` (``NodeRemoval``: node, group, reason, pods to move),
    ``unneeded``, ``unremovable`` (``NodeUnremovable``: CA's reason, the blocking pod and its
    drain rule), ``cooldown``, ``state``.
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
