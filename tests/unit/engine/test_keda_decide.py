"""One ScaledObject poll, decided: activation, cooldown, idle, bounds handed to the HPA part,
conditions, and the rule that bound each result. Times are seconds on the caller's clock."""

from __future__ import annotations

from podscaler.api.conditions import ConditionStatus
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.scaledobject import (
    FallbackSpec,
    ScalingModifiersSpec,
    ScalingSpec,
)
from podscaler.engine.keda import (
    Action,
    Event,
    Rule,
    ScalingState,
    TriggerObservation,
    decide,
)
from podscaler.engine.keda import conditions as cond

NOW = 10_000.0


def queue(
    value: float, *, threshold: float = 0.0, name: str = "queue", index: int = 0
) -> TriggerObservation:
    return TriggerObservation(
        f"s{index}-{name}",
        trigger_type="aws-sqs-queue",
        name=name,
        value=value,
        activation_threshold=threshold,
        target=5.0,
    )


def failing(name: str = "queue", index: int = 0) -> TriggerObservation:
    return TriggerObservation(
        f"s{index}-{name}",
        trigger_type="prometheus",
        name=name,
        error="connection refused",
        target=5.0,
    )


SPEC = ScalingSpec(min_replica_count=0, max_replica_count=10, trigger_types=("aws-sqs-queue",))


def test_a_deployment_at_zero_activates_to_one_when_any_trigger_is_above_activation() -> None:
    spec = ScalingSpec(trigger_types=("aws-sqs-queue", "prometheus"))
    decision = decide(
        spec, [queue(0.0), queue(3.0, threshold=2.0, name="p", index=1)], ScalingState(), 0, NOW
    )
    assert (decision.action, decision.replicas) == (Action.SCALE_TO, 1)
    assert decision.explanation.rule == Rule.ACTIVATION
    assert decision.state.last_active_seconds == NOW
    event = decision.events[-1]
    assert isinstance(event, Event)
    assert event.message("apps/v1.Deployment ns/web") == (
        "Scaled apps/v1.Deployment ns/web from 0 to 1, triggered by p"
    )


def test_activation_is_strictly_above_the_threshold() -> None:
    decision = decide(SPEC, [queue(2.0, threshold=2.0)], ScalingState(), 0, NOW)
    assert decision.action == Action.NONE
    assert not decision.is_active


def test_activation_goes_to_min_replicas_when_min_is_above_one() -> None:
    spec = ScalingSpec(min_replica_count=3, idle_replica_count=0, trigger_types=("aws-sqs-queue",))
    decision = decide(spec, [queue(1.0)], ScalingState(), 0, NOW)
    assert decision.replicas == 3


def test_cooldown_counts_from_last_active_time_not_from_the_last_poll() -> None:
    state = ScalingState(last_active_seconds=NOW - 200)
    waiting = decide(SPEC, [queue(0.0)], state, 4, NOW)
    assert waiting.action == Action.NONE
    assert waiting.explanation.rule == Rule.COOLDOWN
    assert cond.get(waiting.conditions, cond.ACTIVE).reason == "ScalerCooldown"
    # The next inactive poll does not move lastActiveTime, so the deadline stays put.
    later = decide(SPEC, [queue(0.0)], waiting.state, 4, NOW + 101)
    assert (later.action, later.replicas) == (Action.SCALE_TO, 0)
    assert later.explanation.rule == Rule.DEACTIVATION


def test_scale_in_waits_for_strictly_more_than_the_cooldown() -> None:
    state = ScalingState(last_active_seconds=NOW - 300)
    assert decide(SPEC, [queue(0.0)], state, 4, NOW).action == Action.NONE


def test_restart_mid_cooldown_keeps_last_active_time() -> None:
    first = decide(SPEC, [queue(9.0)], ScalingState(), 2, NOW)
    # The operator restarts; the status it persisted is all the next poll sees.
    restored = ScalingState(
        last_active_seconds=first.state.last_active_seconds,
        health=first.state.health,
        conditions=first.state.conditions,
    )
    assert decide(SPEC, [queue(0.0)], restored, 2, NOW + 250).action == Action.NONE
    assert decide(SPEC, [queue(0.0)], restored, 2, NOW + 301).replicas == 0


def test_never_active_objects_use_creation_plus_initial_cooldown() -> None:
    spec = ScalingSpec(
        initial_cooldown_period_seconds=120, created_seconds=NOW - 10, trigger_types=("cron",)
    )
    decision = decide(spec, [queue(0.0)], ScalingState(), 1, NOW)
    assert decision.explanation.rule == Rule.INITIAL_COOLDOWN
    assert decide(spec, [queue(0.0)], ScalingState(), 1, NOW + 111).replicas == 0


def test_idle_mode_scales_to_idle_after_cooldown_and_back_to_min_when_active() -> None:
    spec = ScalingSpec(min_replica_count=2, idle_replica_count=0, trigger_types=("aws-sqs-queue",))
    idle = decide(spec, [queue(0.0)], ScalingState(last_active_seconds=NOW - 600), 5, NOW)
    assert (idle.replicas, idle.explanation.rule) == (0, Rule.IDLE)
    back = decide(spec, [queue(4.0)], idle.state, 0, NOW + 30)
    assert back.replicas == 2


def test_only_cpu_memory_triggers_are_always_active_and_never_scale_to_zero() -> None:
    spec = ScalingSpec(min_replica_count=1, trigger_types=("cpu",))
    cpu = TriggerObservation(
        "cpu", trigger_type="cpu", target=50.0, metric_type=MetricTargetType.UTILIZATION
    )
    decision = decide(spec, [cpu], ScalingState(last_active_seconds=0.0), 2, NOW)
    assert decision.is_active
    assert decision.action == Action.NONE
    assert decision.hpa is not None
    assert decision.hpa.metrics[0].value is None  # the HPA part reads metrics.k8s.io itself


def test_cpu_beside_an_event_trigger_does_not_keep_the_object_active() -> None:
    spec = ScalingSpec(trigger_types=("cron", "cpu"))
    cpu = TriggerObservation("cpu", trigger_type="cpu")
    decision = decide(spec, [queue(0.0), cpu], ScalingState(last_active_seconds=0.0), 3, NOW)
    assert decision.replicas == 0


def test_the_hpa_part_gets_min_at_least_one_and_max_with_its_default() -> None:
    decision = decide(ScalingSpec(trigger_types=("cron",)), [queue(7.0)], ScalingState(), 3, NOW)
    assert decision.hpa is not None
    assert (decision.hpa.min_replicas, decision.hpa.max_replicas) == (1, 100)
    assert decision.explanation.rule == Rule.HPA
    assert decision.hpa.metrics[0].value == 7.0


def test_a_failing_trigger_without_fallback_never_scales_to_zero() -> None:
    decision = decide(SPEC, [failing()], ScalingState(last_active_seconds=0.0), 3, NOW)
    assert decision.action == Action.NONE
    assert decision.explanation.rule == Rule.TRIGGER_ERROR
    ready = cond.get(decision.conditions, cond.READY)
    assert (ready.status, ready.reason) == (ConditionStatus.FALSE, "TriggerError")


def test_fallback_beyond_the_threshold_masks_the_error_and_feeds_the_hpa_its_replicas() -> None:
    spec = ScalingSpec(
        fallback=FallbackSpec(failure_threshold=1, replicas=4), trigger_types=("prometheus",)
    )
    first = decide(spec, [failing()], ScalingState(), 2, NOW)
    assert first.is_error
    assert cond.get(first.conditions, cond.FALLBACK).reason == "NoFallbackFound"
    second = decide(spec, [failing()], first.state, 2, NOW + 30)
    assert not second.is_error
    assert second.explanation.rule == Rule.FALLBACK
    assert second.hpa is not None
    assert second.hpa.metrics[0].value == 20.0  # target 5 * 4 replicas
    assert cond.get(second.conditions, cond.FALLBACK).reason == "FallbackExists"
    assert second.state.health["s0-queue"].number_of_failures == 2
    recovered = decide(spec, [queue(1.0)], second.state, 4, NOW + 60)
    assert recovered.state.health["s0-queue"].number_of_failures == 0
    assert cond.get(recovered.conditions, cond.FALLBACK).reason == "NoFallbackFound"


def test_paused_keeps_replicas_and_reports_paused() -> None:
    spec = ScalingSpec(
        annotations={"autoscaling.podscaler.io/paused": "true"}, trigger_types=("cron",)
    )
    decision = decide(spec, [queue(9.0)], ScalingState(), 0, NOW)
    assert decision.action == Action.NONE
    assert decision.hpa is None
    assert cond.get(decision.conditions, cond.PAUSED).reason == "ScaledObjectPaused"
    unpaused = decide(ScalingSpec(trigger_types=("cron",)), [queue(9.0)], decision.state, 0, NOW)
    assert cond.get(unpaused.conditions, cond.PAUSED).reason == "ScaledObjectUnpaused"


def test_paused_replicas_pins_the_target() -> None:
    spec = ScalingSpec(
        annotations={"autoscaling.keda.sh/paused-replicas": "2"}, trigger_types=("cron",)
    )
    decision = decide(spec, [queue(0.0)], ScalingState(), 5, NOW)
    assert (decision.action, decision.replicas) == (Action.SCALE_TO, 2)
    assert decision.state.paused_replica_count == 2


def test_paused_scale_in_blocks_scale_to_zero_and_tells_the_hpa_part() -> None:
    spec = ScalingSpec(
        annotations={"autoscaling.keda.sh/paused-scale-in": "true"}, trigger_types=("cron",)
    )
    decision = decide(spec, [queue(0.0)], ScalingState(last_active_seconds=0.0), 3, NOW)
    assert decision.action == Action.NONE
    assert decision.explanation.rule == Rule.PAUSED_SCALE_IN
    assert decision.hpa is not None
    assert decision.hpa.scale_down_disabled


def test_scaling_modifiers_decide_activity_by_the_composite_metric() -> None:
    modifiers = ScalingModifiersSpec(formula="a + b", target="10", activation_target="5")
    spec = ScalingSpec(scaling_modifiers=modifiers, trigger_types=("cron", "cron"))
    quiet = decide(
        spec, [queue(2.0, name="a"), queue(3.0, name="b", index=1)], ScalingState(), 0, NOW
    )
    assert not quiet.is_active
    busy = decide(
        spec, [queue(2.0, name="a"), queue(4.0, name="b", index=1)], ScalingState(), 0, NOW
    )
    assert busy.is_active
    assert busy.active_triggers == ("ModifiersTrigger",)
    assert busy.hpa is not None
    [composite] = busy.hpa.metrics
    assert (composite.metric_name, composite.value, composite.target) == (
        "composite-metric",
        6.0,
        10.0,
    )


def test_without_a_fallback_the_fallback_condition_is_false_not_unknown() -> None:
    """KEDA's reconcile sets Fallback=False/NoFallbackFound when no (valid) fallback is
    configured; the initial Unknown with no reason must not stay (issue 18)."""
    decision = decide(SPEC, [queue(3.0)], ScalingState(), 1, NOW)
    fallback = cond.get(decision.conditions, cond.FALLBACK)
    assert (fallback.status, fallback.reason) == (ConditionStatus.FALSE, "NoFallbackFound")
    assert fallback.message == "No fallbacks are active on this scaled object"


def test_a_formula_that_is_not_a_finite_number_is_a_trigger_error_not_a_metric() -> None:
    """Issue 17 §4: ``a / 0`` gave +Inf, which the HPA bridge could not turn into a quantity."""
    for formula, shown in (("a / 0", "inf"), ("a * 1e308 * 10", "inf"), ("0 / 0 * a", "nan")):
        modifiers = ScalingModifiersSpec(formula=formula, target="10")
        spec = ScalingSpec(scaling_modifiers=modifiers, trigger_types=("cron",))
        decision = decide(spec, [queue(2.0, name="a")], ScalingState(), 3, NOW)
        assert decision.is_error
        ready = cond.get(decision.state.conditions, cond.READY)
        assert ready.status == ConditionStatus.FALSE
        assert ready.reason == "TriggerError"
        assert f"evaluated to {shown}" in ready.message
        assert [e.reason.value for e in decision.events] == ["TriggerError"]
        assert decision.hpa is not None
        [composite] = decision.hpa.metrics
        assert composite.value is None
    # Huge but finite, beyond the HPA's int64 milli-quantity: the same.
    modifiers = ScalingModifiersSpec(formula="a * 1e300", target="10")
    spec = ScalingSpec(scaling_modifiers=modifiers, trigger_types=("cron",))
    assert decide(spec, [queue(2.0, name="a")], ScalingState(), 3, NOW).is_error


def test_an_overflowing_formula_falls_back_after_the_threshold_and_recovers() -> None:
    modifiers = ScalingModifiersSpec(formula="a / b", target="10")
    spec = ScalingSpec(
        scaling_modifiers=modifiers,
        trigger_types=("cron", "cron"),
        fallback=FallbackSpec(failure_threshold=1, replicas=4),
    )
    zero = [queue(5.0, name="a"), queue(0.0, name="b", index=1)]
    first = decide(spec, zero, ScalingState(), 2, NOW)
    assert first.is_error
    assert first.state.health["composite-metric"].number_of_failures == 1
    second = decide(spec, zero, first.state, 2, NOW + 1)
    assert not second.is_error
    assert cond.get(second.state.conditions, cond.FALLBACK).status == ConditionStatus.TRUE
    assert second.hpa is not None
    [composite] = second.hpa.metrics
    assert (composite.value, composite.fallback) == (40.0, True)
    healthy = [queue(5.0, name="a"), queue(1.0, name="b", index=1)]
    third = decide(spec, healthy, second.state, 4, NOW + 2)
    assert "composite-metric" not in third.state.health
    assert cond.get(third.state.conditions, cond.FALLBACK).status == ConditionStatus.FALSE
