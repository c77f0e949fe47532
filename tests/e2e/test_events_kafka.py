"""e2e, story 4 (Kafka half): a burst on a 3-partition topic on Tansu; ``podscaler run`` scales
the consumer Deployment 0 → N → 0 on the group's lag while the world's consumers take messages
and commit.

The partition cap is what a user sees here: with lagThreshold 5 a backlog of 150 asks for 30
replicas, but a group cannot use more members than the topic has partitions, so replicas stop
at 3 — until ``allowIdleConsumers: "true"``, when the next burst scales past them (up to
``maxReplicaCount``).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from podscaler.kube.clients import Kube
from podscaler.sim.world.kafka_consumers import KafkaTopic
from podscaler.sim.world.world import World
from tests.e2e.conftest import OperatorProcess
from tests.e2e.eventworld import (
    Replicas,
    add_queue,
    burst,
    consumer_deployment,
    consumers,
    event_reasons,
    ready_pods,
    world,  # noqa: F401 - the fixture
)
from tests.fixtures.kafka import TansuBroker
from tests.integration.controllers.objects import (
    condition,
    create_deployment,
    create_so,
    events,
    get_so,
    patch_so,
    scaled_object,
    wait_for,
)


async def test_kafka_lag_scales_consumers_within_the_partition_cap(
    kube: Kube,
    tansu: TansuBroker,
    world: World,  # noqa: F811
    operator: Callable[..., Awaitable[OperatorProcess]],
) -> None:
    suffix = uuid.uuid4().hex[:6]
    topic = await KafkaTopic.open(
        "orders", tansu.bootstrap, topic=f"orders-{suffix}", group=f"billing-{suffix}"
    )
    add_queue(world, topic)
    consumers(world, "billing", "orders", per_second=6)
    await create_deployment(kube, consumer_deployment("billing"))
    trigger = {
        "type": "kafka",
        "metadata": {
            "bootstrapServers": tansu.bootstrap,
            "consumerGroup": topic.group,
            "topic": topic.topic,
            "lagThreshold": "5",
            "activationLagThreshold": "3",
            "offsetResetPolicy": "earliest",
        },
    }
    await create_so(
        kube,
        scaled_object(
            "billing",
            "billing",
            [trigger],
            pollingInterval=1,
            cooldownPeriod=2,
            minReplicaCount=0,
            maxReplicaCount=6,
        ),
    )
    await operator()

    async def ready() -> bool:
        return condition(await get_so(kube, "billing"), "Ready").get("status") == "True"

    await wait_for(ready, 15)
    async with Replicas(kube, "billing") as replicas:
        await burst(world, "orders", 150)  # lag 150 / 5 = 30 wanted; 3 partitions

        async def capped() -> bool:
            return replicas.now == 3 and await ready_pods(kube, "billing") == 3

        await wait_for(capped, 20)

        async def drained_and_zero() -> bool:
            return await topic.depth() == 0 and replicas.now == 0

        await wait_for(drained_and_zero, 60)
        # Capped at the partitions, with KEDA's quirk: the cap tests lag // threshold > 3, so
        # a lag of 16..19 while three consumers drain asks for one more (scalers/kafka_lag.py).
        assert replicas.peak in (3, 4), replicas.seen
        assert world.queues.queues["orders"].consumed_total == 150
        reasons = event_reasons(await events(kube), "billing")
        assert "ScaleTargetActivated" in reasons
        assert "ScaleTargetDeactivated" in reasons

        # A user who accepts idle members lifts the cap.
        idle = {**trigger, "metadata": {**trigger["metadata"], "allowIdleConsumers": "true"}}
        await patch_so(kube, "billing", {"spec": {"triggers": [idle]}})
        await burst(world, "orders", 150)

        async def past_the_cap() -> bool:
            return replicas.now > 3

        await wait_for(past_the_cap, 20)
        assert replicas.peak <= 6
        await wait_for(drained_and_zero, 60)
    so = await get_so(kube, "billing")
    assert condition(so, "Active")["status"] == "False"
    assert so["status"]["externalMetricNames"] == [f"s0-kafka-{topic.topic}"]
