"""``podscaler run`` as a process: VerticalScalers are picked up because their CRD is
installed; usage published on the embedded server's ``metrics.k8s.io`` becomes
``status.recommendation`` and a checkpoint object, with no other setup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import aiohttp

from podscaler.clock import now as wall_now
from podscaler.kube.clients import Kube
from podscaler.kube.errors import NotFound
from podscaler.sim.apiserver.server import ApiServer
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import wait_for
from tests.integration.controllers.vertical_objects import (
    CP_PATH,
    VS_PATH,
    running_pod,
    vertical_scaler,
    workload,
)

Start = Callable[..., Awaitable[OperatorProcess]]


async def test_run_publishes_a_recommendation_and_a_checkpoint(
    apiserver: ApiServer, kube: Kube, operator: Start
) -> None:
    await kube.request(
        "POST", "/apis/apps/v1/namespaces/default/deployments", body=workload("hamster", 1)
    )
    await running_pod(kube, "hamster-0", "hamster", wall_now() - timedelta(hours=1))
    spec = {"updatePolicy": {"updateMode": "Off"}}
    await kube.request("POST", VS_PATH, body=vertical_scaler("hamster-vpa", "hamster", **spec))
    publishing = True

    async def publish() -> None:
        while publishing:
            apiserver.set_pod_metrics(
                "default", "hamster-0", {"hamster": {"cpu": "480m", "memory": "120Mi"}}
            )
            await asyncio.sleep(0.5)

    feeder = asyncio.get_running_loop().create_task(publish())
    process = await operator("--vertical-recommender-interval", "1")

    async def recommended() -> bool:
        status = (await kube.request("GET", f"{VS_PATH}/hamster-vpa")).get("status") or {}
        return bool((status.get("recommendation") or {}).get("containerRecommendations"))

    try:
        await wait_for(recommended, 20)
        await wait_for(lambda: _exists(kube, f"{CP_PATH}/hamster-vpa-hamster"), 10)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{process.endpoint}/metrics") as response,
        ):
            exposition = await response.text()
    finally:
        publishing = False
        await feeder
    assert await process.stop() == 0
    series = [
        line
        for line in exposition.splitlines()
        if line.startswith("podscaler_verticalscaler_containerrecommendations_target{")
    ]
    assert any('resource="cpu"' in line and 'target_name="hamster"' in line for line in series)
    assert any('unit="byte"' in line for line in series)
    status = (await kube.request("GET", f"{VS_PATH}/hamster-vpa"))["status"]
    provided = [c for c in status["conditions"] if c["type"] == "RecommendationProvided"]
    assert provided[0]["status"] == "True"
    assert any(c["type"] == "LowConfidence" and c["status"] == "True" for c in status["conditions"])


async def _exists(kube: Kube, path: str) -> bool:
    try:
        await kube.request("GET", path)
    except NotFound:
        return False
    return True
