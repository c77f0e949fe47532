"""e2e: Prometheus stops answering -> fallback replicas after failureThreshold; it comes back
-> the metric drives replicas again and Fallback turns False."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from podscaler.kube.clients import Kube
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    deployment,
    events,
    get_so,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer


async def test_fallback_after_failure_threshold_and_recovery(
    kube: Kube, prom: PromServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    await operator()
    prom.value = 20
    await create_deployment(kube, deployment("api", 1))
    await create_so(
        kube,
        scaled_object(
            "api",
            "api",
            [prometheus_trigger(prom.url, threshold="10", activation="0")],
            pollingInterval=1,
            minReplicaCount=1,
            maxReplicaCount=10,
            fallback={"failureThreshold": 2, "replicas": 6},
        ),
    )

    async def at(n: int) -> bool:
        return await replicas(kube, "api") == n

    await wait_for(lambda: at(2), 15)
    await prom.stop()

    async def falling_back() -> bool:
        return condition(await get_so(kube, "api"), "Fallback").get("status") == "True"

    await wait_for(falling_back, 15)
    await wait_for(lambda: at(6), 10)
    so = await get_so(kube, "api")
    assert so["status"]["health"]["s0-prometheus"]["status"] == "Failing"
    assert so["status"]["health"]["s0-prometheus"]["numberOfFailures"] > 2

    prom.value = 30
    await prom.start()

    async def recovered() -> bool:
        return condition(await get_so(kube, "api"), "Fallback").get("status") == "False"

    await wait_for(recovered, 15)
    # 30 / 10 = 3; scaling down from 6 is held by the default 300 s stabilization window, so
    # the count stays at 6 while the metric is healthy again.
    assert (await get_so(kube, "api"))["status"]["health"]["s0-prometheus"]["status"] == "Happy"
    reasons = {e["reason"] for e in await events(kube)}
    assert {"FallbackActivated", "FallbackDeactivated", "TriggerError"} <= reasons
