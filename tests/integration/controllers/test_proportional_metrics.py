"""The ProportionalScaler controller's ``podscaler_proportionalscaler_*`` series follow the
scalers: what each decided from which cluster size, its problems, and nothing left behind
once a scaler is deleted. Against the embedded API server, read from the registry's text
exposition as Prometheus would scrape it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from podscaler.controllers.proportional import ProportionalController, ProportionalSettings
from podscaler.kube.clients import Kube
from podscaler.observability.proportionalmetrics import ProportionalMetrics
from tests.integration.controllers.objects import create, create_deployment, deployment, wait_for
from tests.integration.controllers.proportional_objects import (
    PS_PATH,
    add_node,
    proportional_scaler,
)
from tests.integration.controllers.test_proportional import wall_now

PREFIX = "podscaler_proportionalscaler_"


@pytest.fixture
async def metered(kube: Kube) -> AsyncIterator[tuple[ProportionalController, CollectorRegistry]]:
    registry = CollectorRegistry()
    controller = ProportionalController(
        kube,
        namespace=None,
        now=wall_now,
        settings=ProportionalSettings(retry_seconds=0.2),
        metrics=ProportionalMetrics(registry),
    )
    await controller.start()
    await controller.wait_synced(10)
    yield controller, registry
    await controller.aclose()


Series = tuple[str, frozenset[tuple[str, str]]]


def samples(registry: CollectorRegistry) -> dict[Series, float]:
    """(name, labels) -> value of every podscaler_proportionalscaler_* sample, parsed from the
    text exposition (``_created`` samples left out)."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith(PREFIX) and not sample.name.endswith("_created")
    }


def of(name: str, scaler: str, **labels: str) -> Series:
    return (
        PREFIX + name,
        frozenset({"namespace": "default", "proportionalscaler": scaler, **labels}.items()),
    )


async def test_series_follow_decisions_problems_and_deletion(
    kube: Kube, metered: tuple[ProportionalController, CollectorRegistry]
) -> None:
    controller, registry = metered
    for index in range(3):
        await add_node(kube, f"n{index}")
    await create_deployment(kube, deployment("dns", 1))
    linear = {"nodesPerReplica": 1, "coresPerReplica": 4, "min": 1}
    await create(kube, PS_PATH, proportional_scaler("dns", "dns", linear=linear))
    await create(kube, PS_PATH, proportional_scaler("orphan", "nowhere", linear=linear))

    async def decided() -> bool:
        now = samples(registry)
        return (
            now.get(of("desired_replicas", "dns")) == 3
            and now.get(of("problem", "orphan", kind="target")) == 1
        )

    await wait_for(decided, 10)
    now = samples(registry)
    assert now[of("cluster_nodes", "dns")] == 3
    assert now[of("cluster_cores", "dns")] == 6
    assert now[of("problem", "dns", kind="target")] == 0
    assert now[of("problem", "dns", kind="parameters")] == 0
    assert now[of("scale_updates_total", "dns", outcome="success")] >= 1
    assert now[of("scale_updates_total", "orphan", outcome="error")] >= 1
    assert now[of("decisions_total", "dns")] >= 1

    await kube.request("DELETE", f"{PS_PATH}/orphan")

    async def forgotten() -> bool:
        return not any(
            ("proportionalscaler", "orphan") in labels for _, labels in samples(registry)
        )

    await wait_for(forgotten, 10)
    assert of("desired_replicas", "dns") in samples(registry)
    assert ("default", "dns") in controller.states
