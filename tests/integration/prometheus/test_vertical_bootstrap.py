"""The VerticalScaler recommender's history bootstrap from a real Prometheus.

A day of cAdvisor and kube-state-metrics series is backfilled with promtool; a VerticalScaler on
the embedded API server targets the Deployment those pods belonged to (no pod runs any more).
At start the recommender reads that day through prometheus-api-client and publishes a
recommendation before any live sample — the same numbers ``podscaler recommend`` computes from
the same samples.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from podscaler.api.quantities import Quantity
from podscaler.commands.recommending import recommend_from_history
from podscaler.controllers.vertical import VerticalRecommender, VerticalSettings
from podscaler.controllers.vertical.history import PrometheusSettings, fetch_history
from podscaler.kube.clients import Kube, connect
from podscaler.sim.apiserver.server import ApiServer
from tests.conftest import IN_CI
from tests.fixtures.prometheus_history import (
    MIB,
    ContainerSpec,
    PodSpec,
    binaries,
    prometheus_with_history,
)
from tests.integration.controllers.vertical_objects import SettableClock, workload

MINUTES = 1440
END = 1_780_000_000 // 3600 * 3600
START = END - (MINUTES - 1) * 60
VS_PATH = "/apis/autoscaling.podscaler.io/v1alpha1/namespaces/shop/verticalscalers"


def _web(pod: str) -> PodSpec:
    return PodSpec(
        namespace="shop",
        pod=pod,
        owner_kind="ReplicaSet",
        owner_name="web-7c9d8f6b5",
        deployment="web",
        labels={"app": "web"},
        containers=[
            ContainerSpec(
                "web",
                cpu_cores=lambda m: 0.5,
                memory_bytes=lambda m: 150 * MIB + (m % 90) * MIB,
                requests={"cpu": 0.1, "memory": 50 * MIB},
            )
        ],
    )


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if binaries() is None:
        message = "prometheus/promtool not installed (apt-get install prometheus)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    pods = [_web("web-7c9d8f6b5-abcde"), _web("web-7c9d8f6b5-fghij")]
    with prometheus_with_history(tmp_path_factory.mktemp("history"), pods, START, MINUTES) as url:
        yield url


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(datetime.fromtimestamp(END, tz=UTC))


@pytest.fixture
async def apiserver(clock: SettableClock) -> AsyncIterator[ApiServer]:
    async with ApiServer(now=clock.now, bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
async def kube(kubeconfig: Path) -> AsyncIterator[Kube]:
    async with await connect(kubeconfig=kubeconfig) as client:
        yield client


async def test_history_from_prometheus_gives_recommends_numbers_at_start(
    prometheus_url: str, kube: Kube, clock: SettableClock
) -> None:
    await kube.request("POST", "/api/v1/namespaces", body={"metadata": {"name": "shop"}})
    await kube.request("POST", "/apis/apps/v1/namespaces/shop/deployments", body=workload("web", 2))
    scaler = {
        "apiVersion": "autoscaling.podscaler.io/v1alpha1",
        "kind": "VerticalScaler",
        "metadata": {"name": "web-vpa"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "updatePolicy": {"updateMode": "Off"},
        },
    }
    await kube.request("POST", VS_PATH, body=scaler)
    settings = VerticalSettings(
        recommender_interval_seconds=3600.0,
        prometheus=PrometheusSettings(prometheus_url),
        history_lookback_seconds=float(END - START),
    )
    rec = VerticalRecommender(kube, namespace=None, now=clock.now, settings=settings)
    await rec.start()
    try:
        await rec.wait_synced(120)
        await rec.wait_pass(30)
    finally:
        await rec.aclose()
    status = (await kube.request("GET", f"{VS_PATH}/web-vpa"))["status"]
    (published,) = status["recommendation"]["containerRecommendations"]
    reasons = {c["type"]: c["reason"] for c in status["conditions"]}
    assert reasons["NoPodsMatched"] == "NoPodsMatched"  # history alone, no pod runs now
    assert Quantity(published["target"]["cpu"]).milli_value() == 587
    # podscaler recommend over the same window: the same engine, fed the same way.
    found, inventory, _ = await fetch_history(
        PrometheusSettings(prometheus_url), namespaces=["shop"], start=START, end=END
    )
    (row,) = recommend_from_history(found, inventory, start=START, end=END)
    assert row.recommended_cpu_millicores == 587
    assert Quantity(published["target"]["memory"]).int_value() == row.recommended_memory_bytes
    assert Quantity(published["upperBound"]["cpu"]).milli_value() == row.upper_cpu_millicores
