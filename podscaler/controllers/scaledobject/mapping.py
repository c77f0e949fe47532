"""Translations between the ScaledObject's API shapes and the engines' plain records. Pure.

The engines (``engine.keda`` for KEDA's 0↔1 semantics, ``engine.hpa`` for 1..N) speak small
frozen records on one clock of float seconds; the cluster speaks pydantic models and JSON with
RFC 3339 times. Keeping every conversion here, free of I/O, is what lets the unit tests pin the
mapping down (and lets a restarted operator rebuild exactly the state it persisted).

The engines' clock is **Unix seconds** taken from the injected wall clock: ``lastActiveTime`` is
persisted in status and must mean the same instant after a restart, which a loop's monotonic
clock cannot promise. Scheduling (when to poll) uses the loop clock instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from podscaler.api.conditions import ConditionStatus, condition_from_json
from podscaler.api.hpabehavior import HorizontalPodAutoscalerBehavior, HPAScalingRules
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledobject import ScaledObject
from podscaler.api.timestamps import parse_time
from podscaler.engine import hpa
from podscaler.engine.keda import (
    FallbackBehavior,
    FallbackSpec,
    HealthStatus,
    MetricHealth,
    ScalingModifiersSpec,
    ScalingSpec,
    ScalingState,
)

__all__ = [
    "datetime_of",
    "hpa_behavior",
    "resumed_state",
    "scaling_spec",
    "seconds_of",
    "state_from_status",
]


def seconds_of(moment: datetime) -> float:
    """Unix seconds of an aware datetime: the engines' clock."""
    return moment.timestamp()


def datetime_of(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def scaling_spec(so: ScaledObject) -> ScalingSpec:
    """The engine's view of a parsed ScaledObject (unset fields stay unset: KEDA's defaults
    depend on whether a field was written at all)."""
    spec = so.spec
    fallback = None
    if spec.fallback is not None:
        fallback = FallbackSpec(
            failure_threshold=spec.fallback.failure_threshold,
            replicas=spec.fallback.replicas,
            behavior=FallbackBehavior(spec.fallback.behavior),
        )
    modifiers = None
    raw = spec.advanced.scaling_modifiers if spec.advanced is not None else None
    if raw is not None:
        modifiers = ScalingModifiersSpec(
            formula=raw.formula or "",
            target=raw.target or "",
            activation_target=raw.activation_target or "",
            metric_type=MetricTargetType(raw.metric_type) if raw.metric_type else None,
        )
    created = so.metadata.creation_timestamp
    return ScalingSpec(
        min_replica_count=spec.min_replica_count,
        max_replica_count=spec.max_replica_count,
        idle_replica_count=spec.idle_replica_count,
        polling_interval_seconds=spec.polling_interval,
        cooldown_period_seconds=spec.cooldown_period,
        initial_cooldown_period_seconds=spec.initial_cooldown_period,
        fallback=fallback,
        scaling_modifiers=modifiers,
        trigger_types=tuple(t.type for t in spec.triggers),
        annotations=MappingProxyType(dict(so.metadata.annotations)),
        created_seconds=seconds_of(_aware(created)) if created is not None else None,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _rules(rules: HPAScalingRules | None, *, disabled: bool) -> hpa.ScalingRules | None:
    if rules is None and not disabled:
        return None
    policies = None
    if rules is not None and rules.policies is not None:
        policies = tuple(
            hpa.ScalingPolicy(hpa.PolicyType(p.type), p.value, p.period_seconds)
            for p in rules.policies
        )
    select = None
    if rules is not None and rules.select_policy is not None:
        select = hpa.SelectPolicy(rules.select_policy)
    if disabled:
        select = hpa.SelectPolicy.DISABLED
    tolerance = None
    if rules is not None and rules.tolerance is not None:
        tolerance = float(rules.tolerance.as_float())
    return hpa.ScalingRules(
        stabilization_window_seconds=(
            rules.stabilization_window_seconds if rules is not None else None
        ),
        select_policy=select,
        policies=policies,
        tolerance=tolerance,
    )


def hpa_behavior(
    behavior: HorizontalPodAutoscalerBehavior | None,
    *,
    scale_up_disabled: bool = False,
    scale_down_disabled: bool = False,
) -> hpa.Behavior | None:
    """``advanced.horizontalPodAutoscalerConfig.behavior`` for the HPA engine.

    The ``paused-scale-out`` / ``paused-scale-in`` annotations become ``selectPolicy: Disabled``
    on their direction, exactly what KEDA writes into the HPA it generates; like there, that
    turns a behavior-less object into one with behavior (default policies, not the 2x cap).
    """
    if behavior is None and not scale_up_disabled and not scale_down_disabled:
        return None
    up = behavior.scale_up if behavior is not None else None
    down = behavior.scale_down if behavior is not None else None
    return hpa.Behavior(
        scale_up=_rules(up, disabled=scale_up_disabled),
        scale_down=_rules(down, disabled=scale_down_disabled),
    )


def state_from_status(status: Mapping[str, Any] | None) -> ScalingState:
    """What a ScaledObject carried over from earlier polls, read back from its status.

    This is how a restarted operator resumes mid-cooldown: ``lastActiveTime`` (and the health
    counts, the original replica count, the conditions) come from the object, not from memory.
    """
    status = status or {}
    last_active = parse_time(status.get("lastActiveTime"))
    health: dict[str, MetricHealth] = {}
    for metric, entry in (status.get("health") or {}).items():
        if not isinstance(entry, Mapping):
            continue
        failures = entry.get("numberOfFailures")
        kind = entry.get("status")
        health[str(metric)] = MetricHealth(
            number_of_failures=int(failures) if isinstance(failures, int) else 0,
            status=HealthStatus(kind) if kind in ("Happy", "Failing") else HealthStatus.HAPPY,
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
        last_active_seconds=seconds_of(last_active) if last_active is not None else None,
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
