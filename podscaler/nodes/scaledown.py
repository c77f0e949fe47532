"""The scale-down decision: utilization, unneeded timers, drain rules, re-placement of every
pod elsewhere, group minimums and cooldowns → :class:`ScaleDownPlan`."""

from __future__ import annotations

from collections.abc import Sequence

from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.plans import ScaleDownPlan, ScaleUpPlan
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState
from podscaler.nodes.state import AutoscalerState

__all__ = ["plan_scale_down"]


def plan_scale_down(
    snapshot: ClusterSnapshot,
    groups: Sequence[NodeGroupState],
    state: AutoscalerState,
    options: NodeAutoscalerOptions,
    now: float,
    *,
    scale_up: ScaleUpPlan | None = None,
) -> ScaleDownPlan:
    """Decide this loop's scale-down (see the package docstring)."""
    raise NotImplementedError("declared first so the controller can be written against it")
