"""Per-metric replica calculation: the arithmetic and pod handling upstream's HPA is known for.

Each test pins one rule a naive port gets wrong: integer utilization, the tolerance boundary,
which pods are ignored/unready/missing and what they count as in each direction, the no-flip
second pass, and how Object/External targets count pods.
"""

from __future__ import annotations

import pytest

from podscaler.engine.hpa import (
    ContainerRequests,
    Hold,
    MetricUnavailable,
    PodFacts,
    PodPhase,
    PodResourceUsage,
    PodSample,
    ReplicaProposal,
    Tolerances,
    external_average_value_replicas,
    external_value_replicas,
    group_pods,
    object_average_value_replicas,
    object_value_replicas,
    plain_metric_replicas,
    pod_requests_milli,
    resource_samples,
    resource_utilization_replicas,
)
from tests.unit.engine.hpa_builders import NOW, cpu_samples, ready_condition, ready_pod

DEFAULT = Tolerances()
TIMING = {
    "cpu_initialization_period_seconds": 300.0,
    "initial_readiness_delay_seconds": 30.0,
    "now_seconds": NOW,
}


def utilization(
    current: int,
    target: int,
    samples: dict[str, PodSample],
    pods: list[PodFacts],
    tol: Tolerances = DEFAULT,
) -> ReplicaProposal:
    return resource_utilization_replicas(current, target, "cpu", None, samples, pods, tol, **TIMING)


def test_utilization_is_an_integer_percent_before_the_ratio() -> None:
    # 495m of 2000m is 24.75 %, but upstream truncates to 24 % before dividing by the target.
    pods = [ready_pod("a", 2000)]
    proposal = utilization(1, 20, cpu_samples(a=495), pods)
    assert proposal.utilization_percent == 24
    assert proposal.usage_ratio == 24 / 20
    assert proposal.replicas == 2  # ceil(1.2 * 1)


def test_scale_up_from_ready_pods() -> None:
    pods = [ready_pod(n) for n in "abc"]
    proposal = utilization(3, 30, cpu_samples(a=300, b=500, c=700), pods)
    assert (proposal.replicas, proposal.utilization_percent, proposal.usage_milli) == (5, 50, 500)


def test_ratio_exactly_at_the_tolerance_boundary_keeps_replicas() -> None:
    # 110 % of a 100 % target: abs(1 - 1.1) > 0.1 in floating point, yet upstream keeps 3.
    pods = [ready_pod(n) for n in "abc"]
    proposal = utilization(3, 100, cpu_samples(a=1100, b=1100, c=1100), pods)
    assert proposal.replicas == 3
    assert proposal.held == Hold.TOLERANCE


def test_tolerance_is_per_direction() -> None:
    pods = [ready_pod(n) for n in "abc"]
    samples = cpu_samples(a=650, b=650, c=650)  # 65 %
    wide_down = Tolerances(scale_up=0.1, scale_down=0.36)
    narrow_down = Tolerances(scale_up=0.1, scale_down=0.34)
    assert utilization(3, 100, samples, pods, wide_down).replicas == 3
    assert utilization(3, 100, samples, pods, narrow_down).replicas == 2


def test_missing_pod_counts_as_its_request_on_scale_down() -> None:
    # a and b are at 10 %; c has no sample and counts as 100 % of its request, which keeps the
    # average at 40 % of a 50 % target: ceil(0.8 * 3) = 3, i.e. no scale-down below 3.
    pods = [ready_pod(n) for n in "abc"]
    proposal = utilization(3, 50, cpu_samples(a=100, b=100), pods)
    assert proposal.utilization_percent == 10
    assert proposal.replicas == 3


def test_missing_pod_counts_as_target_when_target_exceeds_request() -> None:
    pods = [ready_pod("a", 1000), ready_pod("b", 1000)]
    # a is at 30 % of a 300 % target; b missing counts as 300 % -> (30 + 300) / 2 = 165 %.
    proposal = utilization(2, 300, cpu_samples(a=300), pods)
    assert proposal.replicas == 2  # ratio 0.55 -> ceil(0.55 * 2) = 2


def test_missing_pod_counts_as_zero_on_scale_up() -> None:
    pods = [ready_pod("a", 1000), ready_pod("b", 1000)]
    proposal = utilization(2, 50, cpu_samples(a=2000), pods)  # 200 % alone, 100 % with b at 0
    assert proposal.replicas == 4  # ceil(100 / 50 * 2)


def test_unready_pods_hold_back_scale_up_only() -> None:
    warming = ready_pod("c", ready=ready_condition("False", NOW - 5), start_time_seconds=NOW - 5)
    pods = [ready_pod("a"), ready_pod("b"), warming]
    # Scale-up: c counts as 0, so (800 + 800 + 0) / 3 -> 53 % of 30 % -> ceil(1.766 * 3) = 6.
    assert utilization(3, 30, cpu_samples(a=800, b=800, c=900), pods).replicas == 6
    # Scale-down: c is simply left out; ratio 0.2 over the two ready pods -> 1.
    assert utilization(3, 50, cpu_samples(a=100, b=100, c=900), pods).replicas == 1


def test_second_pass_never_reverses_the_direction() -> None:
    # The ready pod alone says scale down (40 % of a 50 % target); b, missing, counts as 100 %
    # of its request, which makes (40 + 100) / 2 = 70 %, a scale-up. Upstream keeps 2.
    pods = [ready_pod("a"), ready_pod("b")]
    proposal = utilization(2, 50, cpu_samples(a=400), pods)
    assert proposal.replicas == 2
    assert proposal.held == Hold.DIRECTION


def test_samples_of_unknown_pods_count_in_the_replica_base() -> None:
    # Upstream uses len(metrics) as the base in the second pass, including samples of pods that
    # are not in the pod list ("superfluous" samples).
    pods = [ready_pod(n) for n in "abcd"]
    samples = cpu_samples(a=4000, b=4000, c=4000, d=4000, x=100, y=100, z=100)
    del samples["d"]
    proposal = utilization(4, 50, samples, pods)
    # 400 % / 50 % = 8.0 over a, b, c; d (missing) at 0 gives 300 % -> 6.0, and the base is
    # every sample: 4 pods + 3 superfluous = 7 -> ceil(6.0 * 7) = 42.
    assert proposal.replicas == 42


def test_ignored_pods_are_deleted_or_terminal_and_pending_is_unready() -> None:
    pods = [
        ready_pod("ok"),
        ready_pod("gone", deleting=True),
        ready_pod("failed", phase=PodPhase.FAILED),
        ready_pod("done", phase=PodPhase.SUCCEEDED),
        ready_pod("pending", phase=PodPhase.PENDING),
    ]
    groups = group_pods(pods, cpu_samples(ok=1, gone=1, failed=1, done=1), "cpu", **TIMING)
    assert groups.ignored == {"gone", "failed", "done"}
    assert groups.unready == {"pending"}
    assert groups.ready_count == 1


def test_cpu_readiness_rules() -> None:
    started_recently = NOW - 60
    pods = [
        # Within the init period and ready, but not yet a full window since becoming ready.
        ready_pod(
            "fresh", start_time_seconds=started_recently, ready=ready_condition("True", NOW - 30)
        ),
        # Within the init period, ready for longer than a window.
        ready_pod(
            "warm", start_time_seconds=started_recently, ready=ready_condition("True", NOW - 61)
        ),
        # Past the init period, became unready later on: still counted as ready.
        ready_pod("flaky", ready=ready_condition("False", NOW - 100)),
        # Past the init period and never ready after the initial delay.
        ready_pod("never", ready=ready_condition("False", NOW - 3_590)),
        ready_pod("no-condition", ready=None),
    ]
    samples = cpu_samples(fresh=1, warm=1, flaky=1, never=1, **{"no-condition": 1})
    groups = group_pods(pods, samples, "cpu", **TIMING)
    assert groups.unready == {"fresh", "never", "no-condition"}
    assert group_pods(pods, samples, "memory", **TIMING).unready == frozenset()


def test_requests_sum_containers_or_the_named_one() -> None:
    pod = ready_pod(
        "a",
        containers=(
            ContainerRequests("app", {"cpu": 300}),
            ContainerRequests("sidecar", {"cpu": 200}),
        ),
    )
    assert pod_requests_milli([pod], "cpu", None) == {"a": 500}
    assert pod_requests_milli([pod], "cpu", "sidecar") == {"a": 200}
    with pytest.raises(MetricUnavailable, match="container web not found in Pod a"):
        pod_requests_milli([pod], "cpu", "web")
    with pytest.raises(MetricUnavailable, match="missing request for memory"):
        pod_requests_milli([pod], "memory", None)


def test_pod_level_requests_win_unless_a_container_is_named() -> None:
    pod = ready_pod("a", pod_requests_milli={"cpu": 2000})
    assert pod_requests_milli([pod], "cpu", None) == {"a": 2000}
    assert pod_requests_milli([pod], "cpu", "app") == {"a": 1000}


def test_resource_samples_skip_pods_with_a_container_lacking_the_resource() -> None:
    usage = [
        PodResourceUsage("a", {"app": {"cpu": 100}, "side": {"cpu": 50}}),
        PodResourceUsage("b", {"app": {"cpu": 100}, "side": {"memory": 5}}),
        PodResourceUsage("c", {}),
    ]
    assert {p: s.value_milli for p, s in resource_samples(usage, "cpu", None).items()} == {"a": 150}
    assert set(resource_samples(usage, "cpu", "side")) == {"a"}
    with pytest.raises(MetricUnavailable, match="no metrics returned from resource metrics API"):
        resource_samples([], "cpu", None)


def test_errors_carry_upstream_messages() -> None:
    with pytest.raises(MetricUnavailable, match="no pods returned by selector"):
        utilization(1, 50, cpu_samples(a=1), [])
    pending = [ready_pod("a", phase=PodPhase.PENDING)]
    with pytest.raises(MetricUnavailable, match="did not receive metrics for targeted pods"):
        utilization(1, 50, cpu_samples(a=1), pending)
    with pytest.raises(MetricUnavailable, match="no metrics returned matched known pods"):
        utilization(1, 50, cpu_samples(other=1), [ready_pod("a")])


def test_plain_metric_missing_pod_counts_as_exactly_the_target_on_scale_down() -> None:
    pods = [ready_pod(n) for n in "abcd"]
    samples = cpu_samples(a=5000, b=5000, c=5000)
    proposal = plain_metric_replicas(4, 10_000, samples, pods, DEFAULT)
    # (5000 * 3 + 10000) / 4 = 6250 -> ratio 0.625 -> ceil(2.5) = 3
    assert (proposal.replicas, proposal.usage_milli) == (3, 5000)


def test_plain_metric_at_exactly_the_target_with_missing_pods_fills_nothing() -> None:
    pods = [ready_pod(n) for n in "abc"]
    proposal = plain_metric_replicas(3, 1000, cpu_samples(a=1000, b=1000), pods, DEFAULT)
    assert proposal.replicas == 3


def test_object_value_counts_running_and_ready_pods() -> None:
    pods = [ready_pod("a"), ready_pod("b", ready=ready_condition("False", NOW)), ready_pod("c")]
    proposal = object_value_replicas(3, 50_000, 10_000, DEFAULT, pods)
    assert proposal.replicas == 10  # ceil(5.0 * 2 ready pods)


def test_object_value_from_zero_ignores_tolerance_and_pods() -> None:
    assert object_value_replicas(0, 1050, 1000, DEFAULT, []).replicas == 2
    assert object_value_replicas(0, 0, 1000, DEFAULT, []).replicas == 0


def test_external_value_sums_series_and_saturates() -> None:
    pods = [ready_pod("a")]
    assert external_value_replicas(1, [300, 300, 400], 500, DEFAULT, pods).usage_milli == 1000
    huge = external_value_replicas(1, [2**62, 2**62, 2**62], 1, DEFAULT, pods)
    assert huge.usage_milli == 2**63 - 1
    assert huge.replicas == 2**31 - 1


def test_average_value_targets_use_status_replicas_and_report_per_pod_usage() -> None:
    proposal = object_average_value_replicas(5, 6000, 2000, DEFAULT)
    assert (proposal.replicas, proposal.usage_milli) == (3, 1200)
    within = external_average_value_replicas(3, [8600], 2900, DEFAULT)
    assert (within.replicas, within.usage_milli, within.held) == (3, 2867, Hold.TOLERANCE)
