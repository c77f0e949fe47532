"""The ScaledObject controller as the metrics API's source: live reads, cache, fallback, errors.

A running controller, a fake Prometheus *server*, the embedded API server; reads go through
:class:`ControllerMetricsSource` exactly as the metrics API calls it. ``PromServer.queries``
counts how often the source was hit, which is what tells a live read from a cached one.
"""

from __future__ import annotations

from typing import Any

import pytest

from podscaler.api.externalmetrics import (
    MetricNotFound,
    MetricUnavailable,
    ScaledObjectNotFound,
)
from podscaler.controllers.scaledobject import ScaledObjectController
from podscaler.controllers.scaledobject.metricsource import ControllerMetricsSource
from podscaler.kube.clients import Kube
from tests.integration.controllers.objects import (
    create_deployment,
    create_so,
    deployment,
    prometheus_trigger,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer


async def _so(
    kube: Kube,
    controller: ScaledObjectController,
    prom: PromServer,
    name: str,
    trigger: dict[str, Any] | None = None,
    **spec: Any,
) -> None:
    await create_deployment(kube, deployment(name, 2))
    trigger = trigger or prometheus_trigger(prom.url, threshold="10", activation="0")
    # A long polling interval: after the first poll, every query comes from the API's reads.
    body = scaled_object(name, name, [trigger], pollingInterval=300, **spec)
    await create_so(kube, body)

    async def polled() -> bool:
        ctx = controller.objects.get(("default", name))
        return ctx is not None and ctx.last_poll is not None

    await wait_for(polled, 10)


async def test_live_reads_query_the_source_every_time(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    prom.value = 7
    await _so(kube, controller, prom, "live")
    source = ControllerMetricsSource(controller)
    before = prom.queries
    (sample,) = await source.external_metric("default", "live", "s0-prometheus")
    assert (sample.metric_name, sample.value) == ("s0-prometheus", 7)
    prom.value = 12.5
    (sample,) = await source.external_metric("default", "live", "s0-prometheus")
    assert sample.value == 12.5
    assert prom.queries == before + 2


async def test_use_cached_metrics_answers_the_last_poll(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    prom.value = 9
    trigger = {**prometheus_trigger(prom.url), "useCachedMetrics": True}
    await _so(kube, controller, prom, "cached", trigger)
    ctx = controller.objects[("default", "cached")]
    source = ControllerMetricsSource(controller)
    before = prom.queries
    prom.value = 100  # the source moved on; the cache holds the poll's value
    for _ in range(3):
        (sample,) = await source.external_metric("default", "cached", "s0-prometheus")
        assert sample.value == 9
        assert sample.timestamp == ctx.last_poll_at
    assert prom.queries == before


async def test_failures_fall_back_after_the_threshold_or_are_unavailable(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    prom.value = 3
    await _so(kube, controller, prom, "fb", fallback={"failureThreshold": 1, "replicas": 4})
    await _so(kube, controller, prom, "nofb")
    source = ControllerMetricsSource(controller)
    prom.status = 500
    # Failure 1 is within the threshold: no value yet (a 503 for the HPA).
    with pytest.raises(
        MetricUnavailable, match="trigger s0-prometheus of ScaledObject default/fb failed"
    ) as first:
        await source.external_metric("default", "fb", "s0-prometheus")
    # The error itself (the server's address, its answer) stays in status and Events.
    assert prom.url.removeprefix("http://") not in str(first.value)
    assert "500" not in str(first.value)
    # Failure 2 exceeds it: the value that makes the HPA land on 4 replicas (4 x target 10).
    (sample,) = await source.external_metric("default", "fb", "s0-prometheus")
    assert sample.value == 40
    health = controller.objects[("default", "fb")].scaling_state
    assert health is not None
    assert health.health["s0-prometheus"].number_of_failures == 2
    # Without fallback, every failure is unavailable; the message names no trigger metadata.
    with pytest.raises(MetricUnavailable) as unavailable:
        await source.external_metric("default", "nofb", "s0-prometheus")
    assert "sum(queue_depth)" not in str(unavailable.value)
    prom.status = 200
    (sample,) = await source.external_metric("default", "fb", "s0-prometheus")
    assert sample.value == 3


async def test_unknown_objects_and_metrics_and_standby(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    await _so(kube, controller, prom, "known")
    source = ControllerMetricsSource(controller)
    with pytest.raises(ScaledObjectNotFound):
        await source.external_metric("default", "unknown", "s0-prometheus")
    with pytest.raises(ScaledObjectNotFound):
        await source.external_metric("elsewhere", "known", "s0-prometheus")
    with pytest.raises(MetricNotFound, match="it exports: s0-prometheus"):
        await source.external_metric("default", "known", "s1-kafka-orders")
    with pytest.raises(MetricUnavailable, match="standby"):
        await ControllerMetricsSource().external_metric("default", "known", "s0-prometheus")


async def test_composite_metric_with_scaling_modifiers(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    prom.values = {"sum(a)": 4, "sum(b)": 6}
    await create_deployment(kube, deployment("combo", 1))
    a = {**prometheus_trigger(prom.url, query="sum(a)"), "name": "a"}
    b = {**prometheus_trigger(prom.url, query="sum(b)"), "name": "b"}
    await create_so(
        kube,
        scaled_object(
            "combo",
            "combo",
            [a, b],
            pollingInterval=300,
            advanced={"scalingModifiers": {"formula": "a * b", "target": "5"}},
        ),
    )

    async def built() -> bool:
        ctx = controller.objects.get(("default", "combo"))
        return ctx is not None and ctx.triggers is not None

    await wait_for(built, 10)
    source = ControllerMetricsSource(controller)
    (sample,) = await source.external_metric("default", "combo", "composite-metric")
    assert sample.value == 24
    with pytest.raises(MetricNotFound, match="composite-metric"):
        await source.external_metric("default", "combo", "s0-prometheus")
