"""Turning the metrics' proposal into the replica count to apply: stabilization and rate limits.

Two regimes, as upstream:

- **Without** ``spec.behavior``: only scale-*down* is stabilized (the highest recommendation of
  the downscale window wins), then the result is clamped to ``[min, max]`` and to a scale-up cap
  of ``max(2 x current, 4)`` that exists only here.
- **With** ``spec.behavior`` (defaulted field by field): both directions are stabilized (the
  current count is clamped between the lowest recommendation of the up window and the highest of
  the down window), then Pods/Percent policies limit the change over each policy's period,
  counting the scale events of *both* directions, and ``selectPolicy`` picks among them.

Each step returns the reason upstream puts in the ``AbleToScale`` or ``ScalingLimited``
condition, which the reconcile pass also turns into its explanation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from podscaler.api.hpabehavior import (
    Behavior,
    PolicyType,
    ResolvedBehavior,
    ResolvedRules,
    ScalingPolicy,
    SelectPolicy,
)
from podscaler.engine.hpa import conditions as reasons
from podscaler.engine.hpa.history import put_recommendation, replicas_change_in_period
from podscaler.engine.hpa.replicas import MAX_INT32, MIN_INT32
from podscaler.engine.hpa.types import (
    HpaSettings,
    Recommendation,
    ScaleEvent,
    Tolerances,
)


@dataclass(frozen=True)
class Stabilized:
    """A stabilized recommendation, the recommendation log to keep, and the AbleToScale reason."""

    replicas: int
    recommendations: tuple[Recommendation, ...]
    reason: str


@dataclass(frozen=True)
class Limited:
    """A clamped replica count and the ScalingLimited reason that produced it."""

    replicas: int
    reason: str

    @property
    def message(self) -> str:
        return reasons.MESSAGES[self.reason]


# --------------------------------------------------------------------------------------------
# Tolerance


def tolerances_for(behavior: Behavior | None, settings: HpaSettings) -> Tolerances:
    """The cluster tolerance, overridden per direction by ``behavior.*.tolerance`` (KEP-4951)."""
    up = down = settings.tolerance
    if behavior is not None and settings.configurable_tolerance:
        if behavior.scale_up is not None and behavior.scale_up.tolerance is not None:
            up = behavior.scale_up.tolerance
        if behavior.scale_down is not None and behavior.scale_down.tolerance is not None:
            down = behavior.scale_down.tolerance
    return Tolerances(scale_up=up, scale_down=down)


# --------------------------------------------------------------------------------------------
# Stabilization


def stabilize_without_behavior(
    recommendations: Sequence[Recommendation],
    desired_replicas: int,
    window_seconds: float,
    now_seconds: float,
) -> Stabilized:
    """The highest recommendation not older than the window (scale-down damping only).

    The log keeps one entry per pass: the last entry older than the window is overwritten with
    this pass's desired count, or it is appended.
    """
    cutoff = now_seconds - window_seconds
    highest = desired_replicas
    replaceable: int | None = None
    for index, rec in enumerate(recommendations):
        if rec.at_seconds < cutoff:
            replaceable = index
        elif rec.replicas > highest:
            highest = rec.replicas
    log = put_recommendation(recommendations, desired_replicas, now_seconds, replaceable)
    reason = (
        reasons.SCALE_DOWN_STABILIZED
        if highest != desired_replicas
        else reasons.READY_FOR_NEW_SCALE
    )
    return Stabilized(highest, log, reason)


def stabilize_with_behavior(
    recommendations: Sequence[Recommendation],
    current_replicas: int,
    desired_replicas: int,
    scale_up_window_seconds: float,
    scale_down_window_seconds: float,
    now_seconds: float,
) -> Stabilized:
    """Clamp the current count between the up window's lowest and the down window's highest.

    Because it is the *current* count that is clamped, a recommendation that reverses direction
    within both windows moves nothing. The un-stabilized desired count is what gets logged.
    """
    up_cutoff = now_seconds - scale_up_window_seconds
    down_cutoff = now_seconds - scale_down_window_seconds
    up_floor = desired_replicas
    down_ceiling = desired_replicas
    replaceable: int | None = None
    for index, rec in enumerate(recommendations):
        if rec.at_seconds > up_cutoff:
            up_floor = min(up_floor, rec.replicas)
        if rec.at_seconds > down_cutoff:
            down_ceiling = max(down_ceiling, rec.replicas)
        if rec.at_seconds < up_cutoff and rec.at_seconds < down_cutoff:
            replaceable = index
    stabilized = min(max(current_replicas, up_floor), down_ceiling)
    log = put_recommendation(recommendations, desired_replicas, now_seconds, replaceable)
    if stabilized == desired_replicas:
        reason = reasons.READY_FOR_NEW_SCALE
    elif desired_replicas >= current_replicas:
        reason = reasons.SCALE_UP_STABILIZED
    else:
        reason = reasons.SCALE_DOWN_STABILIZED
    return Stabilized(stabilized, log, reason)


# --------------------------------------------------------------------------------------------
# Limits


def scale_up_limit_without_behavior(
    current_replicas: int, factor: float = 2.0, minimum: float = 4.0
) -> int:
    """``int(max(factor x current, minimum))``: guards against a bogus usage spike."""
    return int(max(factor * float(current_replicas), minimum))


def convert_with_rules(
    current_replicas: int,
    desired_replicas: int,
    min_replicas: int,
    max_replicas: int,
    *,
    scale_up_limit_factor: float = 2.0,
    scale_up_limit_minimum: float = 4.0,
) -> Limited:
    """Clamp to ``[min, max]`` and to the scale-up cap, used only when behavior is unset."""
    scale_up_limit = scale_up_limit_without_behavior(
        current_replicas, scale_up_limit_factor, scale_up_limit_minimum
    )
    if max_replicas > scale_up_limit:
        maximum, reason = scale_up_limit, reasons.SCALE_UP_LIMIT
    else:
        maximum, reason = max_replicas, reasons.TOO_MANY_REPLICAS
    if desired_replicas < min_replicas:
        return Limited(min_replicas, reasons.TOO_FEW_REPLICAS)
    if desired_replicas > maximum:
        return Limited(maximum, reason)
    return Limited(desired_replicas, reasons.DESIRED_WITHIN_RANGE)


def _period_start_replicas(
    current_replicas: int,
    policy: ScalingPolicy,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    now_seconds: float,
) -> int:
    added = replicas_change_in_period(scale_up_events, policy.period_seconds, now_seconds)
    deleted = replicas_change_in_period(scale_down_events, policy.period_seconds, now_seconds)
    return current_replicas - added + deleted


def scale_up_limit(
    current_replicas: int,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    rules: ResolvedRules,
    now_seconds: float,
) -> int:
    """The most replicas the scale-up policies allow now.

    Each policy measures from the replica count at the start of its period (undoing the changes
    made since); Percent rounds up so a small target can always grow. ``Max`` picks the most
    permissive policy, ``Min`` the strictest, ``Disabled`` forbids scaling up.
    """
    if rules.select_policy == SelectPolicy.DISABLED:
        return current_replicas
    pick_min = rules.select_policy == SelectPolicy.MIN
    result = MAX_INT32 if pick_min else MIN_INT32
    for policy in rules.policies:
        start = _period_start_replicas(
            current_replicas, policy, scale_up_events, scale_down_events, now_seconds
        )
        if policy.type == PolicyType.PODS:
            proposed = start + policy.value
        else:
            proposed = math.ceil(float(start) * (1.0 + float(policy.value) / 100.0))
        result = min(result, proposed) if pick_min else max(result, proposed)
    return result


def scale_down_limit(
    current_replicas: int,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    rules: ResolvedRules,
    now_seconds: float,
) -> int:
    """The fewest replicas the scale-down policies allow now.

    Percent truncates toward zero (``int(start x (1 - value/100))``). ``Max`` means the biggest
    change, so the *lowest* count; ``Min`` the highest; ``Disabled`` forbids scaling down.
    """
    if rules.select_policy == SelectPolicy.DISABLED:
        return current_replicas
    pick_max = rules.select_policy == SelectPolicy.MIN
    result = MIN_INT32 if pick_max else MAX_INT32
    for policy in rules.policies:
        start = _period_start_replicas(
            current_replicas, policy, scale_up_events, scale_down_events, now_seconds
        )
        if policy.type == PolicyType.PODS:
            proposed = start - policy.value
        else:
            proposed = int(float(start) * (1.0 - float(policy.value) / 100.0))
        result = max(result, proposed) if pick_max else min(result, proposed)
    return result


def convert_with_behavior_rate(
    current_replicas: int,
    desired_replicas: int,
    min_replicas: int,
    max_replicas: int,
    behavior: ResolvedBehavior,
    scale_up_events: Sequence[ScaleEvent],
    scale_down_events: Sequence[ScaleEvent],
    now_seconds: float,
) -> Limited:
    """Clamp to ``[min, max]`` and to the policies' limits (no 2x/4 cap with behavior).

    A limit that history would push past the current count (further down while scaling up, or
    up while scaling down) is held at the current count.
    """
    if desired_replicas > current_replicas:
        limit = max(
            scale_up_limit(
                current_replicas,
                scale_up_events,
                scale_down_events,
                behavior.scale_up,
                now_seconds,
            ),
            current_replicas,
        )
        if max_replicas > limit:
            maximum, reason = limit, reasons.SCALE_UP_LIMIT
        else:
            maximum, reason = max_replicas, reasons.TOO_MANY_REPLICAS
        if desired_replicas > maximum:
            return Limited(maximum, reason)
    elif desired_replicas < current_replicas:
        limit = min(
            scale_down_limit(
                current_replicas,
                scale_up_events,
                scale_down_events,
                behavior.scale_down,
                now_seconds,
            ),
            current_replicas,
        )
        if min_replicas < limit:
            minimum, reason = limit, reasons.SCALE_DOWN_LIMIT
        else:
            minimum, reason = min_replicas, reasons.TOO_FEW_REPLICAS
        if desired_replicas < minimum:
            return Limited(minimum, reason)
    return Limited(desired_replicas, reasons.DESIRED_WITHIN_RANGE)
