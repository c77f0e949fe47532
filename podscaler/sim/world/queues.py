"""Queues as load: producers add messages at a demand rate, Ready consumers take them.

This is how event-driven scaling is exercised end to end: the operator's ``aws-sqs-queue``
trigger reads the real queue (moto server speaking the SQS protocol) while the world fills and
drains it. Three backends share one small protocol:

* :class:`SqsQueue` — a real SQS queue through aiobotocore (moto server in tests and demos);
* :class:`InMemoryQueue` — a counter, for unit tests and benchmarks that need no server.

* :class:`~podscaler.sim.world.kafka_consumers.KafkaTopic` — a Kafka topic and consumer group
  through aiokafka (a Tansu broker, :mod:`podscaler.sim.world.brokers`).

Time and real servers: under the unlimited simulated clock the event loop jumps time whenever
it would wait, which would make a real server's millisecond answer look like minutes. While an
SQS call is in flight we therefore hold a no-op job in the loop's executor
(:func:`real_time_while`); the simulated loop never jumps while executor work is pending, so
simulated time flows at the real pace for the few milliseconds a call takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from podscaler.sim.world.load import Curve

__all__ = [
    "InMemoryQueue",
    "QueueBackend",
    "QueueHub",
    "QueueWiring",
    "SqsQueue",
    "real_time_while",
]

#: Credentials moto accepts; never real ones.
_MOTO_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@contextlib.asynccontextmanager
async def real_time_while() -> AsyncIterator[None]:
    """Keep a simulated loop from jumping time while the body talks to another process."""
    loop = asyncio.get_running_loop()
    done = threading.Event()
    holder = loop.run_in_executor(None, done.wait)
    try:
        yield
    finally:
        done.set()
        await holder


class QueueBackend(Protocol):
    name: str

    async def send(self, count: int) -> None: ...

    async def receive(self, max_count: int) -> int:
        """Take (receive and delete) up to ``max_count`` messages; how many were taken."""
        ...

    async def depth(self) -> int: ...

    async def close(self) -> None: ...


class InMemoryQueue:
    def __init__(self, name: str) -> None:
        self.name = name
        self.messages = 0

    async def send(self, count: int) -> None:
        self.messages += count

    async def receive(self, max_count: int) -> int:
        taken = min(self.messages, max_count)
        self.messages -= taken
        return taken

    async def depth(self) -> int:
        return self.messages

    async def close(self) -> None:
        return None


class SqsQueue:
    """An SQS queue (created if missing) at ``endpoint_url``."""

    def __init__(self, name: str, client: Any, url: str, stack: contextlib.AsyncExitStack) -> None:
        self.name = name
        self.url = url
        self._client = client
        self._stack = stack
        self._serial = 0

    @classmethod
    async def open(cls, name: str, endpoint_url: str, region: str = "us-east-1") -> SqsQueue:
        from aiobotocore.session import get_session

        stack = contextlib.AsyncExitStack()
        async with real_time_while():
            client = await stack.enter_async_context(
                get_session().create_client(
                    "sqs", endpoint_url=endpoint_url, region_name=region, **_MOTO_CREDENTIALS
                )
            )
            created = await client.create_queue(QueueName=name)
        return cls(name, client, str(created["QueueUrl"]), stack)

    async def send(self, count: int) -> None:
        async with real_time_while():
            while count > 0:
                batch = min(count, 10)
                entries = []
                for _ in range(batch):
                    self._serial += 1
                    entries.append({"Id": str(self._serial), "MessageBody": f"work {self._serial}"})
                await self._client.send_message_batch(QueueUrl=self.url, Entries=entries)
                count -= batch

    async def receive(self, max_count: int) -> int:
        taken = 0
        async with real_time_while():
            while taken < max_count:
                answer = await self._client.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=min(10, max_count - taken),
                    WaitTimeSeconds=0,
                )
                messages = answer.get("Messages") or []
                if not messages:
                    break
                await self._client.delete_message_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(messages)
                    ],
                )
                taken += len(messages)
        return taken

    async def depth(self) -> int:
        async with real_time_while():
            answer = await self._client.get_queue_attributes(
                QueueUrl=self.url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
        attributes: Mapping[str, str] = answer.get("Attributes") or {}
        return int(attributes.get("ApproximateNumberOfMessages", 0))

    async def close(self) -> None:
        await self._stack.aclose()


@dataclass
class QueueWiring:
    """One queue, its producers' rate (messages per second) and what is owed to them."""

    backend: QueueBackend
    production: Curve | None
    carry: float = 0.0
    depth: int = 0
    produced_total: int = 0
    consumed_total: int = 0
    consumer_carry: dict[Any, float] = field(default_factory=dict)


class QueueHub:
    """All queues of a world; one :meth:`tick` produces and consumes for an elapsed interval."""

    def __init__(self) -> None:
        self.queues: dict[str, QueueWiring] = {}

    def add(self, backend: QueueBackend, production: Curve | None) -> None:
        self.queues[backend.name] = QueueWiring(backend, production)

    async def produce(self, seconds: float, elapsed_seconds: float) -> None:
        for wiring in self.queues.values():
            if wiring.production is None:
                continue
            wiring.carry += max(0.0, wiring.production.demand_at(seconds)) * elapsed_seconds
            whole = int(wiring.carry)
            if whole:
                wiring.carry -= whole
                await wiring.backend.send(whole)
                wiring.produced_total += whole

    async def consume(self, queue: str, consumer: Any, capacity: float) -> int:
        """Let ``consumer`` take up to ``capacity`` messages (fractions carried over)."""
        wiring = self.queues.get(queue)
        if wiring is None:
            return 0
        owed = wiring.consumer_carry.get(consumer, 0.0) + capacity
        whole = int(owed)
        taken = await wiring.backend.receive(whole) if whole else 0
        # Unused capacity is not banked: an idle consumer cannot catch up later.
        wiring.consumer_carry[consumer] = owed - whole if taken == whole else 0.0
        wiring.consumed_total += taken
        return taken

    def refresh_depths(self) -> None:
        """What waits in each queue. Only the world sends and takes, so its own books are
        exact, and asking the server (40 ms a call on moto) every tick is not needed."""
        for wiring in self.queues.values():
            wiring.depth = max(0, wiring.produced_total - wiring.consumed_total)

    async def close(self) -> None:
        for wiring in self.queues.values():
            await wiring.backend.close()
