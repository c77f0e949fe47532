"""cpu and memory triggers: KEDA's parsing (metricType, removed metadata.type), the HPA
metric specs they become, the HPA's utilization/average arithmetic over pods, and quantities."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from scalers import ScalerConfigError, ScalerEnvironment, ScalerError, ScaleTrigger
from scalers.cpu_memory import (
    CPU,
    MEMORY,
    CPUMemoryConfig,
    PodResources,
    ResourceName,
    resource_usage,
)


def _parse(metric_type: str, resource: str = "cpu", **metadata: str) -> CPUMemoryConfig:
    factory = CPU if resource == "cpu" else MEMORY
    trigger = ScaleTrigger(type=resource, metadata=metadata, metricType=metric_type)
    return factory.parse(trigger, {}, {})


def test_utilization_becomes_a_resource_metric() -> None:
    [spec] = CPU.build(_parse("Utilization", value="50"), ScalerEnvironment()).metric_specs()
    assert spec.to_hpa("so") == {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
    }


def test_average_value_with_container_becomes_a_container_resource_metric() -> None:
    config = _parse("AverageValue", "memory", value="1.5Gi", containerName="app")
    [spec] = MEMORY.build(config, ScalerEnvironment()).metric_specs()
    assert spec.to_hpa("so") == {
        "type": "ContainerResource",
        "containerResource": {
            "name": "memory",
            "container": "app",
            "target": {"type": "AverageValue", "averageValue": "1.5Gi"},
        },
    }
    assert config.average_value_milli == 1536 * 1024 * 1024 * 1000


@pytest.mark.parametrize(
    ("metric_type", "metadata", "parameter"),
    [
        ("", {"value": "50"}, "metricType"),
        ("Value", {"value": "50"}, "metricType"),
        ("Utilization", {}, "value"),
        ("Utilization", {"value": ""}, "value"),
        ("Utilization", {"value": "50%"}, "value"),
        ("Utilization", {"value": "0"}, "value"),
        ("AverageValue", {"value": "lots"}, "value"),
        ("Utilization", {"value": "50", "type": "Utilization"}, "type"),
    ],
)
def test_bad_triggers_name_the_parameter(
    metric_type: str, metadata: dict[str, str], parameter: str
) -> None:
    with pytest.raises(ScalerConfigError) as info:
        _parse(metric_type, **metadata)
    assert info.value.parameter == parameter


async def test_always_active_and_no_external_values() -> None:
    scaler = CPU.build(_parse("Utilization", value="50"), ScalerEnvironment())
    assert await scaler.get_metrics_and_activity("cpu") == ([], True)
    await scaler.close()


def _pod(name: str, usage: dict[str, int], requests: dict[str, int | None]) -> PodResources:
    return PodResources(pod=name, usage_milli=usage, requests_milli=requests)


def test_utilization_is_total_usage_over_total_requests() -> None:
    pods = [
        _pod("a", {"app": 300, "side": 50}, {"app": 500, "side": 100}),
        _pod("b", {"app": 600, "side": 50}, {"app": 500, "side": 100}),
    ]
    usage = resource_usage(pods, resource="cpu")
    assert (usage.utilization_percent, usage.average_value_milli, usage.pods) == (83, 500, 2)
    usage = resource_usage(pods, resource="cpu", container="app")
    assert (usage.utilization_percent, usage.average_value_milli) == (90, 450)


def test_missing_requests_are_errors_as_in_the_hpa() -> None:
    pods = [_pod("a", {"app": 300}, {"app": None})]
    with pytest.raises(ScalerError, match="missing request for cpu in container app of Pod a"):
        resource_usage(pods, resource="cpu")
    with pytest.raises(ScalerError, match="no memory metrics"):
        resource_usage([], resource="memory")


async def test_observe_uses_the_injected_fetcher() -> None:
    calls: list[tuple[str, str | None]] = []

    async def fetch(resource: ResourceName, container: str | None) -> Sequence[PodResources]:
        calls.append((resource, container))
        return [_pod("a", {"app": 250}, {"app": 500})]

    config = _parse("Utilization", value="50", containerName="app")
    scaler = CPU.build(config, ScalerEnvironment(extras={"pod_resources": fetch}))
    usage = await scaler.observe()
    assert usage.utilization_percent == 50
    assert calls == [("cpu", "app")]
    with pytest.raises(ScalerError, match="no pod metrics source"):
        await CPU.build(config, ScalerEnvironment()).observe()
