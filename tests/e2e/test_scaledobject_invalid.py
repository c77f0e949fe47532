"""e2e: an invalid ScaledObject gets Ready=False with the validation message while another
keeps scaling."""

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


async def test_invalid_object_is_not_ready_and_others_keep_scaling(
    kube: Kube, prom: PromServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    await operator()
    prom.value = 25
    await create_deployment(kube, deployment("ok", 0))
    await create_deployment(kube, deployment("broken", 0))
    broken = scaled_object(
        "broken",
        "broken",
        [{"type": "prometheus", "metadata": {"serverAddress": prom.url, "query": "up"}}],
        pollingInterval=1,
    )  # no threshold: the prometheus trigger refuses it
    await create_so(kube, broken)
    await create_so(
        kube, scaled_object("ok", "ok", [prometheus_trigger(prom.url)], pollingInterval=1)
    )

    async def ok_scaled() -> bool:
        return await replicas(kube, "ok") == 3

    await wait_for(ok_scaled, 15)

    async def refused() -> bool:
        return condition(await get_so(kube, "broken"), "Ready").get("status") == "False"

    await wait_for(refused, 10)
    ready = condition(await get_so(kube, "broken"), "Ready")
    assert ready["reason"] == "ScaledObjectCheckFailed"
    assert "threshold" in ready["message"]
    assert await replicas(kube, "broken") == 0
    assert any(e["reason"] == "ScaledObjectCheckFailed" for e in await events(kube))
