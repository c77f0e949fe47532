"""An event loop of its own, on a thread of its own, for accepting and speaking TLS.

2,000 concurrent TLS connections to the metrics API made the operator's scale loops run more
than 10 s late (issue 17 §6): handshakes, HTTP parsing and connection bookkeeping ran on the
loop that decides scaling. :class:`ServingThread` moves all of that to a second loop on a
daemon thread. OpenSSL releases the GIL while it computes a handshake, so handshakes proceed in
parallel with the scale loops on a second core, and a flood's Python work costs the deciding
loop at most its share of the GIL, never a queue of callbacks in front of every timer.

What needs the operator's state (authentication through TokenReview, authorization through
SubjectAccessReview, the metric itself) still runs on the operator's loop: :meth:`call` hands
one coroutine per request over and awaits its result, and cancelling the request (the client
went away) cancels it there too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["ServingThread"]

T = TypeVar("T")


class ServingThread:
    """A daemon thread running an event loop until :meth:`stop`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        #: The loop that started us: where :meth:`call` runs what it is given.
        self.home: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self.home = asyncio.get_running_loop()
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
                # Let what stopping scheduled run (closed transports release their sockets),
                # then end what is left.
                tasks = asyncio.all_tasks(loop)
                for task in tasks:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
                loop.run_until_complete(asyncio.sleep(0.01))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        await asyncio.to_thread(ready.wait)
        self.loop = loop

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work()`` on the serving loop (from the home loop) and return its result."""
        assert self.loop is not None

        async def wrapped() -> T:
            return await work()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wrapped(), self.loop))

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run *coroutine* on the home loop (from the serving loop) and return its result."""
        assert self.home is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.home))

    async def stop(self) -> None:
        """Stop the loop and wait for the thread (after the caller's cleanup ran on it)."""
        loop, thread = self.loop, self._thread
        self.loop, self._thread = None, None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, 5.0)
