"""Queues whose server may go away: the world keeps running, as real consumers keep retrying.

A real consumer whose broker or queue disappears logs an error and tries again; it does not take
the cluster down. The world's load model calls its queue backends directly, so an exception
there would stop the whole world. :class:`OutageTolerantQueue` wraps any
:class:`~podscaler.sim.world.queues.QueueBackend` so that, while the server is unreachable or
the queue is deleted, producers' messages are lost (counted in :attr:`dropped`), consumers take
nothing, and depth reads as the last known value. :meth:`replace` swaps in a reconnected
backend once the server is back (a broker that restarts empty needs a new topic and group).
"""

from __future__ import annotations

import logging

from podscaler.sim.world.queues import QueueBackend

__all__ = ["OutageTolerantQueue"]

log = logging.getLogger(__name__)


class OutageTolerantQueue:
    def __init__(self, backend: QueueBackend) -> None:
        self.name = backend.name
        self.backend = backend
        self.failures = 0
        self.dropped = 0
        self._depth = 0

    async def replace(self, backend: QueueBackend) -> None:
        """Use *backend* from now on; the old one is closed."""
        old, self.backend = self.backend, backend
        await old.close()

    def _failed(self, what: str, exc: Exception) -> None:
        self.failures += 1
        log.debug("queue %s: %s failed: %s", self.name, what, type(exc).__name__)

    async def send(self, count: int) -> None:
        try:
            await self.backend.send(count)
        except Exception as exc:
            self.dropped += count
            self._failed("send", exc)

    async def receive(self, max_count: int) -> int:
        try:
            return await self.backend.receive(max_count)
        except Exception as exc:
            self._failed("receive", exc)
            return 0

    async def depth(self) -> int:
        try:
            self._depth = await self.backend.depth()
        except Exception as exc:
            self._failed("depth", exc)
        return self._depth

    async def close(self) -> None:
        try:
            await self.backend.close()
        except Exception as exc:
            self._failed("close", exc)
