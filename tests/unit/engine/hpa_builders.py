"""Small builders for HPA engine tests: ready pods, cpu readings and specs in one line each."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from podscaler.api.conditions import Condition, ConditionStatus
from podscaler.api.metrictarget import MetricTargetType
from podscaler.engine.hpa import (
    ContainerRequests,
    HpaSpec,
    MetricTarget,
    PodFacts,
    PodPhase,
    PodResourceUsage,
    PodSample,
    ResourceMetric,
    ResourceReading,
)

NOW = 10_000.0
#: Long enough ago that no pod is still inside the cpu initialization period.
LONG_AGO = NOW - 3_600.0


def ready_condition(status: str, at_seconds: float) -> Condition:
    """A pod's Ready condition with *status* ("True", "False", "Unknown") since *at_seconds*."""
    return Condition("Ready", ConditionStatus(status), last_transition_seconds=at_seconds)


def ready_pod(name: str, cpu_request_milli: int = 1000, **changes: Any) -> PodFacts:
    """A Running, Ready pod started an hour ago, with one container requesting cpu."""
    pod = PodFacts(
        name=name,
        phase=PodPhase.RUNNING,
        ready=ready_condition("True", LONG_AGO),
        start_time_seconds=LONG_AGO,
        containers=(ContainerRequests("app", {"cpu": cpu_request_milli}),),
    )
    return replace(pod, **changes)


def cpu_samples(**usage_milli: int) -> dict[str, PodSample]:
    """Per-pod cpu samples taken now over a 60 s window: ``cpu_samples(a=500, b=700)``."""
    return {pod: PodSample(pod, value, NOW, 60.0) for pod, value in usage_milli.items()}


def cpu_reading(**usage_milli: int) -> ResourceReading:
    return ResourceReading(
        tuple(
            PodResourceUsage(pod, {"app": {"cpu": value}}, NOW, 60.0)
            for pod, value in usage_milli.items()
        )
    )


def cpu_utilization(percent: int) -> ResourceMetric:
    return ResourceMetric(
        "cpu", MetricTarget(MetricTargetType.UTILIZATION, average_utilization=percent)
    )


def cpu_spec(
    percent: int = 50, min_replicas: int = 1, max_replicas: int = 10, **changes: Any
) -> HpaSpec:
    return replace(HpaSpec(max_replicas, min_replicas, (cpu_utilization(percent),)), **changes)
