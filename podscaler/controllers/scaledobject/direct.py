"""Direct mode's bridge from the KEDA rules to the HPA calculation. Pure.

``engine.keda.decide`` says *which* metrics the 1..N calculation must use this poll
(:class:`~podscaler.engine.keda.HpaInputs`: each metric's value, target and type, fallback
values already substituted, min/max, and whether a direction is paused). This module turns that
into ``engine.hpa``'s :class:`HpaSpec` and readings, exactly as the HPA KEDA generates would
see them through the external metrics API: values in milli-units (``GenerateMetricInMili``),
External ``AverageValue``/``Value`` targets, and Resource/ContainerResource metrics for
cpu/memory read from metrics.k8s.io.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from podscaler.api.hpabehavior import Behavior
from podscaler.api.meta import SCALED_OBJECT_NAME_LABEL
from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.selectortext import go_label_selector
from podscaler.engine import hpa
from podscaler.engine.keda import HpaInputs
from podscaler.engine.keda.modifiers import MAX_COMPOSITE_VALUE
from scalers.contract import ContainerResourceMetricSpec, ResourceMetricSpec

__all__ = ["hpa_spec_and_readings"]

ResourceSpec = ResourceMetricSpec | ContainerResourceMetricSpec


def _milli(value: float) -> int:
    return round(value * 1000)


def _fits(value: float) -> bool:
    """A finite value the HPA's int64 milli-quantity can hold."""
    return math.isfinite(value) and abs(value) <= MAX_COMPOSITE_VALUE


def _resource_metric(spec: ResourceSpec) -> hpa.ResourceMetric:
    container = spec.container if isinstance(spec, ContainerResourceMetricSpec) else None
    if spec.target.type is MetricTargetType.UTILIZATION:
        target = hpa.MetricTarget(
            MetricTargetType.UTILIZATION, average_utilization=spec.target.average_utilization
        )
    else:
        target = hpa.MetricTarget(
            MetricTargetType.AVERAGE_VALUE,
            average_value_milli=_milli(spec.target.average_value or 0.0),
        )
    return hpa.ResourceMetric(spec.resource, target, container)


def hpa_spec_and_readings(
    inputs: HpaInputs,
    resource_specs: Mapping[str, ResourceSpec],
    behavior: Behavior | None,
    resource_reading: hpa.MetricReading | None,
    *,
    scaled_object: str = "",
) -> tuple[hpa.HpaSpec, tuple[hpa.MetricReading, ...]]:
    """The HPA spec and one reading per metric (index for index).

    *resource_specs* maps the engine's key of each cpu/memory trigger to its metric spec;
    *resource_reading* is the PodMetrics of the target's pods (or the error reading them).
    External metrics get the selector the generated HPA would carry (the ScaledObject's name
    label), so the engine's descriptions and Events name it as in mode hpa instead of
    ``<nil>``.
    """
    selector = (
        go_label_selector({"matchLabels": {SCALED_OBJECT_NAME_LABEL.keda: scaled_object}})
        if scaled_object
        else ""
    )
    metrics: list[hpa.MetricSpec] = []
    readings: list[hpa.MetricReading] = []
    for metric in inputs.metrics:
        resource = resource_specs.get(metric.metric_name)
        if resource is not None:
            metrics.append(_resource_metric(resource))
            readings.append(
                resource_reading
                if resource_reading is not None
                else hpa.ReadingError("no pod metrics were read")
            )
            continue
        target = metric.target if metric.target is not None else 0.0
        if metric.metric_type is MetricTargetType.VALUE:
            metric_target = hpa.MetricTarget(MetricTargetType.VALUE, value_milli=_milli(target))
        else:
            metric_target = hpa.MetricTarget(
                MetricTargetType.AVERAGE_VALUE, average_value_milli=_milli(target)
            )
        metrics.append(hpa.ExternalMetric(metric.metric_name, metric_target, selector))
        if metric.value is not None and not _fits(metric.value):
            # A scaler or formula that let ±Inf/NaN through: an unavailable metric, never an
            # OverflowError on every poll (``round(inf)``).
            readings.append(
                hpa.ReadingError(
                    f"metric {metric.metric_name} is not a usable number: {metric.value!r}"
                )
            )
        elif metric.value is not None and metric.target is not None and metric.target > 0:
            readings.append(hpa.ExternalReading((_milli(metric.value),)))
        elif metric.target is None or metric.target <= 0:
            readings.append(hpa.ReadingError(f"metric {metric.metric_name} has no usable target"))
        else:
            readings.append(
                hpa.ReadingError(
                    f"unable to get external metric {metric.metric_name}: "
                    f"{metric.error or 'no value'}"
                )
            )
    spec = hpa.HpaSpec(
        max_replicas=inputs.max_replicas,
        min_replicas=inputs.min_replicas,
        metrics=tuple(metrics),
        behavior=behavior,
    )
    return spec, tuple(readings)
