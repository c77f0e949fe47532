"""Composing a ScaledObject's ``status`` and deciding whether it needs writing. Pure.

The controller writes status with a JSON merge patch on ``/status`` (the status is ours alone,
so there is nothing to merge with and no conflict to retry). A merge patch cannot drop a key
by leaving it out, so :func:`status_patch` sends ``null`` for keys we own that should vanish
(``pausedReplicaCount`` after unpausing, ``lastActiveTime`` never …).

Writes happen only when the status *changes* (:func:`status_patch` returns ``None``
otherwise): at thousands of objects a write per poll is what throttles KEDA operators (issues
#3810, #7613). The latest decision's short form is part of the status, and it holds no
per-poll values, so a steady object is written once and then left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from podscaler.engine.scaling import Condition, ScalingState
from podscaler.kube.statuses import format_time, set_condition

__all__ = ["OWNED_KEYS", "StatusParts", "compose_status", "merge_conditions", "status_patch"]

#: Every status key the controller owns (others, if any, are left alone).
OWNED_KEYS = (
    "scaleTargetKind",
    "scaleTargetGVKR",
    "originalReplicaCount",
    "lastActiveTime",
    "externalMetricNames",
    "resourceMetricNames",
    "compositeScalerName",
    "conditions",
    "health",
    "triggersActivity",
    "pausedReplicaCount",
    "triggersTypes",
    "authenticationsTypes",
    "observedGeneration",
    "lastDecision",
    "hpaName",
)


def merge_conditions(
    previous: Sequence[Mapping[str, Any]] | None,
    conditions: Sequence[Condition],
    now: datetime,
    generation: int | None,
) -> list[dict[str, Any]]:
    """*conditions* over the *previous* JSON list, keeping ``lastTransitionTime`` where the
    status did not flip (Kubernetes API conventions)."""
    merged: list[dict[str, Any]] = [dict(c) for c in previous or ()]
    for condition in conditions:
        merged = set_condition(
            merged,
            type_=condition.type,
            status=condition.status.value,
            reason=condition.reason,
            message=condition.message,
            now=now,
            observed_generation=generation,
        )
    order = [c.type for c in conditions]
    merged.sort(key=lambda c: order.index(c["type"]) if c["type"] in order else len(order))
    return merged


class StatusParts:
    """What a status is made of, beside the engine's :class:`ScalingState`."""

    def __init__(
        self,
        *,
        generation: int | None,
        target_kind: str | None = None,
        target_gvkr: Mapping[str, str] | None = None,
        external_metric_names: Sequence[str] = (),
        resource_metric_names: Sequence[str] = (),
        composite: bool = False,
        triggers_activity: Mapping[str, bool] | None = None,
        triggers_types: str | None = None,
        authentications_types: str | None = None,
        last_decision: Mapping[str, Any] | None = None,
    ) -> None:
        self.generation = generation
        self.target_kind = target_kind
        self.target_gvkr = target_gvkr
        self.external_metric_names = list(external_metric_names)
        self.resource_metric_names = list(resource_metric_names)
        self.composite = composite
        self.triggers_activity = triggers_activity
        self.triggers_types = triggers_types
        self.authentications_types = authentications_types
        self.last_decision = last_decision


def compose_status(
    previous: Mapping[str, Any] | None,
    state: ScalingState,
    parts: StatusParts,
    now: datetime,
    *,
    last_active: datetime | None,
) -> dict[str, Any]:
    """The whole status the object should have now (keys with no value left out)."""
    previous = previous or {}
    status: dict[str, Any] = {}
    if parts.target_kind:
        status["scaleTargetKind"] = parts.target_kind
    if parts.target_gvkr:
        status["scaleTargetGVKR"] = dict(parts.target_gvkr)
    elif "scaleTargetGVKR" in previous:
        status["scaleTargetGVKR"] = previous["scaleTargetGVKR"]
    if state.original_replica_count is not None:
        status["originalReplicaCount"] = state.original_replica_count
    if last_active is not None:
        status["lastActiveTime"] = format_time(last_active)
    if parts.external_metric_names:
        status["externalMetricNames"] = parts.external_metric_names
    if parts.resource_metric_names:
        status["resourceMetricNames"] = parts.resource_metric_names
    if parts.composite:
        status["compositeScalerName"] = "composite-metric"
    status["conditions"] = merge_conditions(
        previous.get("conditions"), state.conditions, now, parts.generation
    )
    if state.health:
        status["health"] = {
            metric: {"numberOfFailures": h.number_of_failures, "status": h.status.value}
            for metric, h in sorted(state.health.items())
        }
    if parts.triggers_activity:
        status["triggersActivity"] = {
            metric: {"isActive": active} for metric, active in parts.triggers_activity.items()
        }
    if state.paused_replica_count is not None:
        status["pausedReplicaCount"] = state.paused_replica_count
    if parts.triggers_types:
        status["triggersTypes"] = parts.triggers_types
    if parts.authentications_types:
        status["authenticationsTypes"] = parts.authentications_types
    if parts.generation is not None:
        status["observedGeneration"] = parts.generation
    if parts.last_decision:
        status["lastDecision"] = dict(parts.last_decision)
    return status


def status_patch(
    current: Mapping[str, Any] | None, desired: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The merge patch turning *current* into *desired*, or ``None`` when they agree."""
    current = current or {}
    patch: dict[str, Any] = {}
    for key in OWNED_KEYS:
        if key in desired:
            if current.get(key) != desired[key]:
                patch[key] = desired[key]
        elif key in current:
            patch[key] = None
    return patch or None
