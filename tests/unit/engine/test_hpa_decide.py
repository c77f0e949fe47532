"""A whole reconcile pass: ``decide`` then ``conclude``, as a controller drives them.

Covers the branches of upstream's ``reconcileAutoscaler`` (scaling disabled at zero, current
outside [min, max], failed metrics, partial failures), the conditions in their upstream order,
the status kept after a failed scale write, history carried from pass to pass, and the
explanation of what bound each decision.
"""

from __future__ import annotations

from dataclasses import replace

from podscaler.api.conditions import Condition
from podscaler.api.hpabehavior import Behavior, ScalingPolicy, ScalingRules
from podscaler.api.hpabehavior import PolicyType as Policy
from podscaler.api.metrictarget import MetricTargetType
from podscaler.engine.hpa import (
    BoundBy,
    ConditionType,
    Decision,
    ExternalMetric,
    ExternalReading,
    HpaHistory,
    HpaSpec,
    MetricTarget,
    Observed,
    ReadingError,
    SelectorProblem,
    UnknownMetric,
    conclude,
    decide,
    scale_unreadable,
)
from tests.unit.engine.hpa_builders import NOW, cpu_reading, cpu_spec, ready_pod


def observe(current: int, **usage_milli: int) -> Observed:
    pods = tuple(ready_pod(name) for name in usage_milli)
    return Observed(current, current, pods, (cpu_reading(**usage_milli),))


def reasons(source: Decision | tuple[Condition, ...]) -> list[tuple[str, str, str]]:
    conditions = source.conditions if isinstance(source, Decision) else source
    return [(str(c.type), c.status, c.reason) for c in conditions]


def test_scale_up_sets_the_three_conditions_in_upstream_order() -> None:
    decision = decide(cpu_spec(30), observe(3, a=300, b=500, c=700), HpaHistory(), NOW)
    assert (decision.desired_replicas, decision.rescale) == (5, True)
    assert decision.rescale_reason == (
        "cpu resource utilization (percentage of request) above target"
    )
    outcome = conclude(decision)
    assert outcome.scaled
    assert outcome.desired_replicas == 5
    assert outcome.last_scale_seconds == NOW
    assert reasons(outcome.conditions) == [
        ("AbleToScale", "True", "SucceededRescale"),
        ("ScalingActive", "True", "ValidMetricFound"),
        ("ScalingLimited", "False", "DesiredWithinRange"),
    ]
    assert outcome.conditions[0].message == (
        "the HPA controller was able to update the target scale to 5"
    )
    assert outcome.conditions[2].message == "the desired count is within the acceptable range"


def test_within_tolerance_nothing_moves_and_the_explanation_says_tolerance() -> None:
    decision = decide(cpu_spec(50), observe(2, a=520, b=500), HpaHistory(), NOW)
    assert not decision.rescale
    assert decision.explanation.bound_by == BoundBy.TOLERANCE
    assert reasons(conclude(decision).conditions)[0] == ("AbleToScale", "True", "ReadyForNewScale")


def test_a_restarted_controller_cannot_scale_below_what_it_found() -> None:
    decision = decide(
        cpu_spec(50), observe(5, a=100, b=100, c=100, d=100, e=100), HpaHistory(), NOW
    )
    assert decision.desired_replicas == 5
    assert decision.explanation.bound_by == BoundBy.STABILIZATION_WINDOW
    assert decision.explanation.metric_replicas == 1
    assert reasons(decision)[0] == ("AbleToScale", "True", "ScaleDownStabilized")
    # Five minutes later the seeded recommendation has aged out of the window.
    later = decide(
        cpu_spec(50),
        observe(5, a=100, b=100, c=100, d=100, e=100),
        decision.history,
        NOW + 301,
    )
    assert later.desired_replicas == 1


def test_min_and_max_bound_the_result() -> None:
    low = decide(cpu_spec(90, min_replicas=2), observe(3, a=0, b=0, c=0), HpaHistory(()), NOW)
    assert (low.desired_replicas, low.explanation.bound_by) == (2, BoundBy.MIN_REPLICAS)
    assert reasons(low)[2] == ("ScalingLimited", "True", "TooFewReplicas")
    high = decide(cpu_spec(10, max_replicas=4), observe(3, a=900, b=900, c=900), HpaHistory(), NOW)
    assert (high.desired_replicas, high.explanation.bound_by) == (4, BoundBy.MAX_REPLICAS)


def test_scale_up_limit_without_behavior() -> None:
    spec = cpu_spec(10, max_replicas=100)
    decision = decide(spec, observe(2, a=1000, b=1000), HpaHistory(), NOW)
    assert decision.desired_replicas == 4
    assert decision.explanation.bound_by == BoundBy.SCALE_UP_LIMIT
    assert reasons(decision)[2] == ("ScalingLimited", "True", "ScaleUpLimit")


def test_behavior_policies_bound_the_scale_up_and_store_the_event() -> None:
    one_pod_a_minute = ScalingRules(policies=(ScalingPolicy(Policy.PODS, 1, 60),))
    spec = cpu_spec(10, max_replicas=100, behavior=Behavior(scale_up=one_pod_a_minute))
    decision = decide(spec, observe(2, a=1000, b=1000), HpaHistory(), NOW)
    assert decision.desired_replicas == 3
    assert decision.explanation.bound_by == BoundBy.SCALE_UP_POLICY
    outcome = conclude(decision)
    assert [e.replica_change for e in outcome.history.scale_up_events] == [1]
    # Thirty seconds later the policy's period still holds the added replica.
    again = decide(spec, observe(3, a=1000, b=1000, c=1000), outcome.history, NOW + 30)
    assert again.desired_replicas == 3
    assert again.explanation.bound_by == BoundBy.SCALE_UP_POLICY


def test_zero_replicas_with_nonzero_min_disables_scaling() -> None:
    decision = decide(cpu_spec(50), Observed(0, 0), HpaHistory(), NOW)
    assert (decision.desired_replicas, decision.rescale) == (0, False)
    assert reasons(decision)[1] == ("ScalingActive", "False", "ScalingDisabled")
    assert decision.explanation.bound_by == BoundBy.SCALING_DISABLED


def test_current_outside_the_range_is_clamped_without_reading_metrics() -> None:
    decision = decide(
        cpu_spec(50, min_replicas=3, max_replicas=5), Observed(10, 10), HpaHistory(), NOW
    )
    assert (decision.desired_replicas, decision.rescale) == (5, True)
    assert decision.rescale_reason == "Current number of replicas above Spec.MaxReplicas"
    assert reasons(conclude(decision).conditions) == [("AbleToScale", "True", "SucceededRescale")]


def test_all_metrics_failing_keeps_the_previous_desired_count() -> None:
    observed = Observed(
        3, 3, (ready_pod("a"),), (ReadingError("boom"),), previous_desired_replicas=4
    )
    decision = decide(cpu_spec(50), observed, HpaHistory(), NOW)
    outcome = conclude(decision)
    assert (outcome.scaled, outcome.desired_replicas) == (False, 4)
    assert reasons(outcome.conditions) == [
        ("AbleToScale", "True", "SucceededGetScale"),
        ("ScalingActive", "False", "FailedGetResourceMetric"),
    ]
    assert "boom" in outcome.conditions[1].message
    assert decision.explanation.bound_by == BoundBy.METRICS_UNAVAILABLE


def test_a_failing_metric_blocks_scale_down_but_not_scale_up() -> None:
    external = ExternalMetric("queue", MetricTarget(MetricTargetType.VALUE, value_milli=1000))
    spec = replace(cpu_spec(50), metrics=(*cpu_spec(50).metrics, external))
    broken = (ReadingError("unreachable"),)

    quiet = observe(4, a=100, b=100, c=100, d=100)
    down = decide(spec, replace(quiet, readings=quiet.readings + broken), HpaHistory(()), NOW)
    assert not down.rescale
    assert reasons(down)[1] == ("ScalingActive", "False", "FailedGetExternalMetric")

    busy = observe(2, a=1000, b=1000)
    up = decide(spec, replace(busy, readings=busy.readings + broken), HpaHistory(()), NOW)
    assert up.desired_replicas == 4
    assert reasons(up)[1] == ("ScalingActive", "True", "ValidMetricFound")


def test_several_metrics_take_the_maximum() -> None:
    external = ExternalMetric("queue", MetricTarget(MetricTargetType.VALUE, value_milli=1000))
    spec = replace(cpu_spec(50, max_replicas=20), metrics=(*cpu_spec(50).metrics, external))
    observed = observe(3, a=500, b=500, c=500)
    observed = replace(observed, readings=(*observed.readings, ExternalReading((2500, 500))))
    decision = decide(spec, observed, HpaHistory(), NOW)
    assert decision.desired_replicas == 6  # external: ratio 3.0 x 3 ready pods -> 9, cap 2x3=6
    assert decision.explanation.driving_metric == "external metric queue(<nil>)"


def test_unknown_metric_type_and_bad_selector() -> None:
    spec = replace(cpu_spec(50), metrics=(UnknownMetric("CheddarCheese"),))
    decision = decide(spec, Observed(3, 3, readings=(ReadingError("n/a"),)), HpaHistory(), NOW)
    assert reasons(decision)[1] == ("ScalingActive", "False", "InvalidMetricSourceType")

    problem = SelectorProblem("InvalidSelector", "the HPA target's scale is missing a selector")
    decision = decide(cpu_spec(50), Observed(3, 3, selector_problem=problem), HpaHistory(), NOW)
    assert reasons(decision)[1] == ("ScalingActive", "False", "InvalidSelector")
    assert decision.explanation.bound_by == BoundBy.INVALID_SELECTOR


def test_a_failed_scale_write_keeps_the_old_status_and_stores_no_event() -> None:
    spec = cpu_spec(30, behavior=Behavior())
    decision = decide(spec, observe(3, a=300, b=500, c=700), HpaHistory(), NOW)
    outcome = conclude(decision, update_error="conflict")
    assert (outcome.scaled, outcome.desired_replicas) == (False, 3)
    assert reasons(outcome.conditions)[0] == ("AbleToScale", "False", "FailedUpdateScale")
    assert outcome.conditions[0].message.endswith("conflict")
    assert outcome.history.scale_up_events == ()


def test_conditions_keep_their_transition_time_until_the_status_flips() -> None:
    first = conclude(decide(cpu_spec(50), observe(2, a=500, b=500), HpaHistory(), NOW))
    later = decide(
        cpu_spec(50),
        replace(observe(2, a=500, b=500), previous_conditions=first.conditions),
        first.history,
        NOW + 15,
    )
    active = next(c for c in later.conditions if c.type == ConditionType.SCALING_ACTIVE)
    assert active.last_transition_seconds == NOW


def test_empty_metrics_mean_cpu_at_eighty_percent() -> None:
    spec = HpaSpec(max_replicas=10, metrics=())
    decision = decide(spec, observe(2, a=1600, b=1600), HpaHistory(), NOW)
    assert decision.desired_replicas == 4


def test_an_unreadable_scale_only_flips_able_to_scale() -> None:
    conditions = scale_unreadable((), "not found", NOW)
    assert reasons(conditions) == [("AbleToScale", "False", "FailedGetScale")]
    assert conditions[0].message == (
        "the HPA controller was unable to get the target's current scale: not found"
    )
