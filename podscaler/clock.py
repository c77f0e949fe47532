"""Where time comes from: the :class:`Clock` protocol and the clocks that implement it.

DESIGN.md's second principle: every loop takes its time from the event loop (``loop.time()``,
``asyncio.sleep``, ``asyncio.timeout``) or from an injected :class:`Clock`, and no module reads
the wall itself. This module is the one place that does. It sits at the bottom of the layers and
imports nothing of ours, so every shell (kube, controllers, the metrics API, the embedded
cluster, scalers) can take its ``now`` from here.

* :class:`LoopClock` is production's clock: ``monotonic()`` is the event loop's ``time()``, the
  clock asyncio's own timers run on, and ``now()`` is the wall as an aware UTC datetime.
* An event loop may carry a clock of its own as its ``clock`` attribute: the embedded cluster's
  simulated event loop (``podscaler.sim.clock``) does, and its ``now()`` is simulated time.
  :func:`clock_of` returns that clock when there is one, so code that asks the *running loop*
  for its clock gets simulated timestamps under a simulation and real ones in production,
  without knowing which.
* :func:`now` is the shortcut for defaults (``now: Callable[[], datetime] = clock.now``): the
  running loop's ``now()``, or the wall when no loop is running.
* :class:`WallClock` is real time whatever the loop says, for the few waits that are about the
  real world: a child process starting, a benchmark's duration.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "LoopClock", "WallClock", "clock_of", "now"]


@runtime_checkable
class Clock(Protocol):
    """Where time comes from. Inject it; never call ``time.time()`` or ``datetime.now()``."""

    def now(self) -> datetime:
        """The current time as a timezone-aware UTC datetime (timestamps, Events, status)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for intervals and deadlines; the same
        clock as the running event loop's ``time()``."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on this clock."""
        ...


class LoopClock:
    """The clock of an ordinary event loop: the loop's ``time()`` for intervals (asyncio's
    timers use it too), the wall for timestamps.

    Without a loop given, it follows whichever loop is running when asked.
    """

    __slots__ = ("_loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class WallClock:
    """Real time, whatever the running loop keeps: for waiting on things outside the process
    (a child server starting) and for measuring how long something really took."""

    __slots__ = ()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def clock_of(loop: asyncio.AbstractEventLoop | None = None) -> Clock:
    """The clock of ``loop`` (default: the running loop): the loop's own ``clock`` attribute
    when it carries one (a simulated loop), else a :class:`LoopClock` of it."""
    if loop is None:
        loop = asyncio.get_running_loop()
    own = getattr(loop, "clock", None)
    if isinstance(own, Clock):
        return own
    return LoopClock(loop)


def now() -> datetime:
    """The running loop's current time as an aware UTC datetime (simulated under a simulated
    loop); the wall when called outside any loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return datetime.now(UTC)
    own = getattr(loop, "clock", None)
    if own is not None:
        moment: datetime = own.now()
        return moment
    return datetime.now(UTC)
