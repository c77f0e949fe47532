"""e2e: each pause annotation, as a user sets it with kubectl annotate.

paused-replicas pins the target; paused holds the current count while the metric moves;
paused-scale-out keeps a workload at 0 although its trigger is active; paused-scale-in keeps
it up although the trigger went inactive past the cooldown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from podscaler.kube.clients import Kube
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    deployment,
    get_so,
    patch_so,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

KEDA = "autoscaling.keda.sh/"


async def test_pause_annotations(
    kube: Kube, prom: PromServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    await operator()
    prom.values = {"pinned": 40, "held": 40, "out": 40, "in": 0}
    cases = {
        "pinned": (2, {KEDA + "paused-replicas": "5"}),
        "held": (2, {KEDA + "paused": "true"}),
        "out": (0, {KEDA + "paused-scale-out": "true"}),
        "in": (2, {KEDA + "paused-scale-in": "true"}),
    }
    for name, (start, pause) in cases.items():
        await create_deployment(kube, deployment(name, start))
        await create_so(
            kube,
            scaled_object(
                name,
                name,
                [prometheus_trigger(prom.url, query=name)],
                pollingInterval=1,
                cooldownPeriod=1,
                annotations=pause,
            ),
        )

    async def at(name: str, n: int) -> bool:
        return await replicas(kube, name) == n

    await wait_for(lambda: at("pinned", 5), 15)

    async def paused(name: str) -> bool:
        return condition(await get_so(kube, name), "Paused").get("status") == "True"

    await wait_for(lambda: paused("held"), 15)
    await asyncio.sleep(3)  # several polls with the metric asking for 4 and 0
    assert await replicas(kube, "pinned") == 5
    assert await replicas(kube, "held") == 2
    assert await replicas(kube, "out") == 0
    assert await replicas(kube, "in") == 2
    assert (await get_so(kube, "pinned"))["status"]["pausedReplicaCount"] == 5

    # Removing the annotations resumes scaling: the metric asks ceil(40 / 10) = 4.
    await patch_so(kube, "held", {"metadata": {"annotations": {KEDA + "paused": None}}})
    await wait_for(lambda: at("held", 4), 10)
    assert condition(await get_so(kube, "held"), "Paused")["status"] == "False"
    await patch_so(kube, "out", {"metadata": {"annotations": {KEDA + "paused-scale-out": None}}})
    await wait_for(lambda: at("out", 4), 10)
    await patch_so(kube, "in", {"metadata": {"annotations": {KEDA + "paused-scale-in": None}}})
    await wait_for(lambda: at("in", 0), 10)
