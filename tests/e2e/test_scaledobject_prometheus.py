"""e2e: the real ``podscaler run`` scales a Deployment 0 -> N -> 0 on a Prometheus metric,
with activation and cooldown, and explains it (status, Events, /metrics, ``podscaler explain``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

import aiohttp

from podscaler.kube.clients import Kube
from tests.e2e.conftest import ROOT, OperatorProcess
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


async def test_zero_to_n_to_zero_with_activation_and_cooldown(
    kube: Kube, prom: PromServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    op = await operator()
    prom.value = 3  # below activationThreshold 5: stays at 0
    await create_deployment(kube, deployment("worker", 0))
    await create_so(
        kube,
        scaled_object(
            "worker",
            "worker",
            [prometheus_trigger(prom.url, threshold="10", activation="5")],
            pollingInterval=1,
            cooldownPeriod=3,
            maxReplicaCount=8,
        ),
    )

    async def ready() -> bool:
        return condition(await get_so(kube, "worker"), "Ready").get("status") == "True"

    await wait_for(ready, 15)
    await asyncio.sleep(1.5)
    assert await replicas(kube, "worker") == 0
    assert condition(await get_so(kube, "worker"), "Active")["status"] == "False"

    prom.value = 35  # active; the HPA part asks ceil(35 / 10) = 4

    async def at(n: int) -> bool:
        return await replicas(kube, "worker") == n

    await wait_for(lambda: at(4), 15)
    so = await get_so(kube, "worker")
    assert condition(so, "Active")["status"] == "True"
    assert so["status"]["lastActiveTime"]
    assert so["status"]["lastDecision"]["rule"] in ("hpa", "activation")

    prom.value = 0
    loop = asyncio.get_running_loop()
    inactive_at = loop.time()
    await wait_for(lambda: at(0), 20)
    # Not before the cooldown (3 s) after the last active poll.
    assert loop.time() - inactive_at >= 2.0
    reasons = [e["reason"] for e in await events(kube)]
    assert "ScaleTargetActivated" in reasons
    assert "ScaleTargetDeactivated" in reasons

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{op.endpoint}/metrics") as response,
    ):
        text = await response.text()
    assert 'keda_scaler_metrics_value{metric="s0-prometheus",namespace="default"' in text
    assert "keda_internal_scale_loop_latency_seconds" in text
    assert 'podscaler_scaledobject_decisions_total{namespace="default",rule="deactivation"' in text

    explain = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "podscaler", "explain", "default/worker", "--endpoint", op.endpoint,
        stdout=asyncio.subprocess.PIPE, cwd=str(ROOT),
    )  # fmt: skip
    out, _ = await explain.communicate()
    assert explain.returncode == 0
    assert b"rule=deactivation" in out
    assert b"s0-prometheus" in out
    # The history: one line per decision held, the scale-up and the scale-in among them.
    assert b"History (" in out
    history = out.split(b"Recent polls in full:")[0]
    assert b"rule=activation" in history
    assert b"rule=deactivation" in history
