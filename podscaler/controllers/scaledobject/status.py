"""Composing a ScaledObject's ``status`` and deciding whether it needs writing. Pure.

The controller writes status with a JSON merge patch on ``/status`` (the status is ours alone,
so there is nothing to merge with and no conflict to retry). A merge patch cannot drop a key
by leaving it out, so :func:`status_patch` sends ``null`` for keys we own that should vanish
(``pausedReplicaCount`` after unpausing, ``lastActiveTime`` never …).

Writes happen only when the status *changes* (:func:`status_patch` returns ``None``
otherwise): at thousands of objects a write per poll is what throttles KEDA operators (issues
#3810, #7613). The latest decision's short form is part of the status, and it holds no
per-poll values, so a steady object is written once and then left alone.

``lastActiveTime`` is the exception that needs a rule of its own (:func:`last_active_to_write`):
KEDA sets it to *now* on every active poll, which is a status write per poll for every active
object (333 writes/s at 10,000 objects polled every 30 s — more than the rest of the loop
costs). The exact value lives in memory (the engine's state); status is brought up to date

* when activity changes (the Active condition flips): going inactive is when the cooldown
  starts, and it starts from the exact last active poll, which is written then;
* while active, once the persisted value is :func:`last_active_refresh_seconds` old:
  ``max(pollingInterval, min(cooldownPeriod, cap))`` (cap 300 s by default).

Why this keeps KEDA's cooldown across restarts: the cooldown only runs while inactive, and an
inactive object's status holds the exact value. The one gap is a restart while the object is
active (status says Active=True, persisted value up to R old): then
:func:`~podscaler.controllers.scaledobject.mapping.resumed_state` assumes it stayed active
until ``min(persisted + R, now)``, the latest moment it can have been (the old operator would
have refreshed by then). So a restart never shortens a cooldown (no scale-in earlier than
KEDA's, no flap); it lengthens one that begins right after the restart by the operator's
downtime, at most R — i.e. at most the cooldown itself, at most 300 s with the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from podscaler.api.conditions import Condition
from podscaler.api.timestamps import format_time, parse_seconds
from podscaler.engine.keda import ScalingState
from podscaler.kube.statuses import merge_conditions

_ACTIVE = "Active"

__all__ = [
    "DEFAULT_LAST_ACTIVE_REFRESH_CAP_SECONDS",
    "OWNED_KEYS",
    "StatusParts",
    "compose_status",
    "last_active_refresh_seconds",
    "last_active_to_write",
    "status_patch",
]

#: Longest a persisted ``lastActiveTime`` may lag the exact one while the object is active.
DEFAULT_LAST_ACTIVE_REFRESH_CAP_SECONDS = 300.0

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
    "mode",
    "forecastHeadroom",
)


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
        mode: str | None = None,
        forecasts: Mapping[str, Mapping[str, Any]] | None = None,
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
        self.mode = mode
        #: per metric name, a predictive trigger's model (``status.health[metric].forecast``)
        self.forecasts = dict(forecasts or {})


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
    health: dict[str, dict[str, Any]] = {
        metric: {"numberOfFailures": h.number_of_failures, "status": h.status.value}
        for metric, h in state.health.items()
    }
    for metric, forecast in parts.forecasts.items():
        if forecast:
            health.setdefault(metric, {})["forecast"] = dict(forecast)
    if health:
        status["health"] = dict(sorted(health.items()))
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
    if parts.mode:
        status["mode"] = parts.mode
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
                patch[key] = _merge_value(current.get(key), desired[key])
        elif key in current:
            patch[key] = None
    return patch or None


def _merge_value(current: Any, desired: Any) -> Any:
    """*desired* as a JSON merge patch over *current*: a merge patch merges objects, so a key
    that must vanish from a nested object (``lastDecision.boundBy`` after a decision bound by
    nothing, a removed trigger's ``health`` entry) has to be sent as ``null``, or the server
    keeps the stale value."""
    if not isinstance(current, Mapping) or not isinstance(desired, Mapping):
        return desired
    out: dict[str, Any] = {}
    for key, value in desired.items():
        if current.get(key) != value:
            out[key] = _merge_value(current.get(key), value)
    for key in current:
        if key not in desired:
            out[key] = None
    return out


def last_active_refresh_seconds(
    polling_interval_seconds: float,
    cooldown_seconds: float,
    cap_seconds: float = DEFAULT_LAST_ACTIVE_REFRESH_CAP_SECONDS,
) -> float:
    """How stale a persisted ``lastActiveTime`` may get while active (R, see the module doc):
    bounded by the cooldown, so a crash can at most double a cooldown, and by *cap_seconds*;
    never below one polling interval (a refresh per poll is KEDA's behaviour, the most there
    can be)."""
    return max(float(polling_interval_seconds), min(float(cooldown_seconds), cap_seconds))


def _active(conditions: Sequence[Condition] | Sequence[Mapping[str, Any]] | None) -> str | None:
    for condition in conditions or ():
        if isinstance(condition, Condition):
            if condition.type == _ACTIVE:
                return condition.status.value
        elif condition.get("type") == _ACTIVE:
            return str(condition.get("status"))
    return None


def last_active_to_write(
    previous: Mapping[str, Any] | None,
    state: ScalingState,
    *,
    refresh_seconds: float,
) -> datetime | None:
    """The ``lastActiveTime`` the status should carry: the exact one (from *state*) when it
    must be written now, else the persisted one unchanged (so it causes no write)."""
    exact = state.last_active_seconds
    if exact is None:
        return None
    exact_time = datetime.fromtimestamp(exact, UTC)
    previous = previous or {}
    persisted = parse_seconds(previous.get("lastActiveTime"))
    if persisted is None or exact < persisted:
        return exact_time
    if _active(state.conditions) != _active(previous.get("conditions")):
        return exact_time
    if exact - persisted >= refresh_seconds:
        return exact_time
    return datetime.fromtimestamp(persisted, UTC)
