"""The kafka trigger against real Kafka-protocol brokers: Tansu and librdkafka's mock cluster.

Covers lag with commits, without commits (offsetResetPolicy), the partition cap, a group's
topics when no topic is named, partitions added between polls, a missing topic, one
connection per bootstrap+auth set, and a broker that goes away and comes back (ScalerError
while it is gone, the right lag once it is back, on the same scaler).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from scalers import ScalerEnvironment, ScalerError, ScaleTrigger
from scalers.kafka import KAFKA, KafkaConnections, KafkaScaler
from tests.fixtures.kafka import MockCluster, TansuBroker


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def connections() -> AsyncIterator[KafkaConnections]:
    pool = KafkaConnections()
    yield pool
    await pool.close()


def build(bootstrap: str, pool: KafkaConnections, **metadata: str) -> KafkaScaler:
    meta = {"bootstrapServers": bootstrap, **metadata}
    config = KAFKA.parse(ScaleTrigger(type="kafka", metadata=meta), {}, {})
    return KafkaScaler(config, ScalerEnvironment(), pool)


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition, count in per_partition.items():
            for _ in range(count):
                await producer.send_and_wait(topic, b"m", partition=partition)
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in offsets])
        await consumer.commit({TopicPartition(topic, p): o for p, o in offsets.items()})
    finally:
        await consumer.stop()


async def lags(scaler: KafkaScaler) -> tuple[list[int], int, bool]:
    result = await scaler.lag()
    return [p.lag for p in result.partitions], result.metric_value, result.is_active


# ------------------------------------------------------------------------------ Tansu


async def test_lag_with_commits_and_the_partition_cap(
    tansu: TansuBroker, connections: KafkaConnections
) -> None:
    topic, group = unique("orders"), unique("workers")
    await create_topic(tansu.bootstrap, topic, 3)
    await produce(tansu.bootstrap, topic, {0: 30, 1: 30, 2: 30})
    await commit(tansu.bootstrap, group, topic, {0: 25, 1: 10, 2: 30})
    capped = build(tansu.bootstrap, connections, consumerGroup=group, topic=topic, lagThreshold="5")
    idle = build(
        tansu.bootstrap, connections, consumerGroup=group, topic=topic, lagThreshold="5",
        allowIdleConsumers="true",
    )  # fmt: skip
    try:
        assert await lags(capped) == ([5, 20, 0], 15, True), "25 // 5 > 3 partitions: capped"
        assert await lags(idle) == ([5, 20, 0], 25, True)
        [value], active = await capped.get_metrics_and_activity(capped.config.metric_name)
        assert (value.value, active) == (15.0, True)
        assert len(connections) == 1, "one connection per bootstrap+auth set"
    finally:
        await capped.close()
        await idle.close()


async def test_no_commits_follow_the_offset_reset_policy(
    tansu: TansuBroker, connections: KafkaConnections
) -> None:
    topic, group = unique("fresh"), unique("nobody")
    await create_topic(tansu.bootstrap, topic, 2)
    await produce(tansu.bootstrap, topic, {0: 4, 1: 6})
    latest = build(tansu.bootstrap, connections, consumerGroup=group, topic=topic)
    earliest = build(
        tansu.bootstrap, connections, consumerGroup=group, topic=topic,
        offsetResetPolicy="earliest", allowIdleConsumers="true",
    )  # fmt: skip
    to_zero = build(
        tansu.bootstrap, connections, consumerGroup=group, topic=topic,
        scaleToZeroOnInvalidOffset="true",
    )  # fmt: skip
    try:
        assert await lags(latest) == ([1, 1], 2, True)
        assert await lags(earliest) == ([4, 6], 10, True)
        assert await lags(to_zero) == ([0, 0], 0, False)
    finally:
        for scaler in (latest, earliest, to_zero):
            await scaler.close()


async def test_partitions_added_between_polls_count_at_once(
    tansu: TansuBroker, connections: KafkaConnections
) -> None:
    # Tansu has no CreatePartitions: the topic is recreated wider, which a poll must see just
    # the same (metadata is read on every poll, never cached from the first).
    topic, group = unique("growing"), unique("g")
    await create_topic(tansu.bootstrap, topic, 2)
    await produce(tansu.bootstrap, topic, {0: 3, 1: 3})
    await commit(tansu.bootstrap, group, topic, {0: 0, 1: 0})
    scaler = build(tansu.bootstrap, connections, consumerGroup=group, topic=topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=tansu.bootstrap)
    await admin.start()
    try:
        assert (await scaler.lag()).partition_count == 2
        await admin.delete_topics([topic])
        await create_topic(tansu.bootstrap, topic, 4)
        await produce(tansu.bootstrap, topic, {0: 3, 1: 3, 3: 5})
        result = await scaler.lag()
        assert result.partition_count == 4
        assert [p.lag for p in result.partitions][2:] == [1, 1], "uncommitted new partitions"
    finally:
        await admin.close()
        await scaler.close()


async def test_group_topics_when_no_topic_is_named(
    tansu: TansuBroker, connections: KafkaConnections
) -> None:
    group = unique("multi")
    a, b, untouched = unique("a"), unique("b"), unique("other")
    for topic in (a, b, untouched):
        await create_topic(tansu.bootstrap, topic, 1)
        await produce(tansu.bootstrap, topic, {0: 10})
    await commit(tansu.bootstrap, group, a, {0: 4})
    await commit(tansu.bootstrap, group, b, {0: 9})
    scaler = build(tansu.bootstrap, connections, consumerGroup=group)
    try:
        result = await scaler.lag()
        assert {p.topic: p.lag for p in result.partitions} == {a: 6, b: 1}
        assert scaler.config.metric_name == f"s0-kafka-{group}-topics"
    finally:
        await scaler.close()


async def test_missing_topic_is_an_error_and_never_created(
    tansu: TansuBroker, connections: KafkaConnections
) -> None:
    topic = unique("absent")
    scaler = build(tansu.bootstrap, connections, consumerGroup="g", topic=topic)
    try:
        for _ in range(2):
            with pytest.raises(ScalerError, match=f"{topic}.*UnknownTopicOrPartition"):
                await scaler.lag()
    finally:
        await scaler.close()


async def test_broker_that_goes_away_and_comes_back(
    tansu_factory: Any, connections: KafkaConnections
) -> None:
    # Tansu keeps data in memory only here, so the broker comes back empty and the test
    # writes the topic again: what matters is that the same scaler reconnects by itself.
    broker: TansuBroker = tansu_factory()
    topic, group = unique("durable"), unique("g")

    async def seed(extra: int) -> None:
        await create_topic(broker.bootstrap, topic, 2)
        await produce(broker.bootstrap, topic, {0: 8, 1: 2 + extra})
        await commit(broker.bootstrap, group, topic, {0: 3, 1: 2})

    await seed(0)
    scaler = build(broker.bootstrap, connections, consumerGroup=group, topic=topic)
    try:
        assert await lags(scaler) == ([5, 0], 5, True)
        broker.stop()
        with pytest.raises(ScalerError, match=group):
            await scaler.lag()
        broker.start()
        await seed(4)
        assert await lags(scaler) == ([5, 4], 9, True)
    finally:
        await scaler.close()


# ------------------------------------------------------------------------------ librdkafka mock


async def test_mock_cluster_lag_with_and_without_commits(
    rdkafka_mock: MockCluster, connections: KafkaConnections
) -> None:
    topic, group = unique("mock"), unique("g")
    rdkafka_mock.produce(topic, 5, partition=0)
    rdkafka_mock.produce(topic, 7, partition=2)
    scaler = build(
        rdkafka_mock.bootstrap, connections, consumerGroup=group, topic=topic,
        offsetResetPolicy="earliest", allowIdleConsumers="true",
    )  # fmt: skip
    try:
        assert await lags(scaler) == ([5, 0, 7, 0], 12, True), "4 auto-created partitions"
        await commit(rdkafka_mock.bootstrap, group, topic, {0: 5, 2: 3})
        assert await lags(scaler) == ([0, 0, 4, 0], 4, True)
    finally:
        await scaler.close()
