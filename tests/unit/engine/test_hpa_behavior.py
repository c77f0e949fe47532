"""Normalization: stabilization windows, the no-behavior cap, policies and their history.

Pins upstream's defaulting of ``behavior``, which recommendations a window sees and which one
gets overwritten, the 2x/4 cap that exists only without behavior, Pods/Percent rounding,
selectPolicy, and the scale-event bookkeeping the policies read.
"""

from __future__ import annotations

from podscaler.api.hpabehavior import (
    Behavior,
    PolicyType,
    ResolvedRules,
    ScalingPolicy,
    ScalingRules,
    SelectPolicy,
    resolve_behavior,
)
from podscaler.engine.hpa import (
    HpaHistory,
    Recommendation,
    ScaleEvent,
    convert_with_behavior_rate,
    convert_with_rules,
    record_rescale,
    replicas_change_in_period,
    scale_down_limit,
    scale_up_limit,
    seed_recommendations,
    stabilize_with_behavior,
    stabilize_without_behavior,
    store_scale_event,
)

NOW = 1_000.0


def rec(replicas: int, age_seconds: float) -> Recommendation:
    return Recommendation(replicas, NOW - age_seconds)


def event(change: int, age_seconds: float, outdated: bool = False) -> ScaleEvent:
    return ScaleEvent(change, NOW - age_seconds, outdated)


def rules(select: SelectPolicy, *policies: tuple[PolicyType, int, int]) -> ResolvedRules:
    return ResolvedRules(300, select, tuple(ScalingPolicy(*p) for p in policies))


PODS, PERCENT = PolicyType.PODS, PolicyType.PERCENT


def test_behavior_defaults_fill_each_unset_field() -> None:
    resolved = resolve_behavior(
        Behavior(scale_down=ScalingRules(select_policy=SelectPolicy.MIN)), 300
    )
    assert resolved.scale_up.stabilization_window_seconds == 0
    assert resolved.scale_up.policies == (
        ScalingPolicy(PODS, 4, 15),
        ScalingPolicy(PERCENT, 100, 15),
    )
    assert resolved.scale_down.stabilization_window_seconds == 300
    assert resolved.scale_down.select_policy == SelectPolicy.MIN
    assert resolved.scale_down.policies == (ScalingPolicy(PERCENT, 100, 15),)


def test_a_set_policy_list_replaces_the_defaults_whole() -> None:
    only = (ScalingPolicy(PODS, 1, 60),)
    resolved = resolve_behavior(Behavior(scale_up=ScalingRules(policies=only)), 300)
    assert resolved.scale_up.policies == only


def test_without_behavior_only_scale_down_is_stabilized() -> None:
    log = [rec(8, 120), rec(6, 60)]
    down = stabilize_without_behavior(log, 3, 300, NOW)
    assert down.replicas == 8
    up = stabilize_without_behavior(log, 10, 300, NOW)
    assert up.replicas == 10


def test_without_behavior_the_last_stale_entry_is_overwritten() -> None:
    result = stabilize_without_behavior([rec(10, 600), rec(9, 540), rec(4, 10)], 3, 300, NOW)
    assert [r.replicas for r in result.recommendations] == [10, 3, 4]
    assert result.recommendations[1].at_seconds == NOW


def test_with_behavior_the_current_count_is_clamped_between_the_windows() -> None:
    log = [rec(4, 60), rec(5, 120)]
    result = stabilize_with_behavior(log, 100, 3, 0, 180, NOW)
    assert result.replicas == 5
    assert result.reason == "ScaleDownStabilized"
    # A recommendation that reverses direction inside both windows moves nothing.
    result = stabilize_with_behavior([rec(3, 180)], 2, 1, 300, 300, NOW)
    assert result.replicas == 2


def test_scale_up_stabilization_uses_the_lowest_recent_recommendation() -> None:
    result = stabilize_with_behavior([rec(2, 30), rec(6, 10)], 2, 8, 60, 300, NOW)
    assert result.replicas == 2
    assert result.reason == "ScaleUpStabilized"
    assert [r.replicas for r in result.recommendations] == [2, 6, 8]


def test_no_behavior_cap_is_twice_current_or_four() -> None:
    assert convert_with_rules(1, 50, 1, 100).replicas == 4
    assert convert_with_rules(10, 50, 1, 100).replicas == 20
    assert convert_with_rules(10, 50, 1, 100).reason == "ScaleUpLimit"
    assert convert_with_rules(10, 50, 1, 15).reason == "TooManyReplicas"
    assert convert_with_rules(3, 1, 2, 8).reason == "TooFewReplicas"
    assert convert_with_rules(3, 5, 2, 8).reason == "DesiredWithinRange"


def test_default_scale_up_policies_allow_four_pods_or_double() -> None:
    default_up = resolve_behavior(Behavior(), 300).scale_up
    assert scale_up_limit(10, [], [], default_up, NOW) == 20
    assert scale_up_limit(1, [], [], default_up, NOW) == 5


def test_policies_measure_from_the_start_of_their_period() -> None:
    up = rules(SelectPolicy.MAX, (PODS, 150, 120))
    # 1 + 5 + 9 replicas were added within 120 s: 100 - 15 + 150.
    events = [event(1, 100), event(5, 60), event(9, 20)]
    assert scale_up_limit(100, events, [], up, NOW) == 235
    # An event exactly one period old no longer counts.
    assert replicas_change_in_period([event(7, 120)], 120, NOW) == 0


def test_percent_rounds_up_on_scale_up_and_truncates_on_scale_down() -> None:
    assert scale_up_limit(3, [], [], rules(SelectPolicy.MAX, (PERCENT, 10, 60)), NOW) == 4
    assert scale_down_limit(5, [], [], rules(SelectPolicy.MAX, (PERCENT, 50, 60)), NOW) == 2


def test_select_policy_picks_the_biggest_or_smallest_change() -> None:
    both = ((PODS, 2, 60), (PERCENT, 50, 60))
    assert scale_up_limit(10, [], [], rules(SelectPolicy.MAX, *both), NOW) == 15
    assert scale_up_limit(10, [], [], rules(SelectPolicy.MIN, *both), NOW) == 12
    assert scale_down_limit(10, [], [], rules(SelectPolicy.MAX, *both), NOW) == 5
    assert scale_down_limit(10, [], [], rules(SelectPolicy.MIN, *both), NOW) == 8
    assert scale_up_limit(10, [], [], rules(SelectPolicy.DISABLED, *both), NOW) == 10


def test_rate_limit_reasons_and_clipping_at_current() -> None:
    behavior = resolve_behavior(
        Behavior(
            scale_up=ScalingRules(policies=(ScalingPolicy(PODS, 1, 60),)),
            scale_down=ScalingRules(policies=(ScalingPolicy(PODS, 1, 60),)),
        ),
        300,
    )
    up = convert_with_behavior_rate(5, 9, 1, 20, behavior, [], [], NOW)
    assert (up.replicas, up.reason) == (6, "ScaleUpLimit")
    # 3 replicas were added in the period, so the policy's limit (2 + 1) sits below the
    # current count: it is clipped to current, and nothing more is added until it expires.
    held = convert_with_behavior_rate(5, 9, 1, 20, behavior, [event(3, 10)], [], NOW)
    assert (held.replicas, held.reason) == (5, "ScaleUpLimit")
    down = convert_with_behavior_rate(5, 1, 1, 20, behavior, [], [], NOW)
    assert (down.replicas, down.reason) == (4, "ScaleDownLimit")
    floor = convert_with_behavior_rate(5, 1, 5, 20, behavior, [], [], NOW)
    assert (floor.replicas, floor.reason) == (5, "TooFewReplicas")


def test_history_is_seeded_once() -> None:
    seeded = seed_recommendations(HpaHistory(), 5, NOW)
    assert seeded.recommendations == (Recommendation(5, NOW),)
    assert seed_recommendations(HpaHistory(recommendations=()), 5, NOW).recommendations == ()


def test_scale_events_overwrite_the_last_outdated_one() -> None:
    up = rules(SelectPolicy.MAX, (PODS, 4, 60))
    events = [event(1, 200), event(2, 100), event(3, 30)]
    stored = store_scale_event(events, up, 5, NOW)
    assert [(e.replica_change, e.outdated) for e in stored] == [(1, True), (5, False), (3, False)]
    appended = store_scale_event([event(3, 30)], up, 5, NOW)
    assert [e.replica_change for e in appended] == [3, 5]
    assert store_scale_event(events, None, 5, NOW) == tuple(events)


def test_a_rescale_is_recorded_in_its_direction_only_with_behavior() -> None:
    behavior = resolve_behavior(Behavior(), 300)
    history = record_rescale(HpaHistory(), behavior, 3, 7, NOW)
    assert history.scale_up_events == (ScaleEvent(4, NOW),)
    history = record_rescale(history, behavior, 7, 2, NOW)
    assert history.scale_down_events == (ScaleEvent(5, NOW),)
    assert record_rescale(HpaHistory(), None, 3, 7, NOW) == HpaHistory()
