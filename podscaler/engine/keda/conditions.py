"""The ScaledObject status conditions KEDA's rules produce: reasons and messages per type.

Printer columns and dashboards key on these strings (``kubectl get so`` shows Ready, Active,
Fallback and Paused), so they are spelled exactly as KEDA spells them; the condition types and
the :class:`~podscaler.api.conditions.Condition` record are ``api``'s, the values the engine
sets live here, in one place, so the engine never invents a reason inline.
"""

from __future__ import annotations

from dataclasses import replace

from podscaler.api.conditions import (
    ACTIVE,
    FALLBACK,
    PAUSED,
    READY,
    Condition,
    ConditionStatus,
    find_condition,
)

__all__ = [
    "ACTIVE",
    "ACTIVE_COOLDOWN",
    "ACTIVE_FALSE",
    "ACTIVE_FORCED",
    "ACTIVE_TRUE",
    "FALLBACK",
    "FALLBACK_FALSE",
    "FALLBACK_TRUE",
    "INITIAL_CONDITIONS",
    "PAUSED",
    "PAUSED_FALSE",
    "PAUSED_TRUE",
    "READY",
    "READY_PARTIAL_TRIGGER_ERROR",
    "READY_TRIGGER_ERROR",
    "READY_TRUE",
    "complete",
    "get",
    "ready_invalid",
    "with_condition",
]

#: KEDA's ``GetInitializedConditions``: what a fresh ScaledObject reports before its first poll.
INITIAL_CONDITIONS: tuple[Condition, ...] = (
    Condition(READY, ConditionStatus.UNKNOWN),
    Condition(ACTIVE, ConditionStatus.UNKNOWN),
    Condition(FALLBACK, ConditionStatus.UNKNOWN),
    Condition(PAUSED, ConditionStatus.FALSE),
)

READY_TRUE = Condition(
    READY,
    ConditionStatus.TRUE,
    "ScaledObjectReady",
    "ScaledObject is defined correctly and is ready for scaling",
)
READY_PARTIAL_TRIGGER_ERROR = Condition(
    READY,
    ConditionStatus.UNKNOWN,
    "PartialTriggerError",
    "Some triggers defined in ScaledObject are not working correctly",
)
READY_TRIGGER_ERROR = Condition(
    READY,
    ConditionStatus.FALSE,
    "TriggerError",
    "Triggers defined in ScaledObject are not working correctly",
)
ACTIVE_TRUE = Condition(
    ACTIVE, ConditionStatus.TRUE, "ScalerActive", "Scaling is performed because triggers are active"
)
ACTIVE_FORCED = Condition(
    ACTIVE,
    ConditionStatus.TRUE,
    "ScalerActive",
    "Scaling is performed because activation is being forced by annotation",
)
ACTIVE_FALSE = Condition(
    ACTIVE,
    ConditionStatus.FALSE,
    "ScalerNotActive",
    "Scaling is not performed because triggers are not active",
)
ACTIVE_COOLDOWN = Condition(
    ACTIVE,
    ConditionStatus.FALSE,
    "ScalerCooldown",
    "Scaler cooling down because triggers are not active",
)
FALLBACK_TRUE = Condition(
    FALLBACK,
    ConditionStatus.TRUE,
    "FallbackExists",
    "At least one trigger is falling back on this scaled object",
)
FALLBACK_FALSE = Condition(
    FALLBACK,
    ConditionStatus.FALSE,
    "NoFallbackFound",
    "No fallbacks are active on this scaled object",
)
PAUSED_TRUE = Condition(
    PAUSED, ConditionStatus.TRUE, "ScaledObjectPaused", "ScaledObject is paused"
)
PAUSED_FALSE = Condition(
    PAUSED,
    ConditionStatus.FALSE,
    "ScaledObjectUnpaused",
    "pause annotation removed for ScaledObject",
)


def ready_invalid(message: str) -> Condition:
    """Ready=False for a spec the poll cannot act on (e.g. an unreadable paused-replicas)."""
    return Condition(READY, ConditionStatus.FALSE, "ScaledObjectCheckFailed", message)


def with_condition(
    conditions: tuple[Condition, ...], condition: Condition
) -> tuple[Condition, ...]:
    """*conditions* with *condition* replacing the one of its type (appended if missing)."""
    if not any(c.type == condition.type for c in conditions):
        return (*conditions, condition)
    return tuple(condition if c.type == condition.type else c for c in conditions)


def get(conditions: tuple[Condition, ...], condition_type: str) -> Condition:
    """The condition of *condition_type*, or its initial value when absent."""
    found = find_condition(conditions, condition_type) or find_condition(
        INITIAL_CONDITIONS, condition_type
    )
    return found or replace(INITIAL_CONDITIONS[0], type=condition_type)  # pragma: no cover


def complete(conditions: tuple[Condition, ...]) -> tuple[Condition, ...]:
    """*conditions* with every missing standard condition at its initial value, in KEDA's order."""
    result = tuple(get(conditions, c.type) for c in INITIAL_CONDITIONS)
    extra = tuple(c for c in conditions if c.type not in {i.type for i in INITIAL_CONDITIONS})
    return result + extra
