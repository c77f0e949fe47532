"""Evaluating each metric spec against its reading, and combining the proposals.

Upstream's rules for several metrics (``computeReplicasForMetrics``):

- every metric is evaluated on its own; the proposal is the **maximum** over the valid ones;
- a metric that fails is *invalid*; only the first invalid metric's condition is kept;
- if every metric is invalid, or some are invalid **and** the maximum of the rest is below the
  current count, the pass fails: a partial failure may never cause a scale-down (the failed
  metric might have asked for more), but scale-up on the remaining metrics proceeds.

The descriptions (``"cpu resource utilization (percentage of request)"`` …) are upstream's; they
appear in the ``ValidMetricFound`` message and in the rescale reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from podscaler.api.metrictarget import MetricTargetType
from podscaler.engine.hpa import conditions as reasons
from podscaler.engine.hpa.replicas import (
    MetricUnavailable,
    ReplicaProposal,
    external_average_value_replicas,
    external_value_replicas,
    object_average_value_replicas,
    object_value_replicas,
    plain_metric_replicas,
    pod_samples,
    resource_samples,
    resource_utilization_replicas,
)
from podscaler.engine.hpa.types import (
    ExternalMetric,
    ExternalReading,
    HpaSettings,
    MetricReading,
    MetricSpec,
    ObjectMetric,
    ObjectReading,
    PodFacts,
    PodSample,
    PodsMetric,
    PodsReading,
    ReadingError,
    ResourceMetric,
    ResourceReading,
    Tolerances,
)


@dataclass(frozen=True)
class MetricStatus:
    """One entry of ``status.currentMetrics``: the value the calculator reported."""

    source: str
    name: str
    average_utilization: int | None = None
    average_value_milli: int | None = None
    value_milli: int | None = None


@dataclass(frozen=True)
class MetricEvaluation:
    """One metric's outcome: a proposal, or the reason and error upstream would report."""

    description: str
    proposal: ReplicaProposal | None = None
    status: MetricStatus | None = None
    failure_reason: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class CombinedMetrics:
    """All metrics of one pass.

    ``replicas`` is ``None`` when the pass fails; ``failure_reason``/``failure_message`` then
    hold the first invalid metric's ``ScalingActive=False`` condition. A pass can also succeed
    with invalid metrics (scale-up on the rest): ``invalid_count`` says how many.
    """

    evaluations: tuple[MetricEvaluation, ...]
    replicas: int | None
    description: str = ""
    invalid_count: int = 0
    failure_reason: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True)
class PassContext:
    """What every calculator of one pass shares."""

    spec_replicas: int
    status_replicas: int
    pods: tuple[PodFacts, ...]
    tolerances: Tolerances
    settings: HpaSettings
    now_seconds: float


def _selector_text(selector: str) -> str:
    return selector or "<nil>"


def _source_of(spec: MetricSpec) -> str:
    if isinstance(spec, ResourceMetric):
        return "ContainerResource" if spec.container else "Resource"
    if isinstance(spec, PodsMetric):
        return "Pods"
    if isinstance(spec, ObjectMetric):
        return "Object"
    if isinstance(spec, ExternalMetric):
        return "External"
    return spec.source_type


def _failure_reason(spec: MetricSpec) -> str:
    if isinstance(spec, ResourceMetric):
        if spec.container:
            return reasons.FAILED_GET_CONTAINER_RESOURCE_METRIC
        return reasons.FAILED_GET_RESOURCE_METRIC
    if isinstance(spec, PodsMetric):
        return reasons.FAILED_GET_PODS_METRIC
    if isinstance(spec, ObjectMetric):
        return reasons.FAILED_GET_OBJECT_METRIC
    if isinstance(spec, ExternalMetric):
        return reasons.FAILED_GET_EXTERNAL_METRIC
    return reasons.INVALID_METRIC_SOURCE_TYPE


_Reading = TypeVar("_Reading", ResourceReading, PodsReading, ObjectReading, ExternalReading)


def _reading_as(reading: MetricReading, kind: type[_Reading], fetch_error: str) -> _Reading:
    if isinstance(reading, ReadingError):
        raise MetricUnavailable(f"{fetch_error}: {reading.message}")
    if not isinstance(reading, kind):
        raise MetricUnavailable(f"{fetch_error}: no {kind.__name__} was supplied")
    return reading


def _evaluate_resource(
    spec: ResourceMetric, reading: MetricReading, ctx: PassContext
) -> MetricEvaluation:
    source = _source_of(spec)
    kind = "container resource" if spec.container else "resource"
    fetch_error = f"unable to get metrics for resource {spec.resource}"
    target = spec.target
    if target.average_value_milli is not None:
        try:
            samples = _resource_sample_map(spec, reading, fetch_error)
            proposal = plain_metric_replicas(
                ctx.spec_replicas,
                target.average_value_milli,
                samples,
                ctx.pods,
                ctx.tolerances,
                resource=spec.resource,
                cpu_initialization_period_seconds=ctx.settings.cpu_initialization_period_seconds,
                initial_readiness_delay_seconds=ctx.settings.initial_readiness_delay_seconds,
                now_seconds=ctx.now_seconds,
            )
        except MetricUnavailable as exc:
            raise MetricUnavailable(f"failed to get {spec.resource} usage: {exc}") from exc
        return MetricEvaluation(
            description=f"{spec.resource} {kind}",
            proposal=proposal,
            status=MetricStatus(source, spec.resource, average_value_milli=proposal.usage_milli),
        )
    if target.average_utilization is None:
        raise MetricUnavailable(
            "invalid resource metric source: neither an average utilization target "
            "nor an average value (usage) target was set"
        )
    try:
        samples = _resource_sample_map(spec, reading, fetch_error)
        proposal = resource_utilization_replicas(
            ctx.spec_replicas,
            target.average_utilization,
            spec.resource,
            spec.container,
            samples,
            ctx.pods,
            ctx.tolerances,
            cpu_initialization_period_seconds=ctx.settings.cpu_initialization_period_seconds,
            initial_readiness_delay_seconds=ctx.settings.initial_readiness_delay_seconds,
            now_seconds=ctx.now_seconds,
        )
    except MetricUnavailable as exc:
        raise MetricUnavailable(f"failed to get {spec.resource} utilization: {exc}") from exc
    return MetricEvaluation(
        description=f"{spec.resource} {kind} utilization (percentage of request)",
        proposal=proposal,
        status=MetricStatus(
            source,
            spec.resource,
            average_utilization=proposal.utilization_percent,
            average_value_milli=proposal.usage_milli,
        ),
    )


def _resource_sample_map(
    spec: ResourceMetric, reading: MetricReading, fetch_error: str
) -> dict[str, PodSample]:
    resource_reading = _reading_as(reading, ResourceReading, fetch_error)
    return resource_samples(resource_reading.pods, spec.resource, spec.container)


def _evaluate_pods(spec: PodsMetric, reading: MetricReading, ctx: PassContext) -> MetricEvaluation:
    if spec.target.average_value_milli is None:
        raise MetricUnavailable("invalid pods metric source: no average value target was set")
    fetch_error = f"unable to get metric {spec.metric_name}"
    samples = pod_samples(_reading_as(reading, PodsReading, fetch_error).samples, spec.metric_name)
    proposal = plain_metric_replicas(
        ctx.spec_replicas, spec.target.average_value_milli, samples, ctx.pods, ctx.tolerances
    )
    return MetricEvaluation(
        description=f"pods metric {spec.metric_name}",
        proposal=proposal,
        status=MetricStatus("Pods", spec.metric_name, average_value_milli=proposal.usage_milli),
    )


def _evaluate_object(
    spec: ObjectMetric, reading: MetricReading, ctx: PassContext
) -> MetricEvaluation:
    ref = spec.described_object
    fetch_error = f"unable to get metric {spec.metric_name} on {ref.kind} {ref.name}"
    target = spec.target
    if target.type == MetricTargetType.VALUE and target.value_milli is not None:
        value = _reading_as(reading, ObjectReading, fetch_error).value_milli
        proposal = object_value_replicas(
            ctx.spec_replicas, value, target.value_milli, ctx.tolerances, ctx.pods
        )
        return MetricEvaluation(
            description=f"{ref.kind} metric {spec.metric_name}",
            proposal=proposal,
            status=MetricStatus("Object", spec.metric_name, value_milli=proposal.usage_milli),
        )
    if target.type == MetricTargetType.AVERAGE_VALUE and target.average_value_milli is not None:
        value = _reading_as(reading, ObjectReading, fetch_error).value_milli
        proposal = object_average_value_replicas(
            ctx.status_replicas, value, target.average_value_milli, ctx.tolerances
        )
        return MetricEvaluation(
            # Upstream really does call an Object AverageValue metric "external metric".
            description=f"external metric {spec.metric_name}({_selector_text(spec.selector)})",
            proposal=proposal,
            status=MetricStatus(
                "Object", spec.metric_name, average_value_milli=proposal.usage_milli
            ),
        )
    raise MetricUnavailable(
        "invalid object metric source: neither a value target nor an average value target was set"
    )


def _external_values(reading: MetricReading, fetch_error: str) -> tuple[int, ...]:
    values = _reading_as(reading, ExternalReading, fetch_error).values_milli
    if not values:
        raise MetricUnavailable(f"{fetch_error}: no metrics returned from external metrics API")
    return values


def _evaluate_external(
    spec: ExternalMetric, reading: MetricReading, ctx: PassContext
) -> MetricEvaluation:
    description = f"external metric {spec.metric_name}({_selector_text(spec.selector)})"
    fetch_error = f"unable to get external metric {spec.metric_name}"
    target = spec.target
    if target.average_value_milli is not None:
        values = _external_values(reading, fetch_error)
        proposal = external_average_value_replicas(
            ctx.status_replicas, values, target.average_value_milli, ctx.tolerances
        )
        status = MetricStatus(
            "External", spec.metric_name, average_value_milli=proposal.usage_milli
        )
        return MetricEvaluation(description, proposal, status)
    if target.value_milli is not None:
        values = _external_values(reading, fetch_error)
        proposal = external_value_replicas(
            ctx.spec_replicas, values, target.value_milli, ctx.tolerances, ctx.pods
        )
        status = MetricStatus("External", spec.metric_name, value_milli=proposal.usage_milli)
        return MetricEvaluation(description, proposal, status)
    raise MetricUnavailable(
        "invalid external metric source: neither a value target nor an average value target was set"
    )


def evaluate_metric(spec: MetricSpec, reading: MetricReading, ctx: PassContext) -> MetricEvaluation:
    """One metric's proposal, or its failure as upstream would report it."""
    try:
        if isinstance(spec, ResourceMetric):
            return _evaluate_resource(spec, reading, ctx)
        if isinstance(spec, PodsMetric):
            return _evaluate_pods(spec, reading, ctx)
        if isinstance(spec, ObjectMetric):
            return _evaluate_object(spec, reading, ctx)
        if isinstance(spec, ExternalMetric):
            return _evaluate_external(spec, reading, ctx)
        raise MetricUnavailable(f'unknown metric source type "{spec.source_type}"')
    except MetricUnavailable as exc:
        return MetricEvaluation(
            description="", failure_reason=_failure_reason(spec), error=str(exc)
        )


def combine_metrics(
    specs: Sequence[MetricSpec],
    readings: Sequence[MetricReading],
    ctx: PassContext,
) -> CombinedMetrics:
    """Evaluate every metric and take the maximum, with upstream's partial-failure rule."""
    evaluations: list[MetricEvaluation] = []
    replicas = 0
    description = ""
    invalid = 0
    first_failure: MetricEvaluation | None = None
    for index, spec in enumerate(specs):
        reading: MetricReading = (
            readings[index] if index < len(readings) else ReadingError("no reading supplied")
        )
        evaluation = evaluate_metric(spec, reading, ctx)
        evaluations.append(evaluation)
        if evaluation.proposal is None:
            invalid += 1
            first_failure = first_failure or evaluation
            continue
        if replicas == 0 or evaluation.proposal.replicas > replicas:
            replicas = evaluation.proposal.replicas
            description = evaluation.description
    if first_failure is not None and (invalid >= len(specs) or replicas < ctx.spec_replicas):
        return CombinedMetrics(
            tuple(evaluations),
            None,
            invalid_count=invalid,
            failure_reason=first_failure.failure_reason,
            failure_message=reasons.unable_to_compute_message(first_failure.error or ""),
        )
    return CombinedMetrics(tuple(evaluations), max(0, replicas), description, invalid)
