"""Per-metric replica calculators and the pod grouping they share (upstream ``replica_calculator``).

Each calculator turns one metric's samples into a replica proposal the way kube-controller-manager
does, including the parts a naive port gets wrong:

- utilization is an **integer** percent (``int(Σusage*100 / Σrequest)``), and the ratio is that
  integer over the target, so 495/2000 is 24 %, not 24.75 %;
- pods that are deleted or terminal are ignored; pending pods, and for CPU pods still warming up,
  are *unready*; pods without a sample are *missing*;
- missing and unready pods get a second pass that assumes the least helpful value for the
  direction being proposed (missing pods sit at the target on a scale-down and at zero on a
  scale-up; unready pods are zero, and only on a scale-up), and that second pass may never turn
  a scale-up into a scale-down or the other way round;
- Object and External ``Value`` targets count Running-and-Ready pods, ``AverageValue`` targets
  use the scale's ``status.replicas`` and ignore readiness, and at zero current replicas a
  ``Value`` target gives ``ceil(ratio)`` without tolerance (scale from zero).

Calculators raise :class:`MetricUnavailable` where upstream returns an error; the messages are
upstream's, because they end up in the ``ScalingActive`` condition users read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from podscaler.api.conditions import ConditionStatus
from podscaler.engine.hpa.types import (
    PodFacts,
    PodPhase,
    PodResourceUsage,
    PodSample,
    Tolerances,
)

MAX_INT32 = 2**31 - 1
MIN_INT32 = -(2**31)
MAX_INT64 = 2**63 - 1

CPU = "cpu"


class MetricUnavailable(Exception):
    """A metric gave no usable proposal; the message is the one upstream reports."""


class Hold(StrEnum):
    """Why a calculator kept the current replica count although the ratio was not 1.0."""

    TOLERANCE = "tolerance"
    #: The second pass (missing/unready pods filled in) would reverse the direction.
    DIRECTION = "direction"


@dataclass(frozen=True)
class ReplicaProposal:
    """One metric's proposal.

    ``usage_milli`` is what upstream reports in ``status.currentMetrics``: the raw average of
    ready pods (Utilization), the truncated average (AverageValue of pods), the summed value
    (Object/External Value) or the per-pod value (Object/External AverageValue).
    ``usage_ratio`` is the first-pass ratio to the target.
    """

    replicas: int
    usage_milli: int
    usage_ratio: float
    utilization_percent: int | None = None
    held: Hold | None = None


@dataclass(frozen=True)
class PodGroups:
    ready_count: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


# --------------------------------------------------------------------------------------------
# Go arithmetic


def _trunc_div(numerator: int, denominator: int) -> int:
    """Go's integer division: truncates toward zero (Python's ``//`` floors)."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator >= 0) else -quotient


def _float_div(numerator: float, denominator: float) -> float:
    """IEEE division as Go does it: dividing by zero gives ±Inf or NaN instead of raising."""
    numerator, denominator = float(numerator), float(denominator)
    if denominator == 0.0:
        if numerator == 0.0 or math.isnan(numerator):
            return math.nan
        return math.copysign(math.inf, numerator) * math.copysign(1.0, denominator)
    return numerator / denominator


def _to_int32(value: float) -> int:
    """``int32(x)`` for a float, saturating where Go's conversion would be undefined."""
    if math.isnan(value):
        return 0
    if value >= MAX_INT32:
        return MAX_INT32
    if value <= MIN_INT32:
        return MIN_INT32
    return int(value)


def _ceil_int32(value: float) -> int:
    if math.isnan(value) or math.isinf(value):
        return _to_int32(value)
    return _to_int32(math.ceil(value))


# --------------------------------------------------------------------------------------------
# Samples and pods


def resource_samples(
    usages: Iterable[PodResourceUsage], resource: str, container: str | None
) -> dict[str, PodSample]:
    """Per-pod values of one resource, as upstream's resource metrics client builds them.

    A pod's value is the sum over its containers; if any container lacks the resource, or the pod
    reports no container at all, the whole pod is left out (it becomes *missing*). With a named
    container only that container counts, and pods without it are left out.
    """
    usages = tuple(usages)
    if not usages:
        raise MetricUnavailable(
            f"unable to get metrics for resource {resource}: "
            "no metrics returned from resource metrics API"
        )
    samples: dict[str, PodSample] = {}
    for usage in usages:
        value: int | None
        if container:
            value = usage.containers.get(container, {}).get(resource)
        elif not usage.containers:
            value = None
        else:
            value = 0
            for per_resource in usage.containers.values():
                if resource not in per_resource:
                    value = None
                    break
                value += per_resource[resource]
        if value is None:
            continue
        samples[usage.pod] = PodSample(
            usage.pod, value, usage.timestamp_seconds, usage.window_seconds
        )
    return samples


def pod_samples(samples: Iterable[PodSample], metric_name: str) -> dict[str, PodSample]:
    """Per-pod values of a Pods metric by pod name; an empty answer is an error upstream."""
    by_pod = {sample.pod: sample for sample in samples}
    if not by_pod:
        raise MetricUnavailable(
            f"unable to get metric {metric_name}: no metrics returned from custom metrics API"
        )
    return by_pod


def group_pods(
    pods: Sequence[PodFacts],
    samples: Mapping[str, PodSample],
    resource: str | None,
    *,
    cpu_initialization_period_seconds: float,
    initial_readiness_delay_seconds: float,
    now_seconds: float,
) -> PodGroups:
    """Sort pods into ready, unready, missing and ignored, in upstream's order of checks.

    Readiness beyond ``Pending`` only matters for CPU: a freshly started pod burns CPU while
    warming up, so within the initialization period its sample counts only once it is ready
    and a full metric window has passed since it became ready. After that period, a pod counts
    as unready only if it never became ready after the initial readiness delay; a pod that was
    ready and later turned unready still counts as ready.
    """
    ready_count = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        if pod.deleting or pod.phase in (PodPhase.FAILED, PodPhase.SUCCEEDED):
            ignored.add(pod.name)
            continue
        if pod.phase == PodPhase.PENDING:
            unready.add(pod.name)
            continue
        sample = samples.get(pod.name)
        if sample is None:
            missing.add(pod.name)
            continue
        if resource == CPU and _cpu_unready(
            pod,
            sample,
            cpu_initialization_period_seconds,
            initial_readiness_delay_seconds,
            now_seconds,
        ):
            unready.add(pod.name)
            continue
        ready_count += 1
    return PodGroups(ready_count, frozenset(unready), frozenset(missing), frozenset(ignored))


def _cpu_unready(
    pod: PodFacts,
    sample: PodSample,
    cpu_initialization_period_seconds: float,
    initial_readiness_delay_seconds: float,
    now_seconds: float,
) -> bool:
    ready = pod.ready
    start = pod.start_time_seconds
    if ready is None or start is None:
        return True
    not_ready = ready.status is ConditionStatus.FALSE
    if start + cpu_initialization_period_seconds > now_seconds:
        return (
            not_ready or sample.timestamp_seconds < pod.ready_since_seconds + sample.window_seconds
        )
    return not_ready and start + initial_readiness_delay_seconds > pod.ready_since_seconds


def pod_requests_milli(
    pods: Sequence[PodFacts], resource: str, container: str | None
) -> dict[str, int]:
    """Each listed pod's request for ``resource`` (ignored pods included, as upstream does).

    Pod-level requests win when set and no container is named; otherwise the containers given
    in :class:`PodFacts` are summed, or only the named one. A considered container without a
    request, or a named container that is absent, is an error.
    """
    requests: dict[str, int] = {}
    for pod in pods:
        if not container and pod.pod_requests_milli is not None:
            if resource not in pod.pod_requests_milli:
                raise MetricUnavailable(
                    f"missing pod-level request for {resource} in Pod {pod.name}"
                )
            requests[pod.name] = pod.pod_requests_milli[resource]
            continue
        total = 0
        found = False
        for each in pod.containers:
            if container and each.name != container:
                continue
            if resource not in each.requests_milli:
                raise MetricUnavailable(
                    f"missing request for {resource} in container {each.name} of Pod {pod.name}"
                )
            total += each.requests_milli[resource]
            if container:
                found = True
                break
        if container and not found:
            raise MetricUnavailable(f"container {container} not found in Pod {pod.name}")
        requests[pod.name] = total
    return requests


# --------------------------------------------------------------------------------------------
# Ratios


@dataclass(frozen=True)
class _Utilization:
    ratio: float
    percent: int
    raw_average_milli: int


def _utilization(
    values: Mapping[str, int], requests: Mapping[str, int], target_percent: int
) -> _Utilization:
    """Utilization over the pods that have a request; samples of unknown pods are skipped."""
    metrics_total = 0
    requests_total = 0
    entries = 0
    for pod, value in values.items():
        if pod not in requests:
            continue
        metrics_total += value
        requests_total += requests[pod]
        entries += 1
    if requests_total == 0:
        raise MetricUnavailable("no metrics returned matched known pods")
    percent = _to_int32(_trunc_div(metrics_total * 100, requests_total))
    return _Utilization(
        ratio=_float_div(percent, target_percent),
        percent=percent,
        raw_average_milli=_trunc_div(metrics_total, entries),
    )


def _average_usage(values: Mapping[str, int], target_milli: int) -> tuple[float, int]:
    usage = _trunc_div(sum(values.values()), len(values))
    return _float_div(usage, target_milli), usage


# --------------------------------------------------------------------------------------------
# The two-pass calculation shared by Utilization and AverageValue of pods


def _usable_values(
    pods: Sequence[PodFacts],
    samples: Mapping[str, PodSample],
    resource: str | None,
    cpu_initialization_period_seconds: float,
    initial_readiness_delay_seconds: float,
    now_seconds: float,
) -> tuple[PodGroups, dict[str, int]]:
    if not pods:
        raise MetricUnavailable("no pods returned by selector while calculating replica count")
    groups = group_pods(
        pods,
        samples,
        resource,
        cpu_initialization_period_seconds=cpu_initialization_period_seconds,
        initial_readiness_delay_seconds=initial_readiness_delay_seconds,
        now_seconds=now_seconds,
    )
    values = {
        pod: sample.value_milli
        for pod, sample in samples.items()
        if pod not in groups.ignored and pod not in groups.unready
    }
    if not values:
        raise MetricUnavailable("did not receive metrics for targeted pods (pods might be unready)")
    return groups, values


def _second_pass(
    current_replicas: int,
    ratio: float,
    new_ratio: float,
    metric_count: int,
    tolerances: Tolerances,
) -> tuple[int, Hold | None]:
    """Upstream's no-flip rule once missing and unready pods have been filled in."""
    if tolerances.within(new_ratio):
        return current_replicas, Hold.TOLERANCE
    if (ratio < 1.0 and new_ratio > 1.0) or (ratio > 1.0 and new_ratio < 1.0):
        return current_replicas, Hold.DIRECTION
    replicas = _ceil_int32(new_ratio * metric_count)
    if (new_ratio < 1.0 and replicas > current_replicas) or (
        new_ratio > 1.0 and replicas < current_replicas
    ):
        return current_replicas, Hold.DIRECTION
    return replicas, None


def resource_utilization_replicas(
    current_replicas: int,
    target_utilization_percent: int,
    resource: str,
    container: str | None,
    samples: Mapping[str, PodSample],
    pods: Sequence[PodFacts],
    tolerances: Tolerances,
    *,
    cpu_initialization_period_seconds: float,
    initial_readiness_delay_seconds: float,
    now_seconds: float,
) -> ReplicaProposal:
    """Resource/ContainerResource with a Utilization target (upstream ``GetResourceReplicas``)."""
    groups, values = _usable_values(
        pods,
        samples,
        resource,
        cpu_initialization_period_seconds,
        initial_readiness_delay_seconds,
        now_seconds,
    )
    requests = pod_requests_milli(pods, resource, container)
    first = _utilization(values, requests, target_utilization_percent)

    def proposal(replicas: int, held: Hold | None) -> ReplicaProposal:
        return ReplicaProposal(replicas, first.raw_average_milli, first.ratio, first.percent, held)

    scale_up_with_unready = bool(groups.unready) and first.ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.within(first.ratio):
            return proposal(current_replicas, Hold.TOLERANCE)
        return proposal(_ceil_int32(first.ratio * groups.ready_count), None)

    if groups.missing:
        if first.ratio < 1.0:
            # Counted as at the target, but never above the whole request.
            fallback_percent = max(100, target_utilization_percent)
            for pod in groups.missing:
                values[pod] = _trunc_div(requests[pod] * fallback_percent, 100)
        elif first.ratio > 1.0:
            for pod in groups.missing:
                values[pod] = 0
    if scale_up_with_unready:
        for pod in groups.unready:
            values[pod] = 0

    second = _utilization(values, requests, target_utilization_percent)
    replicas, held = _second_pass(
        current_replicas, first.ratio, second.ratio, len(values), tolerances
    )
    return proposal(replicas, held)


def plain_metric_replicas(
    current_replicas: int,
    target_average_milli: int,
    samples: Mapping[str, PodSample],
    pods: Sequence[PodFacts],
    tolerances: Tolerances,
    *,
    resource: str | None = None,
    cpu_initialization_period_seconds: float = 0.0,
    initial_readiness_delay_seconds: float = 0.0,
    now_seconds: float = 0.0,
) -> ReplicaProposal:
    """Pods metrics, and Resource metrics with an AverageValue target (``calcPlainMetricReplicas``).

    ``resource`` is set only for Resource metrics; CPU readiness rules then apply. A missing pod
    on a scale-down counts as exactly the target (not a request).
    """
    groups, values = _usable_values(
        pods,
        samples,
        resource,
        cpu_initialization_period_seconds,
        initial_readiness_delay_seconds,
        now_seconds,
    )
    ratio, usage = _average_usage(values, target_average_milli)

    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.within(ratio):
            return ReplicaProposal(current_replicas, usage, ratio, held=Hold.TOLERANCE)
        return ReplicaProposal(_ceil_int32(ratio * groups.ready_count), usage, ratio)

    if groups.missing:
        if ratio < 1.0:
            for pod in groups.missing:
                values[pod] = target_average_milli
        elif ratio > 1.0:
            for pod in groups.missing:
                values[pod] = 0
    if scale_up_with_unready:
        for pod in groups.unready:
            values[pod] = 0

    new_ratio, _ = _average_usage(values, target_average_milli)
    replicas, held = _second_pass(current_replicas, ratio, new_ratio, len(values), tolerances)
    return ReplicaProposal(replicas, usage, ratio, held=held)


# --------------------------------------------------------------------------------------------
# Object and External metrics


def ready_pod_count(pods: Sequence[PodFacts]) -> int:
    """Running pods whose Ready condition is True (no CPU warm-up logic here)."""
    if not pods:
        raise MetricUnavailable(
            "unable to calculate ready pods: "
            "no pods returned by selector while calculating replica count"
        )
    return sum(1 for pod in pods if pod.phase == PodPhase.RUNNING and pod.is_ready)


def _usage_ratio_replicas(
    current_replicas: int, ratio: float, tolerances: Tolerances, pods: Sequence[PodFacts]
) -> tuple[int, Hold | None]:
    if current_replicas == 0:
        # Scale from zero: neither tolerance nor readiness applies.
        return _ceil_int32(ratio), None
    if tolerances.within(ratio):
        return current_replicas, Hold.TOLERANCE
    wanted = ratio * ready_pod_count(pods)
    return (MAX_INT32 if wanted > MAX_INT32 else _ceil_int32(wanted)), None


def object_value_replicas(
    current_replicas: int,
    value_milli: int,
    target_value_milli: int,
    tolerances: Tolerances,
    pods: Sequence[PodFacts],
) -> ReplicaProposal:
    """Object metric with a Value target (``GetObjectMetricReplicas``)."""
    ratio = _float_div(value_milli, target_value_milli)
    replicas, held = _usage_ratio_replicas(current_replicas, ratio, tolerances, pods)
    return ReplicaProposal(replicas, value_milli, ratio, held=held)


def sum_external_values(values_milli: Iterable[int]) -> int:
    """The sum of all returned series for a Value target, capped at MaxInt64 on overflow."""
    total = 0
    for value in values_milli:
        if value > 0 and total > MAX_INT64 - value:
            return MAX_INT64
        total += value
    return total


def _sum_external_average_values(values_milli: Iterable[int]) -> int:
    """The sum for an AverageValue target: upstream treats any negative running sum as an
    int64 overflow and answers MaxInt64 (so negative series saturate too)."""
    total = 0
    for value in values_milli:
        total += value
        if total < 0 or total > MAX_INT64:
            return MAX_INT64
    return total


def external_value_replicas(
    current_replicas: int,
    values_milli: Sequence[int],
    target_value_milli: int,
    tolerances: Tolerances,
    pods: Sequence[PodFacts],
) -> ReplicaProposal:
    """External metric with a Value target (``GetExternalMetricReplicas``)."""
    return object_value_replicas(
        current_replicas, sum_external_values(values_milli), target_value_milli, tolerances, pods
    )


def _per_pod_usage(usage_milli: int, status_replicas: int) -> int:
    if float(usage_milli) >= float(MAX_INT64):
        return MAX_INT64
    if status_replicas == 0:
        return 0
    per_pod = math.ceil(float(usage_milli) / float(status_replicas))
    return min(per_pod, MAX_INT64)


def object_average_value_replicas(
    status_replicas: int,
    value_milli: int,
    target_average_milli: int,
    tolerances: Tolerances,
) -> ReplicaProposal:
    """Object metric with an AverageValue target (``GetObjectPerPodMetricReplicas``).

    Upstream divides by ``scale.status.replicas`` (pods that exist, ready or not) rather than
    by ready pods, and proposes ``ceil(value / target)`` outright when outside tolerance.
    """
    ratio = _float_div(value_milli, float(target_average_milli) * float(status_replicas))
    replicas: int = status_replicas
    held: Hold | None = Hold.TOLERANCE
    if not tolerances.within(ratio):
        replicas, held = _ceil_int32(_float_div(value_milli, target_average_milli)), None
    return ReplicaProposal(replicas, _per_pod_usage(value_milli, status_replicas), ratio, held=held)


def external_average_value_replicas(
    status_replicas: int,
    values_milli: Sequence[int],
    target_average_milli: int,
    tolerances: Tolerances,
) -> ReplicaProposal:
    """External metric with an AverageValue target (``GetExternalPerPodMetricReplicas``)."""
    return object_average_value_replicas(
        status_replicas,
        _sum_external_average_values(values_milli),
        target_average_milli,
        tolerances,
    )
