"""Fallback values per behaviour and metric type, and how the pause annotations are read."""

from __future__ import annotations

import pytest

from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledobject import (
    FallbackBehavior,
    FallbackSpec,
    HealthStatusType,
    ScalingModifiersSpec,
    ScalingSpec,
)
from podscaler.engine.keda import (
    MetricHealth,
    PausedReplicasError,
    TriggerObservation,
    apply_fallback,
    need_to_be_paused,
    paused_replica_count,
    read_pause_annotations,
)

FAILED = TriggerObservation("s0-queue", error="timeout", target=10.0)


@pytest.mark.parametrize(
    ("behavior", "current", "expected_value"),
    [
        (FallbackBehavior.STATIC, 6, 40.0),
        (FallbackBehavior.CURRENT_REPLICAS, 6, 60.0),
        (FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER, 6, 60.0),
        (FallbackBehavior.CURRENT_REPLICAS_IF_HIGHER, 2, 40.0),
        (FallbackBehavior.CURRENT_REPLICAS_IF_LOWER, 2, 20.0),
        (FallbackBehavior.CURRENT_REPLICAS_IF_LOWER, 6, 40.0),
    ],
)
def test_each_behaviour_picks_its_replicas_and_exports_target_times_replicas(
    behavior: FallbackBehavior, current: int, expected_value: float
) -> None:
    spec = ScalingSpec(fallback=FallbackSpec(0, 4, behavior))
    outcome = apply_fallback(spec, FAILED, None, current_replicas=current)
    assert outcome.fallback_active
    assert outcome.value == expected_value


def test_value_targets_divide_by_ready_replicas_and_cannot_fall_back_with_none_ready() -> None:
    spec = ScalingSpec(fallback=FallbackSpec(0, 4))
    observation = TriggerObservation(
        "s0-q", error="x", target=10.0, metric_type=MetricTargetType.VALUE
    )
    assert apply_fallback(spec, observation, None, current_replicas=1, ready_replicas=2).value == 20
    stuck = apply_fallback(spec, observation, None, current_replicas=1, ready_replicas=0)
    assert not stuck.fallback_active
    assert stuck.error is not None


def test_a_value_composite_metric_falls_back_divided_by_ready_replicas() -> None:
    """KEDA's fallback.go with scalingModifiers.metricType Value (valid since CheckFallbackValid
    stopped refusing it): composite target x replicas / ready replicas."""
    modifiers = ScalingModifiersSpec(
        formula="a + b", target="10", metric_type=MetricTargetType.VALUE
    )
    spec = ScalingSpec(fallback=FallbackSpec(0, 4), scaling_modifiers=modifiers)
    outcome = apply_fallback(spec, FAILED, None, current_replicas=1, ready_replicas=2)
    assert outcome.fallback_active
    assert outcome.metric_name == "composite-metric"
    assert outcome.value == 20


def test_failures_count_up_to_the_threshold_before_fallback_engages() -> None:
    spec = ScalingSpec(fallback=FallbackSpec(2, 4))
    health = None
    for expected_active in (False, False, True):
        outcome = apply_fallback(spec, FAILED, health, current_replicas=1)
        assert outcome.fallback_active is expected_active
        health = outcome.health
    assert health == MetricHealth(3, HealthStatusType.FAILING)


def test_an_invalid_fallback_leaves_health_untouched() -> None:
    spec = ScalingSpec(fallback=FallbackSpec(-1, 4))
    previous = MetricHealth(5, HealthStatusType.FAILING)
    outcome = apply_fallback(spec, FAILED, previous, current_replicas=1)
    assert outcome.health is None
    assert outcome.error == "timeout"


def test_paused_replicas_presence_pauses_even_beside_paused_false() -> None:
    annotations = {
        "autoscaling.keda.sh/paused": "false",
        "autoscaling.keda.sh/paused-replicas": "0",
    }
    assert need_to_be_paused(annotations)
    assert paused_replica_count(annotations) == 0


@pytest.mark.parametrize(
    ("value", "paused"), [("true", True), ("1", True), ("yes", True), ("F", False)]
)
def test_a_non_boolean_paused_value_counts_as_paused(value: str, paused: bool) -> None:
    assert need_to_be_paused({"autoscaling.keda.sh/paused": value}) is paused


def test_the_podscaler_prefix_is_accepted_and_wins_over_keda_s() -> None:
    annotations = {
        "autoscaling.keda.sh/paused-scale-in": "true",
        "autoscaling.podscaler.io/paused-scale-in": "false",
        "autoscaling.podscaler.io/paused-scale-out": "true",
    }
    pause = read_pause_annotations(annotations)
    assert not pause.scale_in_paused
    assert pause.scale_out_paused


@pytest.mark.parametrize("value", ["abc", " 5", "5.0", "", "99999999999"])
def test_unreadable_paused_replicas_is_an_error_not_a_resume(value: str) -> None:
    with pytest.raises(PausedReplicasError):
        paused_replica_count({"autoscaling.keda.sh/paused-replicas": value})
    pause = read_pause_annotations({"autoscaling.keda.sh/paused-replicas": value})
    assert pause.paused
    assert pause.paused_replicas_error is not None
