"""e2e: the operator restarted in the middle of a cooldown neither flaps nor forgets
``lastActiveTime``: the replacement reads it back from status and scales to zero at the same
deadline the first operator would have used, not earlier and not after a new full cooldown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime

from podscaler.kube.clients import Kube
from tests.e2e.conftest import OperatorProcess
from tests.integration.controllers.objects import (
    create_deployment,
    create_so,
    deployment,
    get_so,
    prometheus_trigger,
    replicas,
    scaled_object,
    wait_for,
)
from tests.integration.controllers.promserver import PromServer

COOLDOWN_SECONDS = 20
#: Inactive this long before the restart. A cooldown restarted by the restart would end at
#: least this much after the remembered one, so the slack below can absorb a loaded
#: machine's late polls and still tell the two apart.
INACTIVE_BEFORE_RESTART = 10.0
SLACK_SECONDS = 6.0


async def test_restart_mid_cooldown(
    kube: Kube, prom: PromServer, operator: Callable[..., Awaitable[OperatorProcess]]
) -> None:
    first = await operator()
    prom.value = 15
    await create_deployment(kube, deployment("batch", 0))
    await create_so(
        kube,
        scaled_object(
            "batch",
            "batch",
            [prometheus_trigger(prom.url)],
            pollingInterval=1,
            cooldownPeriod=COOLDOWN_SECONDS,
        ),
    )

    async def at(n: int) -> bool:
        return await replicas(kube, "batch") == n

    await wait_for(lambda: at(2), 15)
    prom.value = 0  # inactive from now on: the cooldown runs from the last active poll
    await asyncio.sleep(INACTIVE_BEFORE_RESTART)
    before = (await get_so(kube, "batch"))["status"]["lastActiveTime"]
    assert await first.stop() == 0  # graceful SIGTERM shutdown
    await operator()
    deadline = datetime.fromisoformat(before.replace("Z", "+00:00")).timestamp() + COOLDOWN_SECONDS
    seen: list[int] = []
    loop = asyncio.get_running_loop()
    wall_offset = datetime.now().timestamp() - loop.time()
    async with asyncio.timeout(COOLDOWN_SECONDS + 15):
        while True:
            count = await replicas(kube, "batch")
            now = loop.time() + wall_offset
            seen.append(count)
            if count == 0:
                break
            # Still up while the deadline has not passed (status keeps whole seconds, the
            # operator polls every second, and a loaded machine polls late).
            assert now < deadline + SLACK_SECONDS, "scale-in later than the remembered cooldown"
            await asyncio.sleep(0.2)
    assert now >= deadline - 1.0, "scale-in came before the cooldown had passed"
    assert (await get_so(kube, "batch"))["status"]["lastActiveTime"] == before
    assert seen == sorted(seen, reverse=True), f"replicas flapped: {seen}"
