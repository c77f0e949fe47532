"""The updater's rules: priority, who is admitted, the order, the eviction budget, eviction
requirements; plus proportional limits and the VerticalScaler's conditions.

Properties: a young pod whose requests are inside [lowerBound, upperBound] is never updated
(unless it had a quick OOM), and a replica group never drops below ``configured - tolerance``
running pods except for the one eviction a small group is always allowed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podscaler.engine.vpa import (
    AggregateContainerState,
    ChangeRequirement,
    ContainerRequests,
    ContainerState,
    ContainerTermination,
    EvictionRequirement,
    PodPriority,
    PodRecommendation,
    Resources,
    UpdateCandidate,
    UpdateMode,
    UpdateSettings,
    admit_for_update,
    cap_to_limits,
    eviction_budget,
    evicts_pods,
    had_quick_oom,
    meets_eviction_requirements,
    order_for_update,
    proportional_limit,
    recommend,
    recommendation_conditions,
    update_priority,
)

NOW = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
HOUR = 3600.0


def test_requests_inside_the_bounds_are_not_outside_the_range() -> None:
    containers = [ContainerRequests("app", 500, 300 * 10**9)]
    target = {"app": Resources(587, 262_144_000)}
    lower = {"app": Resources(400, 200_000_000)}
    upper = {"app": Resources(1200, 500_000_000)}
    priority = update_priority(containers, target, lower, upper)
    assert not priority.outside_recommended_range
    assert priority.scale_up  # 587m > 500m
    assert priority.resource_diff == pytest.approx(87 / 500 + (300e9 - 262_144e6) / 300e9)


def test_a_missing_request_is_a_scale_up_outside_the_range() -> None:
    priority = update_priority([ContainerRequests("app")], {"app": Resources(100, None)})
    assert priority == PodPriority(True, True, 99.0)


def test_observed_containers_limit_what_is_scored() -> None:
    containers = [ContainerRequests("app", 100), ContainerRequests("sidecar", 100)]
    targets = {"app": Resources(100), "sidecar": Resources(1000)}
    assert update_priority(containers, targets, observed_containers=frozenset({"app"})) == (
        PodPriority(False, False, 0.0)
    )


def test_the_tenth_of_a_byte_typo_is_compared_in_milli_units() -> None:
    """``memory: 100m`` requests a tenth of a byte; upstream compares MilliValue()s."""
    priority = update_priority([ContainerRequests("app", None, 100)], {"app": Resources(None, 1)})
    assert priority.scale_up
    assert priority.resource_diff == pytest.approx(9.0)


@settings(max_examples=300, deadline=None)
@given(
    diff=st.floats(0, 100),
    scale_up=st.booleans(),
    age_hours=st.floats(0, 11.99),
)
def test_a_young_pod_inside_the_range_is_never_updated(
    diff: float, scale_up: bool, age_hours: float
) -> None:
    candidate = UpdateCandidate("p", PodPriority(False, scale_up, diff), NOW - age_hours * HOUR)
    assert not admit_for_update(candidate, NOW)


def test_admission_rules() -> None:
    old = NOW - 13 * HOUR
    in_range = PodPriority(False, True, 0.05)
    assert not admit_for_update(UpdateCandidate("a", in_range, old), NOW)  # diff < 10 %
    assert admit_for_update(UpdateCandidate("b", PodPriority(False, True, 0.1), old), NOW)
    assert admit_for_update(UpdateCandidate("c", PodPriority(True, False, 0.0), NOW), NOW)
    assert not admit_for_update(UpdateCandidate("d", PodPriority(False, True, 1.0), None), NOW)
    # A quick OOM jumps the age rule, but not when nothing would change.
    assert admit_for_update(UpdateCandidate("e", in_range, NOW, quick_oom=True), NOW)
    assert not admit_for_update(
        UpdateCandidate("f", PodPriority(False, False, 0.0), NOW, quick_oom=True), NOW
    )


def test_scale_ups_go_first_then_bigger_changes() -> None:
    old = NOW - 24 * HOUR
    candidates = [
        UpdateCandidate("down-big", PodPriority(True, False, 5.0), old),
        UpdateCandidate("up-small", PodPriority(False, True, 0.2), old),
        UpdateCandidate("up-big", PodPriority(False, True, 2.0), old),
        UpdateCandidate("skipped", PodPriority(False, True, 0.01), old),
    ]
    assert [c.name for c in order_for_update(candidates, NOW)] == [
        "up-big",
        "up-small",
        "down-big",
    ]


def test_quick_oom_counts_only_considered_containers() -> None:
    oom = ContainerTermination("app", "OOMKilled", NOW - 300, NOW - 60)
    slow = ContainerTermination("app", "OOMKilled", NOW - 3600, NOW - 60)
    assert had_quick_oom([oom])
    assert not had_quick_oom([slow])
    assert not had_quick_oom([ContainerTermination("app", "Error", NOW - 300, NOW - 60)])
    assert not had_quick_oom([oom], observed_containers=frozenset({"other"}))
    assert not had_quick_oom([oom], off_containers=frozenset({"app"}))


@pytest.mark.parametrize(
    ("configured", "tolerance", "evictions"),
    [(3, 0.5, 1), (4, 0.5, 2), (5, 0.8, 4), (5, 0.1, 1), (2, 0.5, 1)],
)
def test_eviction_budget_examples(configured: int, tolerance: float, evictions: int) -> None:
    settings_ = UpdateSettings(eviction_tolerance_fraction=tolerance)
    budget = eviction_budget(configured, ["Running"] * configured, settings_)
    assert budget is not None
    done = 0
    while budget.can_evict("Running"):
        budget = budget.after_eviction("Running")
        done += 1
    assert done == evictions


def test_small_groups_are_not_touched_and_pending_pods_are_free() -> None:
    assert eviction_budget(1, ["Running"]) is None
    assert eviction_budget(3, ["Running"], min_replicas=1) is not None
    budget = eviction_budget(3, ["Pending", "Running", "Running"])
    assert budget is not None
    assert budget.can_evict("Pending")
    assert budget.after_eviction("Pending") == budget


@settings(max_examples=300, deadline=None)
@given(
    configured=st.integers(1, 30),
    running=st.integers(0, 30),
    pending=st.integers(0, 5),
    fraction=st.floats(0, 1),
)
def test_evictions_keep_enough_pods_running(
    configured: int, running: int, pending: int, fraction: float
) -> None:
    phases = ["Running"] * running + ["Pending"] * pending
    budget = eviction_budget(
        configured, phases, UpdateSettings(eviction_tolerance_fraction=fraction)
    )
    if budget is None:
        assert len(phases) < 2
        return
    evicted = 0
    while budget.can_evict("Running") and evicted < running:
        budget = budget.after_eviction("Running")
        evicted += 1
    # Running pods may go down to configured - tolerance; a whole group whose tolerance rounds
    # to zero may still lose one. Pending pods never count.
    tolerance = int(configured * fraction)
    allowed = max(0, running - (configured - tolerance))
    if configured == running and tolerance == 0:
        allowed = max(allowed, 1)
    assert evicted == min(allowed, running)


def test_eviction_requirements() -> None:
    containers = [ContainerRequests("app", 500, 100 * 10**9)]
    up = {"app": Resources(600, 50_000_000)}
    higher = EvictionRequirement(("cpu",), ChangeRequirement.TARGET_HIGHER_THAN_REQUESTS)
    lower_memory = EvictionRequirement(("memory",), ChangeRequirement.TARGET_LOWER_THAN_REQUESTS)
    lower_cpu = EvictionRequirement(("cpu",), ChangeRequirement.TARGET_LOWER_THAN_REQUESTS)
    assert meets_eviction_requirements(containers, up, [])
    assert meets_eviction_requirements(containers, up, [higher, lower_memory])
    assert not meets_eviction_requirements(containers, up, [lower_cpu])
    no_memory_request = [ContainerRequests("app", 500, None)]
    assert meets_eviction_requirements(no_memory_request, up, [lower_cpu])


def test_update_modes_that_evict() -> None:
    assert evicts_pods(None)
    assert evicts_pods(UpdateMode.AUTO)
    assert evicts_pods(UpdateMode.IN_PLACE_OR_RECREATE)
    assert not evicts_pods(UpdateMode.INITIAL)
    assert not evicts_pods(UpdateMode.OFF)


@pytest.mark.parametrize(
    ("limit", "old_request", "new_request", "default", "expected"),
    [
        (None, 100, 200, None, None),  # no limit stays no limit
        (None, 100, 200, 400, 800),  # a LimitRange default is scaled like a limit
        (300, None, 200, None, 200),  # limit without request: follows the request
        (100, 100, 250, None, 250),  # limit == request: still equal
        (300, 100, 250, None, 750),  # ratio 3 kept
        (1000, 300, 100, None, 333),  # truncated
        (300, 100, 0, None, None),  # nothing recommended: no limit
    ],
)
def test_limits_keep_their_ratio(
    limit: int | None,
    old_request: int | None,
    new_request: int,
    default: int | None,
    expected: int | None,
) -> None:
    assert proportional_limit(limit, old_request, new_request, default) == expected


def test_requests_only_never_recommends_above_the_limit() -> None:
    capped = cap_to_limits(Resources(900, 2 * 10**9), Resources(500, None))
    assert capped.resources == Resources(500, 2 * 10**9)
    assert capped.capped_by == (("cpu", "limit"),)


def test_conditions_of_a_pass() -> None:
    state = AggregateContainerState(NOW)
    container = ContainerState(state)
    for minute in range(60):
        container.add_cpu_sample(500, NOW + 60 * minute)
    result = recommend({"app": state})
    conditions = {
        c.type: c for c in recommendation_conditions(pods_matched=True, recommendation=result)
    }
    assert conditions["RecommendationProvided"].status == "True"
    assert conditions["LowConfidence"].status == "True"
    assert (
        "0.0417" in conditions["LowConfidence"].message
        or "0.04" in conditions["LowConfidence"].message
    )
    assert "NoPodsMatched" not in conditions
    nothing = {
        c.type: c
        for c in recommendation_conditions(
            pods_matched=False,
            recommendation=PodRecommendation(),
            config_problem=("TargetNotFound", "Deployment default/web does not exist"),
        )
    }
    assert nothing["RecommendationProvided"].status == "False"
    assert nothing["RecommendationProvided"].reason == "TargetNotFound"
    assert nothing["NoPodsMatched"].status == "True"
    assert nothing["ConfigUnsupported"].message == "Deployment default/web does not exist"
