"""Translations between a ScaledObject's status and behavior and the engines' records. Pure.

The engines (``engine.keda`` for KEDA's 0↔1 semantics, ``engine.hpa`` for 1..N) speak small
frozen records on one clock of float seconds; the cluster speaks JSON with RFC 3339 times. The
spec needs no translation (``ScaledObject.resolved()`` is the engine's view of it); the status
and the HPA behavior do, and keeping those here, free of I/O, is what lets the unit tests pin
them down (and lets a restarted operator rebuild exactly the state it persisted).

The engines' clock is **Unix seconds** taken from the injected wall clock: ``lastActiveTime`` is
persisted in status and must mean the same instant after a restart, which a loop's monotonic
clock cannot promise. Scheduling (when to poll) uses the loop clock instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from podscaler.api.conditions import ConditionStatus, condition_from_json
from podscaler.api.hpabehavior import (
    Behavior,
    HorizontalPodAutoscalerBehavior,
    ScalingRules,
    SelectPolicy,
)
from podscaler.api.scaledobject import HealthStatusType
from podscaler.api.timestamps import parse_seconds
from podscaler.engine.keda import MetricHealth, ScalingState

__all__ = [
    "datetime_of",
    "hpa_behavior",
    "resumed_state",
    "state_from_status",
]


def datetime_of(seconds: float) -> datetime:
    """An instant on the engines' clock (Unix seconds) as an aware datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def _disabled(rules: ScalingRules | None) -> ScalingRules:
    return replace(rules or ScalingRules(), select_policy=SelectPolicy.DISABLED)


def hpa_behavior(
    behavior: HorizontalPodAutoscalerBehavior | None,
    *,
    scale_up_disabled: bool = False,
    scale_down_disabled: bool = False,
) -> Behavior | None:
    """``advanced.horizontalPodAutoscalerConfig.behavior`` for the HPA engine.

    The ``paused-scale-out`` / ``paused-scale-in`` annotations become ``selectPolicy: Disabled``
    on their direction, exactly what KEDA writes into the HPA it generates; like there, that
    turns a behavior-less object into one with behavior (default policies, not the 2x cap).
    """
    if behavior is None and not scale_up_disabled and not scale_down_disabled:
        return None
    frozen = behavior.to_behavior() if behavior is not None else Behavior()
    return Behavior(
        scale_up=_disabled(frozen.scale_up) if scale_up_disabled else frozen.scale_up,
        scale_down=_disabled(frozen.scale_down) if scale_down_disabled else frozen.scale_down,
    )


def state_from_status(status: Mapping[str, Any] | None) -> ScalingState:
    """What a ScaledObject carried over from earlier polls, read back from its status.

    This is how a restarted operator resumes mid-cooldown: ``lastActiveTime`` (and the health
    counts, the original replica count, the conditions) come from the object, not from memory.
    """
    status = status or {}
    last_active = parse_seconds(status.get("lastActiveTime"))
    health: dict[str, MetricHealth] = {}
    for metric, entry in (status.get("health") or {}).items():
        if not isinstance(entry, Mapping):
            continue
        if "numberOfFailures" not in entry and "status" not in entry:
            continue  # only a predictive trigger's model (``forecast``): no poll counted
        failures = entry.get("numberOfFailures")
        kind = entry.get("status")
        health[str(metric)] = MetricHealth(
            number_of_failures=int(failures) if isinstance(failures, int) else 0,
            status=HealthStatusType(kind)
            if kind in ("Happy", "Failing")
            else HealthStatusType.HAPPY,
        )
    raw_conditions = status.get("conditions") or []
    conditions = tuple(
        c
        for c in (condition_from_json(raw) for raw in raw_conditions if isinstance(raw, dict))
        if c is not None
    )
    original = status.get("originalReplicaCount")
    paused = status.get("pausedReplicaCount")
    return ScalingState(
        last_active_seconds=last_active,
        health=MappingProxyType(health),
        original_replica_count=original if isinstance(original, int) else None,
        paused_replica_count=paused if isinstance(paused, int) else None,
        conditions=conditions,
    )


def resumed_state(
    status: Mapping[str, Any] | None, now_seconds: float, refresh_seconds: float
) -> ScalingState:
    """:func:`state_from_status` for the first poll of a (re)started operator.

    ``lastActiveTime`` is persisted at most every *refresh_seconds* while the object is active
    (see :mod:`.status`), so if status says the object was active, the last active poll may be
    up to *refresh_seconds* later than the persisted value. The latest moment it can have been
    is taken (``min(persisted + refresh, now)``): a cooldown that begins after a restart may
    last longer than KEDA's (by the downtime, at most *refresh_seconds*), never shorter.
    """
    state = state_from_status(status)
    last = state.last_active_seconds
    active = next((c for c in state.conditions if c.type == "Active"), None)
    if last is None or active is None or active.status is not ConditionStatus.TRUE:
        return state
    resumed = min(last + refresh_seconds, now_seconds)
    if resumed <= last:
        return state
    return ScalingState(
        last_active_seconds=resumed,
        health=state.health,
        original_replica_count=state.original_replica_count,
        paused_replica_count=state.paused_replica_count,
        conditions=state.conditions,
    )
