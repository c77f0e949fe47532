"""The scale-up decision: pending pods → node groups that can take them → an estimate per
group → the expander's choice → limits and balancing → :class:`ScaleUpPlan`."""

from __future__ import annotations

from collections.abc import Sequence

from podscaler.nodes.options import NodeAutoscalerOptions
from podscaler.nodes.plans import ScaleUpPlan
from podscaler.nodes.snapshot import ClusterSnapshot, NodeGroupState
from podscaler.nodes.state import AutoscalerState

__all__ = ["plan_scale_up"]


def plan_scale_up(
    snapshot: ClusterSnapshot,
    groups: Sequence[NodeGroupState],
    options: NodeAutoscalerOptions,
    now: float,
    *,
    state: AutoscalerState | None = None,
) -> ScaleUpPlan:
    """Decide this loop's scale-up (see the package docstring)."""
    raise NotImplementedError("declared first so the controller can be written against it")
