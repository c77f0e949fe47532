"""e2e, story 4 (SQS half): a burst lands on an SQS queue on moto; ``podscaler run`` scales the
consumer Deployment 0 → N → 0 while the world's consumer pods drain the queue.

What a user sees: the Deployment's replicas leave zero, reach the count ``queueLength`` asks
for (capped by ``maxReplicaCount``), pods turn Ready and empty the queue, and replicas return
to zero after the cooldown; the ScaledObject is Ready, Active while there is work, and the
Events tell the story (ScaledObjectReady, ScaleTargetActivated, ScaledTargetScaled,
ScaleTargetDeactivated). The credentials reach the trigger through a TriggerAuthentication and
appear nowhere in status or Events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from podscaler.kube.clients import Kube
from podscaler.sim.world.queues import SqsQueue
from podscaler.sim.world.world import World
from tests.e2e.conftest import OperatorProcess
from tests.e2e.eventworld import (
    Replicas,
    add_queue,
    burst,
    consumer_deployment,
    consumers,
    event_reasons,
    put_secret,
    ready_pods,
    trigger_auth,
    world,  # noqa: F401 - the fixture
)
from tests.fixtures.moto import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    events,
    get_so,
    scaled_object,
    wait_for,
)


async def test_sqs_burst_scales_consumers_zero_to_n_and_back(
    kube: Kube,
    moto: str,
    world: World,  # noqa: F811
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    queue = await SqsQueue.open("orders", moto, REGION)
    add_queue(world, queue)
    consumers(world, "consumer", "orders", per_second=4)
    await put_secret(kube, "sqs", {"id": ACCESS_KEY_ID, "secret": SECRET_ACCESS_KEY})
    await trigger_auth(
        kube,
        "sqs",
        [
            {"parameter": "awsAccessKeyID", "name": "sqs", "key": "id"},
            {"parameter": "awsSecretAccessKey", "name": "sqs", "key": "secret"},
        ],
    )
    await create_deployment(kube, consumer_deployment("consumer"))
    trigger = {
        "type": "aws-sqs-queue",
        "authenticationRef": {"name": "sqs"},
        "metadata": {
            "queueURL": queue.url,
            "queueLength": "10",
            "awsRegion": REGION,
            "awsEndpoint": moto,
        },
    }
    await create_so(
        kube,
        scaled_object(
            "consumer",
            "consumer",
            [trigger],
            pollingInterval=1,
            cooldownPeriod=2,
            minReplicaCount=0,
            maxReplicaCount=4,
        ),
    )
    await operator()

    async def ready() -> bool:
        return condition(await get_so(kube, "consumer"), "Ready").get("status") == "True"

    await wait_for(ready, 15)
    async with Replicas(kube, "consumer") as replicas:
        assert replicas.now == 0
        await burst(world, "orders", 120)  # 120 / 10 = 12 replicas wanted, 4 allowed

        async def at_max() -> bool:
            return replicas.now == 4

        await wait_for(at_max, 20)
        so = await get_so(kube, "consumer")
        assert condition(so, "Active")["status"] == "True"

        async def pods_consume() -> bool:
            return await ready_pods(kube, "consumer") >= 2

        await wait_for(pods_consume, 15)

        async def drained_and_zero() -> bool:
            return await queue.depth() == 0 and replicas.now == 0

        await wait_for(drained_and_zero, 60)
    assert replicas.seen[0] == 0
    assert replicas.peak == 4
    assert replicas.seen[-1] == 0
    assert world.queues.queues["orders"].consumed_total == 120
    so = await get_so(kube, "consumer")
    assert condition(so, "Active")["status"] == "False"
    assert condition(so, "Ready")["status"] == "True"
    assert so["status"]["externalMetricNames"] == ["s0-aws-sqs-orders"]
    reasons = event_reasons(await events(kube), "consumer")
    for expected in ("ScaledObjectReady", "ScaleTargetActivated", "ScaleTargetDeactivated"):
        assert expected in reasons
    assert reasons.index("ScaleTargetActivated") < reasons.index("ScaleTargetDeactivated")
    everything = str(so) + str(await events(kube))
    assert SECRET_ACCESS_KEY not in everything
