"""Fallback: per-metric health tracking and the metric value a failing trigger exports instead.

KEDA never changes replicas because a source is unreachable (some apps want 0 then, others
max); ``spec.fallback`` lets the user choose. Each external metric keeps a health record in
``status.health``: a success resets it to ``Happy``/0, a failure increments the count and marks
it ``Failing``. Once a metric has failed **more than** ``failureThreshold`` times in a row its
value is replaced by one that makes the HPA formula land on the fallback replica count:
``target * replicas`` for an ``AverageValue`` target (``desired = ceil(value / target)``) and
``target * replicas / readyReplicas`` for a ``Value`` target (``desired = ceil(ready * value /
target)``). With a formula the composite metric's target is used and the metric is
``composite-metric``.

Health is only tracked when a *valid* fallback is configured (KEDA's ``HasValidFallback``:
non-negative threshold and replicas, and, with scalingModifiers, an integer target above 0);
otherwise status.health is left exactly as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from podscaler.api.gostrconv import parse_int
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledobject import (
    COMPOSITE_METRIC_NAME,
    FallbackBehavior,
    FallbackSpec,
    HealthStatusType,
    ScalingSpec,
)
from podscaler.engine.keda.types import (
    MetricHealth,
    TriggerObservation,
)

__all__ = [
    "FallbackOutcome",
    "apply_fallback",
    "fallback_exceeded",
    "fallback_replicas",
    "has_valid_fallback",
]


def has_valid_fallback(spec: ScalingSpec) -> bool:
    """Whether ``spec.fallback`` is set and usable; an unusable one behaves as if absent."""
    fallback = spec.fallback
    if fallback is None:
        return False
    if spec.uses_modifiers:
        assert spec.scaling_modifiers is not None
        target = parse_int(spec.scaling_modifiers.target, bits=None)
        if target is None or target <= 0:
            return False
    return fallback.failure_threshold >= 0 and fallback.replicas >= 0


def fallback_replicas(fallback: FallbackSpec, current_replicas: int) -> int:
    """The replica count a failing metric stands for, per ``fallback.behavior``."""
    behavior = fallback.behavior
    if behavior == FallbackBehavior.CURRENT_REPLICAS:
        return current_replicas
    if behavior == FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER:
        return max(current_replicas, fallback.replicas)
    if behavior == FallbackBehavior.CURRENT_REPLICAS_IF_LOWER:
        return min(current_replicas, fallback.replicas)
    return fallback.replicas


def fallback_exceeded(health: Mapping[str, MetricHealth], failure_threshold: int) -> bool:
    """The Fallback condition: some metric is failing beyond the threshold."""
    return any(
        h.status == HealthStatusType.FAILING and h.number_of_failures > failure_threshold
        for h in health.values()
    )


@dataclass(frozen=True)
class FallbackOutcome:
    """What one metric reading becomes after fallback.

    - ``value``: the value to use (the scaler's own on success, the fallback value when
      ``fallback_active``); ``None`` when there is none (error, or nil for the formula).
    - ``fallback_active``: the failure is masked; the trigger counts as active and not in error.
    - ``error``: the error that remains visible, ``None`` if none.
    - ``formula_nil``: with ``behavior: scalingModifiers`` a metric failing beyond the threshold
      enters the formula as ``nil`` instead of erroring (so ``a ?? b`` can route around it).
    - ``health``: the metric's new health record, ``None`` to leave status.health untouched.
    - ``metric_name``: the name the value is exported under (``composite-metric`` with a
      formula, the trigger's metric otherwise).
    """

    value: float | None
    fallback_active: bool
    error: str | None
    health: MetricHealth | None
    metric_name: str
    formula_nil: bool = False


def _milli_truncate(value: float) -> float:
    """The value as KEDA builds its quantity: ``NewMilliQuantity(int64(value * 1000))``."""
    if not math.isfinite(value):
        return value
    return math.trunc(value * 1000) / 1000


def apply_fallback(
    spec: ScalingSpec,
    observation: TriggerObservation,
    previous: MetricHealth | None,
    *,
    current_replicas: int,
    ready_replicas: int | None = None,
) -> FallbackOutcome:
    """Run one metric reading through KEDA's ``GetMetricsWithFallback``.

    *previous* is the metric's health before this reading (``None`` if never recorded).
    *ready_replicas* is only needed for ``Value`` targets; without it (or at 0) fallback cannot
    compute a value and reports an error instead, as KEDA does.
    """
    name = observation.metric_name
    configured = has_valid_fallback(spec)
    if observation.error is None:
        health = MetricHealth(0, HealthStatusType.HAPPY) if configured else None
        return FallbackOutcome(observation.value, False, None, health, name)
    if not configured:
        return FallbackOutcome(None, False, observation.error, None, name)
    fallback = spec.fallback
    assert fallback is not None
    failures = (previous.number_of_failures if previous else 0) + 1
    health = MetricHealth(failures, HealthStatusType.FAILING)
    if failures <= fallback.failure_threshold:
        return FallbackOutcome(None, False, observation.error, health, name)
    if fallback.behavior == FallbackBehavior.SCALING_MODIFIERS:
        return FallbackOutcome(None, False, None, health, name, formula_nil=True)

    if spec.uses_modifiers:
        assert spec.scaling_modifiers is not None
        metric_type = spec.scaling_modifiers.effective_metric_type
        target: float | None = float(spec.scaling_modifiers.target)
        name = COMPOSITE_METRIC_NAME
    else:
        metric_type = observation.metric_type
        target = observation.target
    if metric_type == MetricTargetType.UTILIZATION or target is None:
        # Fallback only stands in for external AverageValue/Value metrics.
        return FallbackOutcome(None, False, observation.error, health, name)

    replicas: float = fallback_replicas(fallback, current_replicas)
    if metric_type == MetricTargetType.VALUE:
        if not ready_replicas:
            return FallbackOutcome(None, False, "error performing fallback", health, name)
        replicas /= ready_replicas
    return FallbackOutcome(_milli_truncate(target * replicas), True, None, health, name)
