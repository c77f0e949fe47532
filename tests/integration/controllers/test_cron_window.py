"""The cron trigger through the whole controller path, with an injected clock.

A cron window has minute resolution, so an e2e run against the wall clock would take minutes.
Here the controller gets a wall clock that starts at 11:59:57 UTC and runs 30 times faster
than the loop, so the window ``0 12 * * *`` → ``1 12 * * *`` (noon to 12:01) opens and closes
within a few real seconds, while everything else (API server, informers, /scale, status) is
real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from podscaler.controllers.scaledobject import ScaledObjectController, Settings
from podscaler.kube.clients import Kube
from tests.integration.controllers.objects import (
    create_deployment,
    create_so,
    deployment,
    replicas,
    scaled_object,
    wait_for,
)

SPEED = 30.0


@pytest.fixture
async def fast_controller(kube: Kube) -> AsyncIterator[ScaledObjectController]:
    loop = asyncio.get_running_loop()
    origin = loop.time()
    start = datetime(2026, 3, 2, 11, 59, 57, tzinfo=UTC)

    def now() -> datetime:
        return start + timedelta(seconds=(loop.time() - origin) * SPEED)

    ctl = ScaledObjectController(kube, namespace=None, now=now, settings=Settings(start_spread=0.0))
    await ctl.start()
    await ctl.wait_synced(10)
    yield ctl
    await ctl.aclose()


async def test_cron_window_scales_up_and_back_down(
    kube: Kube, fast_controller: ScaledObjectController
) -> None:
    await create_deployment(kube, deployment("nightly", 0))
    trigger = {
        "type": "cron",
        "metadata": {
            "timezone": "Etc/UTC",
            "start": "0 12 * * *",
            "end": "1 12 * * *",
            "desiredReplicas": "3",
        },
    }
    await create_so(
        kube,
        scaled_object("nightly", "nightly", [trigger], pollingInterval=1, cooldownPeriod=5),
    )

    async def at(n: int) -> bool:
        return await replicas(kube, "nightly") == n

    # Noon arrives ~0.1 s in: 0 -> 1 (activation) -> 3 (desiredReplicas via the HPA part).
    await wait_for(lambda: at(3), 5)
    # 12:01 (2 s in) ends the window; cooldown 5 s (simulated) later it is back at 0.
    await wait_for(lambda: at(0), 10)
    rules = [r.rule for r in fast_controller.decisions.recent("default", "nightly")]
    assert "activation" in rules
    assert "deactivation" in rules
