"""The ``cpu`` and ``memory`` triggers: resource metrics of the target's own pods.

Unlike every other trigger these contribute no External metric: KEDA turns them into an HPA
``Resource`` metric (or ``ContainerResource`` with ``containerName``) whose values come from
metrics.k8s.io ``PodMetrics``, and they are always "active" (so they can never scale a
workload to or from zero by themselves — KEDA issues #2446 and #6057).

Parsing follows KEDA's ``cpu_memory_scaler.go``: ``metricType`` on the trigger is
``Utilization`` (``value`` is an integer percentage) or ``AverageValue`` (``value`` is a
quantity like ``500m`` or ``1Gi``); the old ``metadata.type`` has been removed and is an
error; ``containerName`` selects one container.

What the HPA engine needs from the pods is computed by the pure :func:`resource_usage` (the
arithmetic of the HPA's ``GetResourceUtilizationRatio``); fetching PodMetrics and pod specs
is the controller's: it injects an async fetcher (``env.extras["pod_resources"]``, see
:data:`PodResourcesFetcher`) and :meth:`CPUMemoryScaler.observe` combines the two.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict

from podscaler.api.metrictarget import MetricTargetType
from podscaler.api.quantities import QuantityError, parse_quantity
from scalers.contract import (
    ContainerResourceMetricSpec,
    MetricSpec,
    MetricTarget,
    MetricValue,
    ResourceMetricSpec,
    ScalerConfig,
    ScalerConfigError,
    ScalerEnvironment,
    ScalerError,
    ScalerFactoryBase,
    TriggerInput,
)
from scalers.metadata import MetadataReader

__all__ = [
    "CPU",
    "MEMORY",
    "CPUMemoryConfig",
    "CPUMemoryFactory",
    "CPUMemoryScaler",
    "PodResources",
    "PodResourcesFetcher",
    "ResourceUsage",
    "resource_usage",
]

ResourceName = Literal["cpu", "memory"]

_TYPE_REMOVED = (
    "The 'type' setting is DEPRECATED and is removed in v2.18 - Use 'metricType' instead."
)
_INT32_MAX = 2**31 - 1


class CPUMemoryConfig(ScalerConfig):
    """A validated ``cpu`` or ``memory`` trigger."""

    model_config = ConfigDict(frozen=True)

    resource: ResourceName
    metric_type: MetricTargetType
    value: str
    average_utilization: int | None = None
    #: The AverageValue target in milli-units (millicores; milli-bytes for memory).
    average_value_milli: int | None = None
    container_name: str = ""

    def metric_spec(self) -> MetricSpec:
        """The HPA metric KEDA generates for this trigger."""
        if self.metric_type is MetricTargetType.UTILIZATION:
            target = MetricTarget(
                type=MetricTargetType.UTILIZATION, average_utilization=self.average_utilization
            )
        else:
            milli = self.average_value_milli or 0
            target = MetricTarget(
                type=MetricTargetType.AVERAGE_VALUE,
                average_value=milli / 1000,
                average_value_quantity=self.value,
            )
        if self.container_name:
            return ContainerResourceMetricSpec(
                resource=self.resource, container=self.container_name, target=target
            )
        return ResourceMetricSpec(resource=self.resource, target=target)


class CPUMemoryFactory(ScalerFactoryBase[CPUMemoryConfig]):
    """Parses and builds one of the two resource triggers."""

    config_type = CPUMemoryConfig

    def __init__(self, resource: ResourceName) -> None:
        self.resource: ResourceName = resource
        self.trigger_types: tuple[str, ...] = (resource,)

    def parse_input(self, given: TriggerInput) -> CPUMemoryConfig:
        trigger = given.trigger
        reader = MetadataReader.for_input(given, self.resource)
        reader.removed("type", _TYPE_REMOVED)
        value = reader.required_string("value")
        container = reader.string("containerName", required=False) or ""
        metric_type = trigger.metric_type or ""
        utilization: int | None = None
        average_milli: int | None = None
        if metric_type == MetricTargetType.UTILIZATION:
            if not re.fullmatch(r"[+-]?[0-9]+", value) or not 0 < int(value) <= _INT32_MAX:
                raise ScalerConfigError(
                    f"parameter 'value' {value!r} must be a positive integer percentage "
                    "for metricType Utilization",
                    parameter="value",
                )
            utilization = int(value)
        elif metric_type == MetricTargetType.AVERAGE_VALUE:
            try:
                quantity = parse_quantity(value)
            except QuantityError as exc:
                raise ScalerConfigError(
                    f"parameter 'value' {value!r} must be a quantity (e.g. 500m, 1Gi) "
                    "for metricType AverageValue",
                    parameter="value",
                ) from exc
            if quantity.value <= 0:
                raise ScalerConfigError(
                    f"parameter 'value' {value!r} must be greater than zero", parameter="value"
                )
            average_milli = quantity.milli_value()
        else:
            raise ScalerConfigError(
                f"unknown metric type: {metric_type}, allowed values are 'Utilization' or "
                "'AverageValue'",
                parameter="metricType",
            )
        return CPUMemoryConfig(
            **given.base_fields(reader.unexpected(), reader.known()),
            resource=self.resource,
            metric_type=MetricTargetType(metric_type),
            value=value,
            average_utilization=utilization,
            average_value_milli=average_milli,
            container_name=container,
        )

    def build(self, config: ScalerConfig, env: ScalerEnvironment) -> CPUMemoryScaler:
        checked = self.config_of(config)
        if checked.resource != self.resource:
            raise TypeError(f"{self.resource} cannot build from a {checked.resource} checked")
        return CPUMemoryScaler(checked, env)


# -------------------------------------------------------------------------------- usage


@dataclass(frozen=True)
class PodResources:
    """One pod's usage (from its PodMetrics) and requests (from its spec) for one resource,
    per container, in milli-units (millicores for cpu, milli-bytes for memory, as the HPA
    counts). ``requests_milli`` lists every container of the pod spec, ``None`` where the
    container has no request for the resource; a pod without metrics is not passed in."""

    pod: str
    usage_milli: Mapping[str, int]
    requests_milli: Mapping[str, int | None]


@dataclass(frozen=True)
class ResourceUsage:
    """What the HPA compares with a cpu/memory target."""

    #: ``int(Σ usage * 100 / Σ requests)``, the HPA's ``currentUtilization``.
    utilization_percent: int
    #: ``Σ usage // pods``: the HPA's ``rawAverageValue`` (milli-units).
    average_value_milli: int
    pods: int


#: ``(resource, container or None) -> pods`` — supplied by the controller, which knows the
#: scale target's pods and owns the Kubernetes client.
PodResourcesFetcher = Callable[[ResourceName, str | None], Awaitable[Sequence[PodResources]]]


def resource_usage(
    pods: Sequence[PodResources], *, resource: ResourceName, container: str | None = None
) -> ResourceUsage:
    """Average utilization and value over ``pods``, as the HPA computes them. Pure.

    Requests are summed over all containers, or the named one; a container (of those
    counted) without a request is an error, as in the HPA ("missing request for cpu"). Usage
    of a pod whose metrics lack the container counts as 0.
    """
    usage_total = 0
    requests_total = 0
    for pod in pods:
        for name, request in pod.requests_milli.items():
            if container and name != container:
                continue
            if request is None:
                raise ScalerError(
                    f"missing request for {resource} in container {name} of Pod {pod.pod}"
                )
            requests_total += request
        usage_total += sum(v for k, v in pod.usage_milli.items() if not container or k == container)
    if requests_total == 0:
        raise ScalerError(f"no {resource} metrics returned matched known pods with requests")
    return ResourceUsage(
        utilization_percent=(usage_total * 100) // requests_total,
        average_value_milli=usage_total // len(pods),
        pods=len(pods),
    )


class CPUMemoryScaler:
    """A built ``cpu``/``memory`` trigger."""

    def __init__(self, config: CPUMemoryConfig, env: ScalerEnvironment) -> None:
        self.config = config
        self._fetch: PodResourcesFetcher | None = env.extras.get("pod_resources")

    def metric_specs(self) -> list[MetricSpec]:
        return [self.config.metric_spec()]

    async def get_metrics_and_activity(self, metric_name: str) -> tuple[list[MetricValue], bool]:
        # Values come from metrics.k8s.io through the HPA engine; the trigger is always
        # active, exactly as KEDA's (it can never hold a workload at zero on its own).
        return [], True

    async def observe(self) -> ResourceUsage:
        """Current usage of the target's pods via the injected fetcher."""
        if self._fetch is None:
            raise ScalerError(
                f"{self.config.resource} trigger has no pod metrics source "
                "(ScalerEnvironment.extras['pod_resources'])"
            )
        container = self.config.container_name or None
        pods = await self._fetch(self.config.resource, container)
        return resource_usage(pods, resource=self.config.resource, container=container)

    async def close(self) -> None:
        return None


# -------------------------------------------------------------------------------- quantities

CPU = CPUMemoryFactory("cpu")
MEMORY = CPUMemoryFactory("memory")
