"""The ScaledObject controller in-process against the embedded API server and a fake
Prometheus server: activation, HPA scaling, cooldown, invalid objects, ownership, finalizer."""

from __future__ import annotations

from podscaler.controllers.scaledobject import ScaledObjectController
from podscaler.kube.clients import Kube
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


async def test_zero_to_n_and_back_on_a_prometheus_metric(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    await create_deployment(kube, deployment("web", 0))
    prom.value = 0
    so = scaled_object(
        "web",
        "web",
        [prometheus_trigger(prom.url)],
        pollingInterval=1,
        cooldownPeriod=2,
        maxReplicaCount=10,
    )
    await create_so(kube, so)

    async def ready() -> bool:
        return condition(await get_so(kube, "web"), "Ready").get("status") == "True"

    await wait_for(ready)
    assert await replicas(kube, "web") == 0
    prom.value = 42  # above activation (5): 0 -> 1, then the HPA: ceil(42 / 10) = 5

    async def at(n: int) -> bool:
        return await replicas(kube, "web") == n

    await wait_for(lambda: at(5), 10)
    status = (await get_so(kube, "web"))["status"]
    assert status["lastActiveTime"]
    assert status["externalMetricNames"] == ["s0-prometheus"]
    assert status["mode"] == "direct"  # the MODE column, without spec.advanced
    assert condition(await get_so(kube, "web"), "Active")["status"] == "True"
    fallback = condition(await get_so(kube, "web"), "Fallback")  # none configured
    assert (fallback["status"], fallback["reason"]) == ("False", "NoFallbackFound")
    prom.value = 0
    await wait_for(lambda: at(0), 15)
    reasons = {e["reason"] for e in await events(kube)}
    assert {"ScaleTargetActivated", "ScaleTargetDeactivated", "ScaledObjectReady"} <= reasons
    records = controller.decisions.recent("default", "web")
    assert {r.rule for r in records} >= {"activation", "deactivation"}


async def test_invalid_object_is_not_ready_while_others_scale(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    await create_deployment(kube, deployment("good", 0))
    await create_deployment(kube, deployment("bad", 0))
    prom.value = 20
    bad = scaled_object("bad", "bad", [prometheus_trigger(prom.url)], pollingInterval=1)
    bad["spec"]["minReplicaCount"] = 5
    bad["spec"]["maxReplicaCount"] = 2
    await create_so(kube, bad)
    await create_so(
        kube, scaled_object("good", "good", [prometheus_trigger(prom.url)], pollingInterval=1)
    )

    async def good_scaled() -> bool:
        return await replicas(kube, "good") == 2

    await wait_for(good_scaled)
    ready = condition(await get_so(kube, "bad"), "Ready")
    assert ready["status"] == "False"
    assert "MaxReplicaCount" in ready["message"] or "maxReplicaCount" in ready["message"]
    assert await replicas(kube, "bad") == 0


async def test_second_object_on_the_same_target_is_refused(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    await create_deployment(kube, deployment("shared", 1))
    prom.value = 0
    await create_so(
        kube, scaled_object("first", "shared", [prometheus_trigger(prom.url)], pollingInterval=1)
    )

    async def first_ready() -> bool:
        return condition(await get_so(kube, "first"), "Ready").get("status") == "True"

    await wait_for(first_ready)
    await create_so(
        kube, scaled_object("second", "shared", [prometheus_trigger(prom.url)], pollingInterval=1)
    )

    async def refused() -> bool:
        ready = condition(await get_so(kube, "second"), "Ready")
        return ready.get("reason") == "ScaleTargetAlreadyManaged"

    await wait_for(refused)
    assert "first" in condition(await get_so(kube, "second"), "Ready")["message"]


async def test_missing_target_gives_a_condition_and_is_retried(
    kube: Kube, prom: PromServer, controller: ScaledObjectController
) -> None:
    prom.value = 20
    await create_so(
        kube, scaled_object("late", "late", [prometheus_trigger(prom.url)], pollingInterval=1)
    )

    async def not_found() -> bool:
        return condition(await get_so(kube, "late"), "Ready").get("reason") == "ScaleTargetNotFound"

    await wait_for(not_found)
    await create_deployment(kube, deployment("late", 1))

    async def scaled() -> bool:
        return await replicas(kube, "late") == 2

    await wait_for(scaled)
